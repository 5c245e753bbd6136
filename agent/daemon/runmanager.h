#pragma once

// Starts and tracks the runs of the daemon (scheduled, catch-up, commanded): one run per job
// and kind at a time, a RunExecutor each (runs on the same repository are serialised by the
// RepositoryLocks the executor is given), the job's max run time enforced. Every run is
// recorded in the state database (table `runs`: "running" until it finishes) and its events
// (run.started, run.progress, run.finished) go to the outbox — when a broker is configured;
// a local-only agent (no `broker:`) has nobody to report to and writes no events.
//
// A run still "running" in the database when the daemon starts was cut short by a killed
// agent or a crash: recoverInterrupted() finishes it as failed with that reason.
//
// Threading: lives on the daemon's thread, like the executors it owns.

#include "agentconfig.h"
#include "runexecutor.h"

#include "sparky/error.h"
#include "sparky/protocol.h"

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include <map>
#include <memory>

namespace sparky::agent {

class Clock;
class Outbox;
class RepositoryLocks;
class RunExecutor;
class StateStore;

class RunManager final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunManager)

public:
    // None owned; all must outlive the manager.
    RunManager(StateStore *store, Outbox *outbox, RepositoryLocks *locks, const Clock *clock,
               QObject *parent = nullptr);
    ~RunManager() override;

    // The config new runs use. Runs already going keep the config they started with.
    void setConfig(std::shared_ptr<const AgentConfig> config);

    // Starts a run; returns its id. Refuses an unknown job, a job without what the kind
    // needs, and a job that already has a run of this kind going.
    Expected<QString> start(protocol::RunKind kind, const QString &job, const QString &trigger,
                            const QString &commandId = {});
    // The same for a request built elsewhere (a restore's archive and paths, a drill from a
    // command: AgentCommands::runRequest). Its run id is generated when empty.
    Expected<QString> start(RunRequest request);
    Result cancel(const QString &runId, const QString &reason);
    void cancelAll(const QString &reason);

    QStringList runningRuns() const;
    bool isRunning(const QString &job, protocol::RunKind kind) const;
    int runningCount() const { return int(m_runs.size()); }

    // Finishes runs a previous agent process left "running" (as failed, with the reason),
    // writing their run.finished to the outbox. Returns them.
    Expected<QList<protocol::RunFinished>> recoverInterrupted();

    // The configured repository name of a job's runs (metrics labels); empty if unknown.
    static QString repositoryNameOf(const AgentConfig &config, const QString &job);

Q_SIGNALS:
    void runStarted(const sparky::protocol::RunStarted &started);
    void runFinished(const sparky::protocol::RunFinished &result, const QString &repositoryName);
    void idle(); // the last running run finished

private:
    struct Running
    {
        std::shared_ptr<const AgentConfig> config; // the executor holds a reference into it
        QPointer<RunExecutor> executor;
        QString job;
        protocol::RunKind kind = protocol::RunKind::Backup;
        QString repositoryName;
        QString trigger;
        QString commandId;
        std::unique_ptr<QTimer> maxRunTimer;
        QString forcedFailure; // set when the daemon cut the run short (max run time)
        bool started = false;
    };

    void onStarted(const QString &runId, const protocol::RunStarted &started);
    void onProgress(const QString &runId, const protocol::RunProgress &progress);
    void onFinished(const QString &runId, protocol::RunFinished result);
    void emitEvent(QLatin1StringView type, const QJsonObject &body);
    void pruneHistory(const QString &job, protocol::RunKind kind);

    StateStore *m_store;
    Outbox *m_outbox;
    RepositoryLocks *m_locks;
    const Clock *m_clock;
    std::shared_ptr<const AgentConfig> m_config;
    std::map<QString, std::unique_ptr<Running>> m_runs; // by run id
};

} // namespace sparky::agent
