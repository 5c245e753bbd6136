#include "dumprestore.h"

#include "borgcall.h"
#include "borgcommands.h"
#include "postgresclient.h"
#include "stepprocess.h"

#include <QTimer>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace sparky::agent {

using namespace Qt::StringLiterals;

DumpRestore::DumpRestore(const AgentConfig &config, const RepositoryConfig &repo,
    const std::optional<QByteArray> &passphrase, QString archive, QString member,
    PostgresDumpConfig connection, QString database, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_repo(repo)
    , m_passphrase(passphrase)
    , m_archive(std::move(archive))
    , m_member(std::move(member))
    , m_connection(std::move(connection))
    , m_database(std::move(database))
{
    m_restoreProgram = isPlainMember(m_member) ? u"psql"_s : u"pg_restore"_s;
}

DumpRestore::~DumpRestore() = default;

qint64 DumpRestore::borgPid() const
{
    return m_borg ? m_borg->processId() : 0;
}

void DumpRestore::start()
{
    if (m_started)
        return;
    m_started = true;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        m_error = u"cannot create a pipe for the restore: %1"_s.arg(
            QString::fromLocal8Bit(strerror(errno)));
        m_done = true;
        QTimer::singleShot(0, this, [this] { Q_EMIT finished(); });
        return;
    }
    const bool plain = isPlainMember(m_member);
    StepProcess::Spec spec;
    spec.program = m_config.postgresProgram(m_restoreProgram);
    spec.arguments = plain ? PostgresClient::psqlRestoreArguments(m_connection, m_database)
                           : PostgresClient::pgRestoreArguments(m_connection, m_database);
    spec.environment = PostgresClient::environment(m_connection);
    spec.stdinFd = fds[0];
    spec.killGrace = std::chrono::milliseconds(5000);
    m_restore = std::make_unique<StepProcess>(spec);
    connect(m_restore.get(), &StepProcess::outputLine, this,
        [this](const QByteArray &line, bool fromStderr) {
            const QString text = QString::fromUtf8(line).trimmed();
            if (text.isEmpty())
                return;
            Q_EMIT logLine(u"%1: %2"_s.arg(m_restoreProgram, text));
            if (fromStderr) {
                if (m_restoreErrors.size() >= 20)
                    m_restoreErrors.removeFirst();
                m_restoreErrors.append(text.left(2000));
            }
        });
    connect(m_restore.get(), &StepProcess::finished, this,
        [this](StepProcess::Outcome o, int code, const QString &text) {
            m_restoreOutcome = int(o);
            m_restoreExit = code;
            m_restoreProcessError = text;
            QTimer::singleShot(0, this, [this] {
                m_restoreEnded = true;
                onEnded();
            });
        });

    m_borg = std::make_unique<BorgCall>(m_config, m_repo,
        BorgCommands::extractToStdoutArguments(m_repo, m_archive, m_member), m_passphrase);
    m_borg->setStdoutFd(fds[1]);
    m_borg->setStderrLineHandler([this](const BorgLine &l) {
        if (l.kind == BorgLine::Kind::ProgressPercent) {
            if (l.current > 0) {
                m_bytes = l.current;
                Q_EMIT progress(l.current, l.total);
            }
            return;
        }
        if (const QString t = l.logText(); !t.isEmpty())
            Q_EMIT logLine(u"borg: "_s + t);
    });
    connect(m_borg.get(), &BorgCall::finished, this, [this] {
        m_borgEnded = true;
        onEnded();
    });
    m_restore->start();
    m_borg->start();
    // Both children have their ends now: ours go, so EOF and EPIPE happen when they should.
    ::close(fds[0]);
    ::close(fds[1]);
}

void DumpRestore::terminate(const QString &reason)
{
    if (m_borg)
        m_borg->terminate(reason);
    if (m_restore)
        m_restore->terminate(reason);
}

void DumpRestore::onEnded()
{
    if (m_done || !m_borgEnded || !m_restoreEnded)
        return;
    m_done = true;
    const auto restoreOutcome = StepProcess::Outcome(m_restoreOutcome);
    const bool restoreOk = restoreOutcome == StepProcess::Outcome::Exited && m_restoreExit == 0;
    // Exit 1 (a warning) is a failure here: e.g. the member was not in the archive.
    const bool borgOk = m_borg->status() == protocol::Status::Success;
    m_corruption = m_borg->messages().corruption();
    QString restoreText;
    if (!restoreOk) {
        if (restoreOutcome == StepProcess::Outcome::Exited)
            restoreText = u"%1 failed (exit %2)"_s.arg(m_restoreProgram).arg(m_restoreExit);
        else
            restoreText = u"%1 failed: %2"_s.arg(m_restoreProgram, m_restoreProcessError);
        QStringList errs;
        for (const QString &e : std::as_const(m_restoreErrors))
            if (e.contains("error"_L1, Qt::CaseInsensitive) || e.contains("FATAL"_L1))
                errs.append(e);
        if (errs.isEmpty())
            errs = m_restoreErrors.mid(std::max<qsizetype>(0, m_restoreErrors.size() - 3));
        if (!errs.isEmpty())
            restoreText += u": "_s + errs.mid(0, 3).join(u"; "_s);
    }
    const QString borgText = borgOk ? QString() : u"borg extract failed: "_s + m_borg->errorText();
    const bool brokenPipe = borgText.contains("Broken pipe"_L1)
        || borgText.contains("BrokenPipe"_L1) || borgText.contains("EPIPE"_L1);
    if (restoreOk && borgOk) {
        m_succeeded = true;
    } else if (!restoreOk && (borgOk || brokenPipe)) {
        m_error = restoreText;
        if (!borgOk)
            m_error
                += u" (borg extract stopped because %1 stopped reading)"_s.arg(m_restoreProgram);
    } else if (!borgOk && restoreOk) {
        m_error = borgText;
    } else {
        // Both failed, borg not by a broken pipe: borg's failure came first (a truncated dump
        // is what made the reader fail).
        m_error = borgText + u"; then "_s + restoreText;
    }
    Q_EMIT finished();
}

} // namespace sparky::agent
