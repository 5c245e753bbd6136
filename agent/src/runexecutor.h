#pragma once

// Runs one job once: init-if-needed → before hooks → create (+ database dumps) → prune →
// compact → after hooks (on-error hooks when something failed), each step with its own
// timeout and outcome. Also runs `borg check` for a job's repository, and hands
// RunKind::Restore and RunKind::Drill to RestoreExecutor / DrillExecutor (same signals,
// same RunFinished), so whoever starts runs treats all four kinds alike.
//
// Asynchronous (QProcess, no blocking waits): start() returns at once; progress() is emitted
// (throttled) while borg works, finished() exactly once. cancel() kills the whole process
// group of the running step and finishes the run as cancelled. A RunExecutor runs one run;
// the RepositoryLocks it is given serialise runs on the same repository (others wait).
// Lives on the thread that created it.

#include "agentconfig.h"

#include "sparky/protocol.h"

#include <QObject>

#include <memory>

namespace sparky::agent {

class RepositoryLocks;

// What a RunKind::Restore run restores (AgentCommands builds it from restore.extract).
struct RestoreRequest
{
    QString archive;                          // one of the job's archives
    QStringList paths;                        // archive paths (ArchivePath); empty = all
    QString target;                           // empty: <first restore root>/<command or run id>
    int stripComponents = 0;                  // borg extract --strip-components
    QString database;                         // a dump archive: restore into this database
    bool createDatabase = false;              // … creating it first (it must not exist)
};

struct RunRequest
{
    protocol::RunKind kind = protocol::RunKind::Backup;
    QString job;
    QString trigger = QStringLiteral("cli");  // schedule | catchup | command | cli
    QString commandId;
    QString runId;                            // generated when empty
    RestoreRequest restore;                   // RunKind::Restore only
};

class RunExecutor final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunExecutor)

public:
    RunExecutor(const AgentConfig &config, RunRequest request, RepositoryLocks *locks,
                QObject *parent = nullptr);
    ~RunExecutor() override;

    void start();
    void cancel(const QString &reason);
    QString runId() const;
    const RunRequest &request() const;

    // Added by the runner: observation for tests, the CLI and the daemon's status.
    bool isFinished() const;
    QString currentStep() const;        // empty while waiting for the repository or done
    qint64 currentProcessId() const;    // pid (= process group id) of the running step, or 0

    static QString newRunId();          // 32 hex chars

Q_SIGNALS:
    void started(const sparky::protocol::RunStarted &started);
    void progress(const sparky::protocol::RunProgress &progress);
    void finished(const sparky::protocol::RunFinished &result);
    // A step's process started (pid is its process group); for logs and tests.
    void stepStarted(const QString &step, qint64 pid);
    // One redacted line of the run log as it is captured ("[step] text").
    void logLine(const QString &line);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace sparky::agent
