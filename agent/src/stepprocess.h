#pragma once

// One program run as one step of a run: started in its own session (setsid, so it leads a
// new process group), its output split into lines, a timeout, and terminate() that signals
// the whole group (SIGTERM, then SIGKILL after a grace period) so nothing it started
// (pg_dump under borg, a hook's children) outlives it.
//
// A secret (the borg passphrase) can be handed over through an inherited pipe whose fd
// number is put in the environment variable named by Spec::secretFdVariable
// (BORG_PASSPHRASE_FD): it never appears in argv or in the environment.
//
// Asynchronous; finished() is emitted exactly once. Lives on the thread that created it.

#include <QByteArray>
#include <QElapsedTimer>
#include <QObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QStringList>
#include <QTimer>
#include <chrono>

namespace sparky::agent {

class StepProcess final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StepProcess)

public:
    struct Spec
    {
        QString program;
        QStringList arguments;
        QProcessEnvironment environment;
        QString workingDirectory;
        std::chrono::seconds timeout { 0 }; // 0 = none
        QByteArray secret; // written to a pipe when secretFdVariable is set
        QString secretFdVariable;
        bool collectStdout = false; // keep stdout (≤ 8 MiB) instead of emitting lines
        // Descriptors the child gets as its stdin / stdout instead of /dev/null and the
        // captured pipe (one end of a pipe between two steps: `borg extract --stdout |
        // pg_restore`). Not owned: the caller closes its copies once start() returned.
        // They should be O_CLOEXEC so no other child inherits them.
        int stdinFd = -1;
        int stdoutFd = -1;
        std::chrono::milliseconds killGrace { 10000 };
    };

    enum class Outcome { Exited, Crashed, FailedToStart, TimedOut, Terminated };

    explicit StepProcess(Spec spec, QObject *parent = nullptr);
    ~StepProcess() override;

    void start();
    // Ends the whole process group: SIGTERM now, SIGKILL after killGrace. finished() follows
    // with Outcome::Terminated (unless the program had already ended).
    void terminate(const QString &reason);

    qint64 processId() const { return m_pid; } // also the process group id; 0 before start
    QByteArray standardOutput() const { return m_stdout; }
    QString terminateReason() const { return m_terminateReason; }

Q_SIGNALS:
    void outputLine(const QByteArray &line, bool fromStderr);
    // exitCode is meaningful for Outcome::Exited; errorText says what happened otherwise.
    void finished(
        sparky::agent::StepProcess::Outcome outcome, int exitCode, const QString &errorText);

private:
    void readChannel(QProcess::ProcessChannel channel);
    void flushLines(QByteArray &buffer, bool fromStderr, bool all);
    void onFinished(int exitCode, QProcess::ExitStatus status);
    void signalGroup(int sig);
    void emitFinished(Outcome outcome, int exitCode, const QString &errorText);

    Spec m_spec;
    QProcess m_process;
    QTimer m_timeout;
    QTimer m_killTimer;
    QByteArray m_stdoutBuffer;
    QByteArray m_stderrBuffer;
    QByteArray m_stdout;
    QString m_terminateReason;
    qint64 m_pid = 0;
    int m_secretReadFd = -1;
    bool m_timedOut = false;
    bool m_terminating = false;
    bool m_done = false;
};

} // namespace sparky::agent
