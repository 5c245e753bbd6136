#pragma once

// Runs one job once: init-if-needed → before hooks → create (+ database dumps) → prune →
// compact → after hooks (on-error hooks when something failed), each step with its own
// timeout and outcome. Also runs `borg check` for a job's repository.
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

struct RunRequest
{
    protocol::RunKind kind = protocol::RunKind::Backup;
    QString job;
    QString trigger = QStringLiteral("cli");  // schedule | catchup | command | cli
    QString commandId;
    QString runId;                            // generated when empty
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

Q_SIGNALS:
    void started(const sparky::protocol::RunStarted &started);
    void progress(const sparky::protocol::RunProgress &progress);
    void finished(const sparky::protocol::RunFinished &result);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace sparky::agent
