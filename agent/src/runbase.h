#pragma once

// What RestoreExecutor and DrillExecutor share with each other and with RunExecutor's
// contract: the same signals, started() once and finished() exactly once with a
// RunFinished whose steps, failed step, error, redacted log tail and details follow the
// same rules; the repository taken from RepositoryLocks for the whole run; the run's
// maximum time enforced; cancel() ending every program the run started (whole process
// groups); and a cleanup() that always runs before finished(), whatever happened.
//
// A subclass implements validate() (checks that need no repository; a refusal fails the run
// at once, at step "validate", before it waits for the repository), begin() (the steps,
// each beginStep() … endStep(), usually around a borg() call) and cleanup(). When a step's
// program ends while stopping() is true, the subclass calls stopStep() and complete().
//
// Lives on the thread that created it; the owner deletes it after finished().

#include "agentconfig.h"
#include "runexecutor.h"
#include "sparky/error.h"
#include "sparky/protocol.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QProcessEnvironment>
#include <QTimer>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace sparky::agent {

class BorgCall;
struct BorgLine;
class LogTail;
class RepositoryLocks;

class RunBase : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunBase)

public:
    ~RunBase() override;

    void start();
    void cancel(const QString &reason);
    QString runId() const { return m_request.runId; }
    bool isFinished() const { return m_finished; }
    QString currentStep() const { return m_stepOpen ? m_step.name : QString(); }
    qint64 currentProcessId() const;

Q_SIGNALS:
    void started(const sparky::protocol::RunStarted &started);
    void progress(const sparky::protocol::RunProgress &progress);
    void finished(const sparky::protocol::RunFinished &result);
    void stepStarted(const QString &step, qint64 pid);
    void logLine(const QString &line);

protected:
    RunBase(const AgentConfig &config, RunRequest request, RepositoryLocks *locks, QObject *parent);

    virtual Result validate() { return {}; }
    virtual std::chrono::seconds maxRunTime() const = 0;
    virtual void begin() = 0;
    // Called exactly once before finished(); call done() when finished (may be later).
    virtual void cleanup(std::function<void()> done) { done(); }

    const AgentConfig &config() const { return m_config; }
    const JobConfig &job() const { return *m_job; }
    const RepositoryConfig &repo() const { return *m_repo; }
    const RunRequest &request() const { return m_request; }
    const std::optional<QByteArray> &passphrase() const { return m_passphrase; }
    protocol::RunFinished &result() { return m_result; }

    void beginStep(const QString &name);
    void endStep(protocol::Status status, std::optional<int> exitCode = std::nullopt,
        const QString &error = {});
    // Ends the open step as cancelled (or failed, when the run overran its time).
    void stopStep();
    bool stepOpen() const { return m_stepOpen; }

    // A borg call belonging to the current step: tracked for cancel(), its stderr logged
    // (minus per-file listing noise), deleted after its finished() handlers ran.
    BorgCall *borg(QStringList arguments, std::function<void(const BorgLine &)> onLine = {});
    // Starts a call made by borg() and announces it (stepStarted).
    void launch(BorgCall *call);
    // Tracks something else that runs (a DumpRestore, a StepProcess, a FileHasher) so
    // cancel() and the time limit reach it. `stop` terminates it; `pid` reports its group.
    void track(QObject *running, std::function<void(const QString &)> stop,
        std::function<qint64()> pid = {});

    // Another program of the current step (createdb, psql, …): tracked, its stderr kept
    // and logged, its stdout collected; `done` gets the outcome from the event loop.
    struct ProgramResult
    {
        bool ok = false; // exited with status 0
        bool stopped = false; // ended by cancel() / the time limit
        std::optional<int> exitCode;
        QString error; // "<program> failed (exit N): <stderr>" or the process error
        QByteArray standardOutput;
    };
    void runProgram(const QString &program, QStringList arguments, QProcessEnvironment environment,
        std::function<void(const ProgramResult &)> done);

    void log(const QString &line);
    void emitProgress(const QString &step, qint64 bytes, qint64 files, const QString &path);
    bool stopping() const { return m_cancelled || m_overtime; }
    QString stopReason() const;
    // Runs cleanup(), then emits finished(). Safe to call more than once.
    void complete();
    // True once complete() was called: step code scheduled earlier must not go on.
    bool completing() const { return m_completing; }
    QString redact(const QString &text) const;

private:
    struct Active
    {
        QPointer<QObject> object;
        std::function<void(const QString &)> stop;
        std::function<qint64()> pid;
    };
    void onLockGranted();
    void stopAll(const QString &reason);
    void finish();
    void emitStarted();

    AgentConfig m_config;
    RunRequest m_request;
    QPointer<RepositoryLocks> m_locks;
    quint64 m_ticket = 0;
    const JobConfig *m_job = nullptr;
    const RepositoryConfig *m_repo = nullptr;
    std::optional<QByteArray> m_passphrase;
    protocol::RunFinished m_result;
    protocol::StepResult m_step;
    bool m_stepOpen = false;
    QList<Active> m_active;
    std::unique_ptr<LogTail> m_tail;
    QTimer m_maxRunTimer;
    QElapsedTimer m_progressClock;
    QString m_cancelReason;
    bool m_begun = false;
    bool m_startedEmitted = false;
    bool m_cancelled = false;
    bool m_overtime = false;
    bool m_completing = false;
    bool m_finished = false;
};

} // namespace sparky::agent
