#pragma once

// What `sparky-agent status` prints: read from the state database only (read-only, so it
// works while the daemon runs): whether the daemon runs, its config digest, the broker
// connection as last recorded, the outbox, the last runs and the next scheduled runs of
// every job, and what is running now.

#include "sparky/error.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

namespace sparky::agent {

class StatusReport final
{
public:
    struct JobLine
    {
        QString job;
        QString kind;            // backup | check
        QString repository;
        QString lastRunId;
        QString lastStatus;      // success | warning | cancelled | failed | running | "" (never)
        QDateTime lastStarted;
        QDateTime lastFinished;
        QString lastError;
        QDateTime lastSuccess;
        QDateTime nextRun;
    };

    // `jobs`: the configured job names, so jobs that never ran show too (may be empty).
    static Expected<StatusReport> read(const QString &stateDir, const QStringList &jobs = {});

    QString toText() const;
    QJsonObject toJson() const;

    bool daemonRunning = false;
    qint64 daemonPid = 0;
    QString daemonState;
    QDateTime daemonStartedAt;
    QDateTime heartbeatAt;
    QString node;
    QString version;
    QString configDigest;
    QString configFiles;
    QString configRejected;
    QDateTime configRejectedAt;
    QString brokerState;
    QString brokerDetail;
    QDateTime brokerSince;
    qint64 outboxMessages = 0;
    QDateTime outboxOldest;
    QList<JobLine> jobs;
    QStringList runningRuns; // "run-id (job kind) since …"
    QString statePath;
};

} // namespace sparky::agent
