#pragma once

// The fleet report (docs/report.schema.json): status at a glance per node and job, failures
// in a window, RPO breaches, size and duration trends, ingest health.
//
// Status roll-up: every job has a status, the worst wins for its node and for the fleet:
//   success < pending < unknown < warning < cancelled < failed
// A job's status is the worst of:
//   - its backups: the last finished backup's status, made "failed" when the RPO is breached
//     (no good archive — success or warning — within rpo_seconds). Until its first good
//     archive the RPO clock runs from when the orchestrator first saw the job
//     (jobs.first_seen): a new job is not breached before one RPO has passed. A job with
//     no finished backup yet is "pending" (it has an RPO, not yet breached) or "unknown"
//     (no RPO);
//   - its last `borg check` run's status, if it ever had one;
//   - its last restore drill's status, if it ever had one (a failed drill makes the job
//     "failed": a backup that does not restore is no backup).
// Only active jobs (those the node's last hello lists, or that ran without one) count.
// docs/orchestrator.md ("Reports") is the operator's version of these rules.
//
// Threading: lives on the thread of its Database.

#include "database.h"

#include <QDateTime>
#include <QJsonObject>
#include <QString>
#include <chrono>

namespace sparky::orchestrator {

inline constexpr QLatin1StringView kReportSchemaId { "https://sparky.example/report.schema.json" };
inline constexpr QLatin1StringView kReportFormat { "sparky.report/1" };

struct ReportOptions
{
    QDateTime now = QDateTime::currentDateTimeUtc();
    std::chrono::seconds window { 7 * 24 * 3600 }; // failures and trends: [now - window, now]
    std::chrono::seconds offlineAfter { 300 }; // a node silent this long is offline
    QString node; // only this node (empty: all)
    bool trends = true;
    int maxFailures = 1000;
};

// Severity for roll-ups, including "pending" and "unknown" (see above). Larger is worse.
int rollupSeverity(QStringView status);
QString worstStatus(const QString &a, const QString &b);

class ReportBuilder final
{
public:
    explicit ReportBuilder(Database &database);

    Expected<QJsonObject> build(const ReportOptions &options);

private:
    Database &m_db;
};

} // namespace sparky::orchestrator
