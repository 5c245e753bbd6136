#include "stepprocess.h"

#include "sparky/config.h"

#include <QLoggingCategory>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace sparky::agent {

using namespace Qt::StringLiterals;

Q_LOGGING_CATEGORY(lcStep, "sparky.agent.runner.process")

namespace {
constexpr qsizetype kMaxLine = 1024 * 1024;
constexpr qsizetype kMaxStdout = 8 * 1024 * 1024;

} // namespace

StepProcess::StepProcess(Spec spec, QObject *parent)
    : QObject(parent)
    , m_spec(std::move(spec))
{
    m_timeout.setSingleShot(true);
    m_killTimer.setSingleShot(true);
    connect(&m_timeout, &QTimer::timeout, this, [this] {
        m_timedOut = true;
        terminate(u"timed out after %1"_s.arg(config::formatDuration(m_spec.timeout)));
    });
    connect(&m_killTimer, &QTimer::timeout, this, [this] {
        qCWarning(lcStep) << "process group" << m_pid << "ignored SIGTERM; sending SIGKILL";
        signalGroup(SIGKILL);
    });
    connect(&m_process, &QProcess::readyReadStandardOutput, this,
        [this] { readChannel(QProcess::StandardOutput); });
    connect(&m_process, &QProcess::readyReadStandardError, this,
        [this] { readChannel(QProcess::StandardError); });
    connect(&m_process, &QProcess::finished, this, &StepProcess::onFinished);
    connect(&m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart)
            emitFinished(Outcome::FailedToStart, -1,
                u"cannot start %1: %2"_s.arg(m_spec.program, m_process.errorString()));
    });
}

StepProcess::~StepProcess()
{
    if (m_process.state() != QProcess::NotRunning) {
        // Never leave a borg behind: kill the group and reap the leader.
        signalGroup(SIGKILL);
        m_process.waitForFinished(5000);
    }
    if (m_secretReadFd >= 0)
        ::close(m_secretReadFd);
}

void StepProcess::start()
{
    QProcessEnvironment env = m_spec.environment;
    if (!m_spec.secretFdVariable.isEmpty()) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            QTimer::singleShot(0, this, [this] {
                emitFinished(Outcome::FailedToStart, -1,
                    u"cannot create a pipe for the passphrase: %1"_s.arg(
                        QString::fromLocal8Bit(strerror(errno))));
            });
            return;
        }
        const QByteArray data = m_spec.secret + '\n';
        // A passphrase is far smaller than the pipe buffer (64 KiB): this never blocks.
        const ssize_t written
            = data.size() < 60000 ? ::write(fds[1], data.constData(), size_t(data.size())) : -1;
        ::close(fds[1]);
        if (written != data.size()) {
            ::close(fds[0]);
            QTimer::singleShot(0, this, [this] {
                emitFinished(Outcome::FailedToStart, -1,
                    u"cannot hand the passphrase to borg (too long?)"_s);
            });
            return;
        }
        m_secretReadFd = fds[0];
        env.insert(m_spec.secretFdVariable, QString::number(m_secretReadFd));
    }
    m_process.setProgram(m_spec.program);
    m_process.setArguments(m_spec.arguments);
    m_process.setProcessEnvironment(env);
    if (!m_spec.workingDirectory.isEmpty())
        m_process.setWorkingDirectory(m_spec.workingDirectory);
    m_process.setStandardInputFile(QProcess::nullDevice());
    const int secretFd = m_secretReadFd;
    const int stdinFd = m_spec.stdinFd;
    const int stdoutFd = m_spec.stdoutFd;
    m_process.setChildProcessModifier([secretFd, stdinFd, stdoutFd] {
        // In the child between fork and exec: async-signal-safe calls only. QProcess has
        // set up fds 0-2 already; dup2 replaces them (and clears O_CLOEXEC on the copy).
        ::setsid();
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (secretFd >= 0)
            ::fcntl(secretFd, F_SETFD, 0); // inherited across exec, for BORG_PASSPHRASE_FD
        if (stdinFd >= 0)
            ::dup2(stdinFd, STDIN_FILENO);
        if (stdoutFd >= 0)
            ::dup2(stdoutFd, STDOUT_FILENO);
    });
    m_process.start();
    m_pid = m_process.processId();
    // The child has its copy now (fork happens inside start()); ours is not needed.
    if (m_secretReadFd >= 0) {
        ::close(m_secretReadFd);
        m_secretReadFd = -1;
    }
    if (m_spec.timeout.count() > 0)
        m_timeout.start(std::chrono::duration_cast<std::chrono::milliseconds>(m_spec.timeout));
}

void StepProcess::terminate(const QString &reason)
{
    if (m_done || m_terminating)
        return;
    m_terminating = true;
    m_terminateReason = reason;
    if (m_process.state() == QProcess::NotRunning)
        return;
    qCInfo(lcStep).noquote() << "stopping" << m_spec.program << "process group" << m_pid << ":"
                             << reason;
    signalGroup(SIGTERM);
    m_killTimer.start(m_spec.killGrace);
}

void StepProcess::signalGroup(int sig)
{
    if (m_pid > 0)
        ::kill(-pid_t(m_pid), sig);
}

void StepProcess::readChannel(QProcess::ProcessChannel channel)
{
    const bool err = channel == QProcess::StandardError;
    m_process.setReadChannel(channel);
    const QByteArray data = m_process.readAll();
    if (!err && m_spec.collectStdout) {
        if (m_stdout.size() + data.size() <= kMaxStdout)
            m_stdout += data;
        return;
    }
    QByteArray &buf = err ? m_stderrBuffer : m_stdoutBuffer;
    buf += data;
    flushLines(buf, err, false);
}

void StepProcess::flushLines(QByteArray &buffer, bool fromStderr, bool all)
{
    qsizetype start = 0;
    while (true) {
        const qsizetype nl = buffer.indexOf('\n', start);
        if (nl < 0)
            break;
        QByteArray line = buffer.mid(start, nl - start);
        if (line.endsWith('\r'))
            line.chop(1);
        Q_EMIT outputLine(line, fromStderr);
        start = nl + 1;
    }
    buffer.remove(0, start);
    if ((all && !buffer.isEmpty()) || buffer.size() > kMaxLine) {
        Q_EMIT outputLine(buffer, fromStderr);
        buffer.clear();
    }
}

void StepProcess::onFinished(int exitCode, QProcess::ExitStatus status)
{
    readChannel(QProcess::StandardOutput);
    readChannel(QProcess::StandardError);
    flushLines(m_stdoutBuffer, false, true);
    flushLines(m_stderrBuffer, true, true);
    m_timeout.stop();
    m_killTimer.stop();
    if (m_terminating) {
        // Whatever the leader left in its group goes too.
        signalGroup(SIGKILL);
        emitFinished(
            m_timedOut ? Outcome::TimedOut : Outcome::Terminated, exitCode, m_terminateReason);
        return;
    }
    if (status == QProcess::CrashExit)
        emitFinished(
            Outcome::Crashed, exitCode, u"%1 was killed by a signal"_s.arg(m_spec.program));
    else
        emitFinished(Outcome::Exited, exitCode, QString());
}

void StepProcess::emitFinished(Outcome outcome, int exitCode, const QString &errorText)
{
    if (m_done)
        return;
    m_done = true;
    m_timeout.stop();
    m_killTimer.stop();
    Q_EMIT finished(outcome, exitCode, errorText);
}

} // namespace sparky::agent
