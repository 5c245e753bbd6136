#include "fleetmodel.h"

#include "displayformat.h"
#include "modelroles.h"
#include "statusstyle.h"

#include <QColor>
#include <QFont>
#include <QJsonArray>
#include <limits>

namespace sparky::admin {

using namespace Qt::StringLiterals;

FleetModel::FleetModel(RpcInvoker *invoker, QObject *parent)
    : QAbstractTableModel(parent)
    , m_invoker(invoker)
{ }

FleetModel::~FleetModel() = default;

int FleetModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int FleetModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

void FleetModel::refresh()
{
    if (!m_invoker || m_loading)
        return;
    m_loading = true;
    m_invoker->invoke(
        u"fleet.summary"_s, {}, this,
        [this](const RpcReply &r) {
            m_loading = false;
            if (!r.ok) {
                Q_EMIT errorOccurred(r.describe());
                return;
            }
            setSummary(r.result);
        },
        std::chrono::seconds(20));
}

void FleetModel::setSummary(const QJsonObject &summary)
{
    QList<Row> rows;
    for (const QJsonValue &nv : summary.value("nodes"_L1).toArray()) {
        const QJsonObject n = nv.toObject();
        Row base;
        base.node = n.value("node"_L1).toString();
        base.online = n.value("online"_L1).toBool();
        base.lastSeen = n.value("last_seen"_L1).toString();
        base.nodeStatus = n.value("status"_L1).toString();
        const QJsonArray jobs = n.value("jobs"_L1).toArray();
        if (jobs.isEmpty()) {
            rows.append(base);
            continue;
        }
        for (const QJsonValue &jv : jobs) {
            Row r = base;
            r.job = jv.toObject();
            rows.append(r);
        }
    }
    bool sameKeys = rows.size() == m_rows.size();
    for (qsizetype i = 0; sameKeys && i < rows.size(); ++i)
        sameKeys = rows.at(i).node == m_rows.at(i).node
            && rows.at(i).job.value("job"_L1) == m_rows.at(i).job.value("job"_L1);
    m_summary = summary;
    if (sameKeys) {
        m_rows = rows;
        if (!m_rows.isEmpty())
            Q_EMIT dataChanged(index(0, 0), index(int(m_rows.size()) - 1, ColumnCount - 1));
    } else {
        beginResetModel();
        m_rows = rows;
        endResetModel();
    }
    Q_EMIT refreshed();
}

QString FleetModel::fleetStatus() const
{
    return m_summary.value("fleet"_L1).toObject().value("status"_L1).toString();
}

QString FleetModel::summaryText() const
{
    if (m_summary.isEmpty())
        return u"No fleet data yet"_s;
    const QJsonObject f = m_summary.value("fleet"_L1).toObject();
    auto n = [&](const char *key) { return f.value(QLatin1StringView(key)).toInteger(); };
    QString text = u"Fleet %1 — %2 node(s) (%3 online), %4 of %5 job(s) ok"_s
                       .arg(StatusStyle::label(f.value("status"_L1).toString()))
                       .arg(n("nodes"))
                       .arg(n("nodes_online"))
                       .arg(n("jobs_ok"))
                       .arg(n("jobs"));
    text += u", %1 RPO breach(es), %2 failure(s)"_s.arg(n("rpo_breaches")).arg(n("failures"));
    if (n("jobs_drill_failed") > 0)
        text += u", %1 failed drill(s)"_s.arg(n("jobs_drill_failed"));
    const QString at = m_summary.value("generated_at"_L1).toString();
    if (!at.isEmpty())
        text += u" · as of %1 UTC"_s.arg(DisplayFormat::time(QJsonValue(at)));
    return text;
}

QStringList FleetModel::nodes() const
{
    QStringList out;
    for (const Row &r : m_rows)
        if (!out.contains(r.node))
            out.append(r.node);
    out.sort();
    return out;
}

QStringList FleetModel::jobs(const QString &node) const
{
    QStringList out;
    for (const Row &r : m_rows) {
        const QString job = r.job.value("job"_L1).toString();
        if (r.node == node && !job.isEmpty() && !out.contains(job))
            out.append(job);
    }
    out.sort();
    return out;
}

int FleetModel::rowOf(const QString &node, const QString &job) const
{
    for (qsizetype i = 0; i < m_rows.size(); ++i)
        if (m_rows.at(i).node == node && m_rows.at(i).job.value("job"_L1).toString() == job)
            return int(i);
    return -1;
}

QString FleetModel::rowStatus(const Row &r) const
{
    return r.job.isEmpty() ? r.nodeStatus : r.job.value("status"_L1).toString();
}

QString FleetModel::columnStatus(const Row &r, int column) const
{
    switch (column) {
    case StatusColumn:
        return rowStatus(r);
    case LastDrillColumn:
        return r.job.value("last_drill_status"_L1).toString(); // null: none finished
    case LastCheckColumn:
        return r.job.value("last_check_status"_L1).toString();
    }
    return {};
}

QString FleetModel::toolTip(const Row &r, int column) const
{
    const QJsonObject &j = r.job;
    const bool pending = rowStatus(r) == u"pending";
    switch (column) {
    case StatusColumn:
    case LastSuccessColumn:
        if (column == LastSuccessColumn && j.value("rpo_breached"_L1).toBool())
            return u"RPO breached: the last good backup is %1 old, the RPO is %2"_s.arg(
                j.value("last_success_at"_L1).isString()
                    ? DisplayFormat::age(j.value("age_seconds"_L1).toInteger())
                    : u"missing (never)"_s,
                DisplayFormat::age(j.value("rpo_seconds"_L1).toInteger()));
        if (pending)
            return j.value("rpo_due_at"_L1).isString()
                ? u"new job: first backup due by %1 UTC"_s.arg(
                      DisplayFormat::time(j.value("rpo_due_at"_L1)))
                : u"new job: no backup yet"_s;
        return {};
    case LastDrillColumn: {
        if (j.isEmpty())
            return {};
        const QString status = columnStatus(r, column);
        if (status.isEmpty())
            return u"Last restore drill: never"_s;
        const QJsonValue good = j.value("last_drill_success_at"_L1);
        return u"Last restore drill: %1, finished %2 UTC\nLast good drill: %3"_s.arg(
            StatusStyle::label(status), DisplayFormat::time(j.value("last_drill_at"_L1)),
            good.isString() ? QString(DisplayFormat::time(good) + u" UTC"_s) : u"never"_s);
    }
    case LastCheckColumn: {
        if (j.isEmpty())
            return {};
        const QString status = columnStatus(r, column);
        if (status.isEmpty())
            return u"Last borg check: never"_s;
        return u"Last borg check: %1, finished %2 UTC"_s.arg(
            StatusStyle::label(status), DisplayFormat::time(j.value("last_check_at"_L1)));
    }
    case OnlineColumn:
        return u"last seen %1 UTC"_s.arg(DisplayFormat::time(QJsonValue(r.lastSeen)));
    }
    return {};
}

QVariant FleetModel::display(const Row &r, int column) const
{
    const QJsonObject &j = r.job;
    switch (column) {
    case NodeColumn:
        return r.node;
    case JobColumn:
        return j.isEmpty() ? u"(no jobs)"_s : j.value("job"_L1).toString();
    case StatusColumn:
        return StatusStyle::label(rowStatus(r));
    case LastSuccessColumn:
        if (j.isEmpty())
            return QString();
        if (j.value("last_success_at"_L1).isNull() || !j.contains("last_success_at"_L1))
            return u"never"_s;
        return QString(DisplayFormat::age(j.value("age_seconds"_L1).toInteger()) + u" ago"_s);
    case RpoColumn:
        return j.value("rpo_seconds"_L1).toInteger() > 0
            ? DisplayFormat::age(j.value("rpo_seconds"_L1).toInteger())
            : QString();
    case FailuresColumn:
        return j.isEmpty() ? QVariant() : QVariant(j.value("failures_since_success"_L1).toInt());
    case LastRunColumn:
        return j.isEmpty() ? QString() : DisplayFormat::time(j.value("last_run_at"_L1));
    case LastDrillColumn:
    case LastCheckColumn:
        if (j.isEmpty())
            return QString();
        if (const QString status = columnStatus(r, column); !status.isEmpty())
            return StatusStyle::label(status);
        return u"never"_s;
    case OnlineColumn:
        return r.online ? u"online"_s : u"offline"_s;
    case RepositoryColumn:
        return j.value("repository"_L1).toString();
    }
    return {};
}

QVariant FleetModel::raw(const Row &r, int column) const
{
    const QJsonObject &j = r.job;
    switch (column) {
    case NodeColumn:
        return r.node;
    case JobColumn:
        return j.value("job"_L1).toString();
    case StatusColumn:
        return StatusStyle::severity(rowStatus(r));
    case LastSuccessColumn:
        if (j.isEmpty() || !j.value("last_success_at"_L1).isString())
            return std::numeric_limits<qlonglong>::max(); // never: the stalest
        return qlonglong(j.value("age_seconds"_L1).toInteger());
    case RpoColumn:
        return qlonglong(j.value("rpo_seconds"_L1).toInteger());
    case FailuresColumn:
        return j.value("failures_since_success"_L1).toInt();
    case LastRunColumn:
        return qlonglong(DisplayFormat::epochMs(j.value("last_run_at"_L1)));
    case LastDrillColumn:
    case LastCheckColumn:
        return StatusStyle::severity(columnStatus(r, column)); // never: -1, below success
    case OnlineColumn:
        return r.online ? 1 : 0;
    case RepositoryColumn:
        return j.value("repository"_L1).toString();
    }
    return {};
}

QVariant FleetModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row &r = m_rows.at(index.row());
    const bool stale = r.job.value("rpo_breached"_L1).toBool();
    switch (role) {
    case Qt::DisplayRole:
        return display(r, index.column());
    case RawValueRole:
        return raw(r, index.column());
    case SeverityRole:
        return StatusStyle::severity(rowStatus(r));
    case RowObjectRole: {
        QJsonObject o = r.job;
        o.insert(u"node"_s, r.node);
        o.insert(u"online"_s, r.online);
        return o;
    }
    case Qt::BackgroundRole:
        if (index.column() == StatusColumn)
            return StatusStyle::background(rowStatus(r));
        if (index.column() == LastSuccessColumn && stale)
            return StatusStyle::staleBackground();
        if (const QString status = columnStatus(r, index.column()); !status.isEmpty())
            return StatusStyle::background(status); // last drill, last check
        return {};
    case Qt::ForegroundRole:
        if (index.column() == StatusColumn)
            return StatusStyle::foreground(rowStatus(r));
        if (const QString status = columnStatus(r, index.column()); !status.isEmpty())
            return StatusStyle::foreground(status);
        if (!r.online && (index.column() == NodeColumn || index.column() == OnlineColumn))
            return StatusStyle::offlineForeground();
        return {};
    case Qt::FontRole:
        if (index.column() == LastSuccessColumn && stale) {
            QFont f;
            f.setBold(true);
            return f;
        }
        return {};
    case Qt::ToolTipRole:
        if (const QString tip = toolTip(r, index.column()); !tip.isEmpty())
            return tip;
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() == FailuresColumn)
            return int(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    }
    return {};
}

QVariant FleetModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case NodeColumn:
        return u"Node"_s;
    case JobColumn:
        return u"Job"_s;
    case StatusColumn:
        return u"Status"_s;
    case LastSuccessColumn:
        return u"Last success"_s;
    case RpoColumn:
        return u"RPO"_s;
    case FailuresColumn:
        return u"Failures since"_s;
    case LastRunColumn:
        return u"Last run (UTC)"_s;
    case LastDrillColumn:
        return u"Last drill"_s;
    case LastCheckColumn:
        return u"Last check"_s;
    case OnlineColumn:
        return u"Node state"_s;
    case RepositoryColumn:
        return u"Repository"_s;
    }
    return {};
}

} // namespace sparky::admin
