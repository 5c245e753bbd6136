#include "runseriesmodel.h"

#include "displayformat.h"
#include "modelroles.h"
#include "sparky/envelope.h"
#include "statusstyle.h"

#include <QJsonArray>

namespace sparky::admin {

using namespace Qt::StringLiterals;

RunSeriesModel::RunSeriesModel(RpcInvoker *invoker, QObject *parent)
    : QAbstractTableModel(parent)
    , m_invoker(invoker)
{ }

RunSeriesModel::~RunSeriesModel() = default;

int RunSeriesModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_points.size());
}

int RunSeriesModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

void RunSeriesModel::clear()
{
    ++m_generation;
    m_loading = false;
    beginResetModel();
    m_points.clear();
    endResetModel();
}

void RunSeriesModel::load(const QString &node, const QString &job, const QDateTime &since)
{
    clear();
    m_node = node;
    m_job = job;
    m_since = since;
    if (!m_invoker || node.isEmpty() || job.isEmpty())
        return;
    m_loading = true;
    loadPage({}, m_generation);
}

void RunSeriesModel::loadPage(const QString &cursor, quint64 generation)
{
    QJsonObject params { { u"node"_s, m_node }, { u"job"_s, m_job }, { u"kind"_s, u"backup"_s },
        { u"order"_s, u"asc"_s }, { u"limit"_s, 500 } };
    if (m_since.isValid())
        params.insert(u"since"_s, formatTimestamp(m_since.toUTC()));
    if (!cursor.isEmpty())
        params.insert(u"cursor"_s, cursor);
    m_invoker->invoke(u"runs.query"_s, params, this, [this, generation](const RpcReply &r) {
        if (generation != m_generation)
            return;
        if (!r.ok) {
            m_loading = false;
            Q_EMIT errorOccurred(r.describe());
            Q_EMIT loaded();
            return;
        }
        appendRuns(r.result.value("runs"_L1).toArray());
        const QString next = r.result.value("next_cursor"_L1).toString();
        if (!next.isEmpty() && m_points.size() < m_maxPoints) {
            loadPage(next, generation);
            return;
        }
        m_loading = false;
        Q_EMIT loaded();
    });
}

void RunSeriesModel::appendRuns(const QJsonArray &runs)
{
    QList<Point> add;
    for (const QJsonValue &v : runs) {
        const QJsonObject r = v.toObject();
        const QString status = r.value("status"_L1).toString();
        if (status != u"success" && status != u"warning")
            continue; // only good backups made an archive
        Point p;
        p.finishedMs = DisplayFormat::epochMs(r.value("finished_at"_L1));
        if (p.finishedMs < 0)
            continue;
        p.original = r.value("original_size"_L1).toInteger();
        p.deduplicated = r.value("deduplicated_size"_L1).toInteger();
        p.duration = r.value("duration_seconds"_L1).toDouble();
        p.status = status;
        add.append(p);
    }
    const qsizetype room = qMax<qsizetype>(0, m_maxPoints - m_points.size());
    if (add.size() > room)
        add.resize(room);
    if (add.isEmpty())
        return;
    beginInsertRows({}, int(m_points.size()), int(m_points.size() + add.size()) - 1);
    m_points += add;
    endInsertRows();
}

QVariant RunSeriesModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Point &p = m_points.at(index.row());
    if (role == RawValueRole) {
        switch (index.column()) {
        case FinishedColumn:
            return qlonglong(p.finishedMs);
        case OriginalSizeColumn:
            return qlonglong(p.original);
        case DeduplicatedSizeColumn:
            return qlonglong(p.deduplicated);
        case DurationColumn:
            return p.duration;
        case StatusColumn:
            return StatusStyle::severity(p.status);
        }
        return {};
    }
    if (role == SeverityRole)
        return StatusStyle::severity(p.status);
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case FinishedColumn:
        return DisplayFormat::time(QDateTime::fromMSecsSinceEpoch(p.finishedMs, Qt::UTC));
    case OriginalSizeColumn:
        return DisplayFormat::bytes(p.original);
    case DeduplicatedSizeColumn:
        return DisplayFormat::bytes(p.deduplicated);
    case DurationColumn:
        return DisplayFormat::duration(p.duration);
    case StatusColumn:
        return StatusStyle::label(p.status);
    }
    return {};
}

QVariant RunSeriesModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char *const names[]
        = { "Finished (UTC)", "Original size", "Deduplicated", "Duration", "Status" };
    return section >= 0 && section < ColumnCount ? QString::fromLatin1(names[section]) : QVariant();
}

} // namespace sparky::admin
