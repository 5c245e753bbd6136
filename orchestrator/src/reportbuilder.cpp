#include "reportbuilder.h"

#include "sparky/envelope.h"

#include <QHash>
#include <QJsonArray>
#include <QMap>
#include <array>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

int rollupSeverity(QStringView status)
{
    if (status == u"success")
        return 0;
    if (status == u"pending")
        return 1;
    if (status == u"unknown")
        return 2;
    if (status == u"warning")
        return 3;
    if (status == u"cancelled")
        return 4;
    return 5; // failed, and anything unexpected
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

// The run kinds that feed a job's roll-up, and the final statuses, as they appear in the
// report query's columns (kind-major). Restores are operator actions: their failures are
// listed, but they say nothing about the job's health.
constexpr std::array kRollupKinds { "backup"_L1, "check"_L1, "drill"_L1 };
constexpr std::array kFinalStatuses { "success"_L1, "warning"_L1, "cancelled"_L1, "failed"_L1 };
constexpr int kJobColumns = 5; // node, job, repository, rpo_seconds, first_seen

// The newest finished run of one kind for one job, from the newest finish per status.
struct KindState
{
    QString lastStatus; // empty: none finished
    qint64 lastAt = 0; // finished_at of the last run
    qint64 lastGoodAt = 0; // newest success or warning
    qint64 lastFailedAt = 0;

    static KindState from(const std::array<qint64, kFinalStatuses.size()> &newest)
    {
        KindState k;
        for (size_t i = 0; i < kFinalStatuses.size(); ++i) {
            const qint64 at = newest[i];
            if (at <= 0)
                continue;
            const QString status = kFinalStatuses[i];
            // A tie goes to the worse status.
            if (at > k.lastAt
                || (at == k.lastAt && rollupSeverity(status) > rollupSeverity(k.lastStatus))) {
                k.lastAt = at;
                k.lastStatus = status;
            }
        }
        k.lastGoodAt = std::max(newest[0], newest[1]);
        k.lastFailedAt = newest[3];
        return k;
    }

    QJsonValue statusOrNull() const
    {
        return lastStatus.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(lastStatus);
    }
};

struct JobRow
{
    QString node;
    QString job;
    QString repository;
    qint64 rpoSeconds = 0;
    qint64 firstSeen = 0;
    KindState backup;
    KindState check;
    KindState drill;
};

// One statement for every job: its configuration and, per roll-up kind and final status,
// the newest finish. Each correlated MAX() is one seek on runs_by_outcome (node, job, kind,
// status, finished_at) on both engines, and the whole status picture is one round trip
// however large the fleet.
QString jobsQuery(bool oneNode)
{
    QString sql = u"SELECT j.node, j.job, j.repository, j.rpo_seconds, j.first_seen"_s;
    for (const QLatin1StringView kind : kRollupKinds)
        for (const QLatin1StringView status : kFinalStatuses)
            sql += u", (SELECT MAX(r.finished_at) FROM runs r WHERE r.node = j.node"
                   " AND r.job = j.job AND r.kind = '%1' AND r.status = '%2')"_s.arg(kind, status);
    sql += u" FROM jobs j WHERE j.active = 1"_s;
    if (oneNode)
        sql += u" AND j.node = ?"_s;
    return sql + u" ORDER BY j.node, j.job"_s;
}

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
        auto q = m_db.exec(jobsQuery(!opt.node.isEmpty()), nodeValue);
        if (!q)
            return q.error().wrapped(u"report: jobs"_s);
        while (q->next()) {
            JobRow j { q->value(0).toString(), q->value(1).toString(), q->value(2).toString(),
                q->value(3).toLongLong(), q->value(4).toLongLong(), {}, {}, {} };
            KindState *states[] = { &j.backup, &j.check, &j.drill }; // kRollupKinds' order
            static_assert(sizeof(states) / sizeof(states[0]) == kRollupKinds.size());
            int column = kJobColumns;
            for (KindState *state : states) {
                std::array<qint64, kFinalStatuses.size()> newest {};
                for (qint64 &at : newest) {
                    const QVariant v = q->value(column++);
                    at = v.isNull() ? 0 : v.toLongLong();
                }
                *state = KindState::from(newest);
            }
            jobs.append(j);
        }
    }

    QJsonArray breaches;
    int jobsOk = 0;
    int jobsDrillFailed = 0;
    QString fleetStatus = u"success"_s;
    for (const JobRow &j : std::as_const(jobs)) {
        const qint64 lastSuccess = j.backup.lastGoodAt;
        // Failed backups since the last good one; only a job whose newest failure is newer
        // than its last good backup has any, so healthy jobs cost no query.
        qint64 failuresSince = 0;
        if (j.backup.lastFailedAt > lastSuccess) {
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
        // The RPO clock runs from the last good backup or, before the first one, from when the
        // orchestrator first saw the job: a new job is "pending", not breached, for one RPO.
        const qint64 dueAt = j.rpoSeconds > 0
            ? (lastSuccess > 0 ? lastSuccess : j.firstSeen) + j.rpoSeconds * 1000
            : 0;
        const bool breached = j.rpoSeconds > 0 && now > dueAt;
        QString status = j.backup.lastStatus;
        if (status.isEmpty())
            status = j.rpoSeconds > 0 ? u"pending"_s : u"unknown"_s;
        if (breached)
            status = u"failed"_s;
        // The last check and the last drill count as they ended: a repository that fails
        // `borg check` or a backup that does not restore is as bad as a failed backup.
        if (!j.check.lastStatus.isEmpty())
            status = worstStatus(status, j.check.lastStatus);
        if (!j.drill.lastStatus.isEmpty())
            status = worstStatus(status, j.drill.lastStatus);
        if (status == u"success" || status == u"warning")
            ++jobsOk;
        if (j.drill.lastStatus == u"failed")
            ++jobsDrillFailed;
        QJsonObject row { { u"job"_s, j.job },
            { u"repository"_s,
                j.repository.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(j.repository) },
            { u"status"_s, status }, { u"last_status"_s, j.backup.statusOrNull() },
            { u"last_run_at"_s, timeOrNull(j.backup.lastAt) },
            { u"last_success_at"_s, timeOrNull(lastSuccess) }, { u"age_seconds"_s, age },
            { u"rpo_seconds"_s, j.rpoSeconds }, { u"rpo_breached"_s, breached },
            { u"rpo_due_at"_s, timeOrNull(dueAt) }, { u"first_seen_at"_s, timeOrNull(j.firstSeen) },
            { u"failures_since_success"_s, failuresSince },
            { u"last_check_status"_s, j.check.statusOrNull() },
            { u"last_check_at"_s, timeOrNull(j.check.lastAt) },
            { u"last_drill_status"_s, j.drill.statusOrNull() },
            { u"last_drill_at"_s, timeOrNull(j.drill.lastAt) },
            { u"last_drill_success_at"_s, timeOrNull(j.drill.lastGoodAt) } };
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
        // A node without jobs (a repository host, a node being set up) backs nothing up: it
        // says "unknown" for itself but does not colour the fleet. Its silence shows in
        // nodes_online and the node-silent alert.
        if (!it->jobs.isEmpty())
            fleetStatus = worstStatus(fleetStatus, status);
        nodeList.append(QJsonObject { { u"node"_s, it.key() }, { u"online"_s, isOnline },
            { u"last_seen"_s, timeOrNull(it->lastSeen) },
            { u"version"_s,
                it->version.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(it->version) },
            { u"status"_s, status }, { u"jobs"_s, it->jobs } });
    }
    if (jobs.isEmpty())
        fleetStatus = u"unknown"_s; // nothing to judge (no nodes, or none with jobs)

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
                { u"jobs_ok"_s, jobsOk }, { u"jobs_drill_failed"_s, jobsDrillFailed },
                { u"rpo_breaches"_s, qint64(breaches.size()) },
                { u"failures"_s, qint64(failures.size()) }, { u"rejected_messages"_s, rejected },
                { u"dead_letters"_s, deadLetters } } },
        { u"nodes"_s, nodeList },
        { u"failures"_s, failures },
        { u"rpo_breaches"_s, breaches },
        { u"trends"_s, trends },
    };
}

} // namespace sparky::orchestrator
