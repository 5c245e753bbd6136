#pragma once

// One borg invocation outside a backup run's fixed plan — the archive catalogue, restores
// and drills: the command line from BorgCommands, the environment and passphrase exactly as
// the runner hands them over (BORG_PASSPHRASE_FD, never argv or the environment), TZ=UTC so
// the naive times borg prints are UTC, stderr parsed into BorgMessages, stdout either
// collected (≤ 8 MiB) or handed over line by line as it streams.
//
// Asynchronous; finished() is emitted exactly once, from the event loop. Lives on the thread
// that created it; terminate() ends borg's whole process group (StepProcess).

#include "agentconfig.h"
#include "borgmessages.h"
#include "redactor.h"
#include "sshlog.h"
#include "sparky/error.h"
#include "sparky/protocol.h"
#include "stepprocess.h"

#include <QObject>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace sparky::agent {

class BorgCall final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(BorgCall)

public:
    // Lock wait for interactive reads (catalogue, browse): an operator waiting in the GUI
    // gets "repository busy" after this rather than after the repository's lock_wait.
    static constexpr std::chrono::seconds kInteractiveLockWait { 30 };

    // The repository's passphrase from its 0600 file (nullopt when it uses passcommand or
    // no encryption). Read once per job or run.
    static Expected<std::optional<QByteArray>> readPassphrase(const RepositoryConfig &repo);
    // The secrets of a job (passphrase, passwords in its PostgreSQL passfiles) for redaction.
    static Redactor redactor(const JobConfig &job, const std::optional<QByteArray> &passphrase);
    // `repo` with lock_wait capped at kInteractiveLockWait.
    static RepositoryConfig interactive(const RepositoryConfig &repo);
    // Lets go of a call safely even from inside its own finished() (deleteLater).
    static void dispose(std::unique_ptr<BorgCall> &call);

    BorgCall(const AgentConfig &config, const RepositoryConfig &repo, QStringList arguments,
        const std::optional<QByteArray> &passphrase, QObject *parent = nullptr);
    ~BorgCall() override;

    void setTimeout(std::chrono::seconds timeout) { m_spec.timeout = timeout; }
    void setWorkingDirectory(const QString &dir) { m_spec.workingDirectory = dir; }
    void setStdoutFd(int fd) { m_spec.stdoutFd = fd; }
    // Without a handler stdout is collected (standardOutput()).
    void setStdoutLineHandler(std::function<void(const QByteArray &)> handler);
    // Called for every stderr line after BorgMessages recorded it.
    void setStderrLineHandler(std::function<void(const BorgLine &)> handler);

    void start();
    void terminate(const QString &reason);
    qint64 processId() const;
    const QString &program() const { return m_spec.program; }
    const QStringList &arguments() const { return m_spec.arguments; }
    bool isRunning() const { return m_process && !m_done; }

    // After finished():
    StepProcess::Outcome outcome() const { return m_outcome; }
    std::optional<int> exitCode() const; // nullopt unless borg exited by itself
    // success / warning / failed from borg's exit code; failed when it did not exit itself.
    protocol::Status status() const;
    const BorgMessages &messages() const { return m_messages; }
    QByteArray standardOutput() const;
    // What went wrong, for the operator: the process error (timed out, terminated, could not
    // start) and/or borg's own error messages, and for an ssh:// repository what ssh said.
    // Empty on success.
    QString errorText() const;
    // ssh's own messages (ssh:// repositories; see SshLog), whatever the outcome.
    const QStringList &sshMessages() const { return m_sshLines; }

Q_SIGNALS:
    void finished();

private:
    StepProcess::Spec m_spec;
    std::unique_ptr<StepProcess> m_process;
    BorgMessages m_messages;
    std::function<void(const QByteArray &)> m_stdoutHandler;
    std::function<void(const BorgLine &)> m_stderrHandler;
    StepProcess::Outcome m_outcome = StepProcess::Outcome::FailedToStart;
    int m_exitCode = -1;
    QString m_processError;
    SshLog m_sshLog;
    QStringList m_sshLines;
    bool m_done = false;
};

} // namespace sparky::agent
