#include "reportbuilder.h"

#include "sparky/envelope.h"

#include <QHash>
#include <QJsonArray>
#include <QMap>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

int rollupSeverity(QStringView status)
{
    if (status == u"success")
        return 0;
    if (status == u"unknown")
        return 1;
    if (status == u"warning")
        return 2;
    if (status == u"cancelled")
        return 3;
    return 4; // failed, and anything unexpected
}

QString worstStatus(const QString &a, const QString &b)
{
    return rollupSeverity(a) >= rollupSeverity(b) ? a : b;
}

namespace {

QJsonValue timeOrNull(qint64 ms)
{
    if (ms <= 0)
        return QJsonValue::Null;
    return formatTimestamp(QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC));
}

QJsonValue textOrNull(const QVariant &v)
{
    return v.isNull() ? QJsonValue(QJsonValue::Null) : QJsonValue(v.toString());
}

struct JobRow
{
    QString node;
    QString job;
    QString repository;
    qint64 rpoSeconds = 0;
};

} // namespace

ReportBuilder::ReportBuilder(Database &database)
    : m_db(database)
{ }

Expected<QJsonObject> ReportBuilder::build(const ReportOptions &opt)
{
    const qint64 now = opt.now.toMSecsSinceEpoch();
    const qint64 since = now - qint64(opt.window.count()) * 1000;
    const qint64 offlineBefore = now - qint64(opt.offlineAfter.count()) * 1000;
    const QString nodeFilter = opt.node.isEmpty() ? QString() : u" WHERE node = ?"_s;
    const QVariantList nodeValue = opt.node.isEmpty() ? QVariantList() : QVariantList { opt.node };

    // ---- nodes ----
    struct NodeInfo
    {
        QString version;
        qint64 lastSeen = 0;
        QJsonArray jobs;
        QString status = u"success"_s;
    };
    QMap<QString, NodeInfo> nodes;
    {
        auto q = m_db.exec(u"SELECT node, version, last_seen FROM nodes"_s + nodeFilter, nodeValue);
        if (!q)
            return q.error().wrapped(u"report: nodes"_s);
        while (q->next()) {
            NodeInfo &n = nodes[q->value(0).toString()];
            n.version = q->value(1).toString();
            n.lastSeen = q->value(2).toLongLong();
        }
    }

    // ---- jobs: status at a glance ----
    QList<JobRow> jobs;
    {
        auto q = m_db.exec(u"SELECT node, job, repository, rpo_seconds FROM jobs WHERE active = 1"_s
                + (opt.node.isEmpty() ? QString() : u" AND node = ?"_s) + u" ORDER BY node, job"_s,
            nodeValue);
        if (!q)
            return q.error().wrapped(u"report: jobs"_s);
        while (q->next())
            jobs.append(JobRow { q->value(0).toString(), q->value(1).toString(),
                q->value(2).toString(), q->value(3).toLongLong() });
    }

    static const QStringList kFinal { u"success"_s, u"warning"_s, u"cancelled"_s, u"failed"_s };
    QJsonArray breaches;
    int jobsOk = 0;
    QString fleetStatus = u"success"_s;
    for (const JobRow &j : std::as_const(jobs)) {
        // One index seek per final status: the newest finish of each.
        QHash<QString, qint64> newest;
        for (const QString &status : kFinal) {
            auto q = m_db.run(
                u"SELECT MAX(finished_at) FROM runs WHERE node = ? AND job = ? AND kind = 'backup'"
                " AND status = ?"_s,
                { j.node, j.job, status });
            if (!q)
                return q.error().wrapped(u"report: last runs"_s);
            if ((*q)->next() && !(*q)->value(0).isNull())
                newest.insert(status, (*q)->value(0).toLongLong());
            (*q)->finish();
        }
        QString lastStatus;
        qint64 lastRunAt = 0;
        for (auto it = newest.constBegin(); it != newest.constEnd(); ++it) {
            if (it.value() > lastRunAt
                || (it.value() == lastRunAt
                    && rollupSeverity(it.key()) > rollupSeverity(lastStatus))) {
                lastRunAt = it.value();
                lastStatus = it.key();
            }
        }
        const qint64 lastSuccess = std::max(newest.value(u"success"_s), newest.value(u"warning"_s));
        qint64 failuresSince = 0;
        {
            auto q = m_db.run(
                u"SELECT COUNT(*) FROM runs WHERE node = ? AND job = ? AND kind = 'backup'"
                " AND status = 'failed' AND finished_at > ?"_s,
                { j.node, j.job, lastSuccess });
            if (!q)
                return q.error().wrapped(u"report: failures since success"_s);
            if ((*q)->next())
                failuresSince = (*q)->value(0).toLongLong();
            (*q)->finish();
        }
        const QJsonValue age = lastSuccess > 0
            ? QJsonValue(std::max<qint64>(0, (now - lastSuccess) / 1000))
            : QJsonValue(QJsonValue::Null);
        const bool breached
            = j.rpoSeconds > 0 && (lastSuccess == 0 || now - lastSuccess > j.rpoSeconds * 1000);
        QString status = lastStatus.isEmpty() ? u"unknown"_s : lastStatus;
        if (breached)
            status = u"failed"_s;
        if (status == u"success" || status == u"warning")
            ++jobsOk;
        QJsonObject row { { u"job"_s, j.job },
            { u"repository"_s,
                j.repository.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(j.repository) },
            { u"status"_s, status },
            { u"last_status"_s,
                lastStatus.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(lastStatus) },
            { u"last_run_at"_s, timeOrNull(lastRunAt) },
            { u"last_success_at"_s, timeOrNull(lastSuccess) }, { u"age_seconds"_s, age },
            { u"rpo_seconds"_s, j.rpoSeconds }, { u"rpo_breached"_s, breached },
            { u"failures_since_success"_s, failuresSince } };
        NodeInfo &n = nodes[j.node];
        n.jobs.append(row);
        n.status = worstStatus(n.status, status);
        if (breached)
            breaches.append(QJsonObject { { u"node"_s, j.node }, { u"job"_s, j.job },
                { u"rpo_seconds"_s, j.rpoSeconds },
                { u"last_success_at"_s, timeOrNull(lastSuccess) }, { u"age_seconds"_s, age } });
    }

    QJsonArray nodeList;
    int online = 0;
    for (auto it = nodes.constBegin(); it != nodes.constEnd(); ++it) {
        const bool isOnline = it->lastSeen >= offlineBefore;
        online += isOnline ? 1 : 0;
        const QString status = it->jobs.isEmpty() ? u"unknown"_s : it->status;
        fleetStatus = worstStatus(fleetStatus, status);
        nodeList.append(QJsonObject { { u"node"_s, it.key() }, { u"online"_s, isOnline },
            { u"last_seen"_s, timeOrNull(it->lastSeen) },
            { u"version"_s,
                it->version.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(it->version) },
            { u"status"_s, status }, { u"jobs"_s, it->jobs } });
    }
    if (nodes.isEmpty())
        fleetStatus = u"unknown"_s;

    // ---- failures in the window (every kind) ----
    QJsonArray failures;
    {
        auto q
            = m_db.exec(u"SELECT node, job, run_id, kind, finished_at, failed_step, error FROM runs"
                        " WHERE finished_at >= ? AND finished_at <= ? AND status = 'failed'"_s
                    + (opt.node.isEmpty() ? QString() : u" AND node = ?"_s)
                    + u" ORDER BY finished_at DESC, id DESC LIMIT ?"_s,
                QVariantList { since, now } + nodeValue + QVariantList { opt.maxFailures });
        if (!q)
            return q.error().wrapped(u"report: failures"_s);
        while (q->next())
            failures.append(QJsonObject { { u"node"_s, q->value(0).toString() },
                { u"job"_s, q->value(1).toString() }, { u"run_id"_s, q->value(2).toString() },
                { u"kind"_s, q->value(3).toString() },
                { u"finished_at"_s, timeOrNull(q->value(4).toLongLong()) },
                { u"failed_step"_s, textOrNull(q->value(5)) },
                { u"error"_s,
                    q->value(6).isNull() ? QJsonValue(QJsonValue::Null)
                                         : QJsonValue(q->value(6).toString().left(1024)) } });
    }

    // ---- trends: good backups per node, job and UTC day ----
    QJsonArray trends;
    if (opt.trends) {
        auto q = m_db.exec(
            u"SELECT node, job, finished_at / 86400000 AS day, COUNT(*),"
            " CAST(MAX(original_size) AS BIGINT), CAST(SUM(deduplicated_size) AS BIGINT),"
            " CAST(AVG(duration_ms) AS DOUBLE PRECISION), CAST(MAX(duration_ms) AS BIGINT)"
            " FROM runs WHERE finished_at >= ? AND finished_at <= ? AND kind = 'backup'"
            " AND status IN ('success', 'warning')"_s
                + (opt.node.isEmpty() ? QString() : u" AND node = ?"_s)
                + u" GROUP BY node, job, finished_at / 86400000 ORDER BY node, job, day"_s,
            QVariantList { since, now } + nodeValue);
        if (!q)
            return q.error().wrapped(u"report: trends"_s);
        QString currentKey;
        QJsonObject current;
        QJsonArray points;
        auto close = [&] {
            if (!currentKey.isEmpty()) {
                current.insert(u"points"_s, points);
                trends.append(current);
            }
        };
        while (q->next()) {
            const QString key = q->value(0).toString() + u'\n' + q->value(1).toString();
            if (key != currentKey) {
                close();
                currentKey = key;
                current = QJsonObject { { u"node"_s, q->value(0).toString() },
                    { u"job"_s, q->value(1).toString() } };
                points = QJsonArray();
            }
            const QDate day
                = QDateTime::fromMSecsSinceEpoch(q->value(2).toLongLong() * 86400000, Qt::UTC)
                      .date();
            points.append(QJsonObject { { u"day"_s, day.toString(Qt::ISODate) },
                { u"runs"_s, q->value(3).toLongLong() },
                { u"original_size"_s, q->value(4).toLongLong() },
                { u"deduplicated_size"_s, q->value(5).toLongLong() },
                { u"duration_seconds_avg"_s, q->value(6).toDouble() / 1000.0 },
                { u"duration_seconds_max"_s, q->value(7).toLongLong() / 1000.0 } });
        }
        close();
    }

    // ---- ingest health in the window ----
    qint64 rejected = 0;
    qint64 deadLetters = 0;
    {
        auto q = m_db.exec(u"SELECT COUNT(*) FROM rejected_messages WHERE ts >= ?"_s, { since });
        if (!q)
            return q.error();
        if (q->next())
            rejected = q->value(0).toLongLong();
        auto d = m_db.exec(u"SELECT COUNT(*) FROM dead_letters WHERE ts >= ?"_s, { since });
        if (!d)
            return d.error();
        if (d->next())
            deadLetters = d->value(0).toLongLong();
    }

    return QJsonObject {
        { u"$schema"_s, QString(kReportSchemaId) },
        { u"format"_s, QString(kReportFormat) },
        { u"generated_at"_s, formatTimestamp(opt.now) },
        { u"window"_s,
            QJsonObject {
                { u"since"_s, timeOrNull(since) }, { u"until"_s, formatTimestamp(opt.now) } } },
        { u"fleet"_s,
            QJsonObject { { u"status"_s, fleetStatus }, { u"nodes"_s, qint64(nodes.size()) },
                { u"nodes_online"_s, online }, { u"jobs"_s, qint64(jobs.size()) },
                { u"jobs_ok"_s, jobsOk }, { u"rpo_breaches"_s, qint64(breaches.size()) },
                { u"failures"_s, qint64(failures.size()) }, { u"rejected_messages"_s, rejected },
                { u"dead_letters"_s, deadLetters } } },
        { u"nodes"_s, nodeList },
        { u"failures"_s, failures },
        { u"rpo_breaches"_s, breaches },
        { u"trends"_s, trends },
    };
}

} // namespace sparky::orchestrator
