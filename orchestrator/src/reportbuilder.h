#pragma once

// The fleet report (docs/report.schema.json): status at a glance per node and job, failures
// in a window, RPO breaches, size and duration trends, ingest health.
//
// Status roll-up: every job has a status, the worst wins for its node and for the fleet:
//   success < unknown < warning < cancelled < failed
// A job's status is its last finished backup's status, made "failed" when its RPO is
// breached (no good archive — success or warning — within rpo_seconds); a job that never
// finished a backup is "unknown" (or "failed" when it has an RPO). Only active jobs (those
// the node's last hello lists, or that ran without one) count.
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

// Severity for roll-ups, including "unknown" (see above). Larger is worse.
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
