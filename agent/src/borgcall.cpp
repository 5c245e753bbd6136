#include "borgcall.h"

#include "borgcommands.h"
#include "sparky/secrets.h"

#include <QDir>
#include <QFile>
#include <QTimer>

namespace sparky::agent {

using namespace Qt::StringLiterals;

Expected<std::optional<QByteArray>> BorgCall::readPassphrase(const RepositoryConfig &repo)
{
    if (repo.passphraseFile.isEmpty())
        return std::optional<QByteArray>();
    auto secret = readSecretFile(repo.passphraseFile);
    if (!secret)
        return unexpected(secret.error().code,
            u"cannot read the passphrase of repository %1: %2"_s.arg(
                repo.name, secret.error().message));
    return std::optional<QByteArray>(*secret);
}

Redactor BorgCall::redactor(const JobConfig &job, const std::optional<QByteArray> &passphrase)
{
    Redactor r;
    if (passphrase)
        r.addSecret(QString::fromUtf8(*passphrase));
    QStringList passfiles { job.postgresDefaults.passfile };
    for (const PostgresDumpConfig &db : job.postgres)
        passfiles.append(db.passfile);
    passfiles.removeDuplicates();
    for (const QString &file : std::as_const(passfiles)) {
        if (file.isEmpty())
            continue;
        auto data = readSecretFile(file);
        if (!data)
            continue;
        for (const QByteArray &line : data->split('\n')) {
            const QList<QByteArray> parts = line.split(':');
            if (!line.startsWith('#') && parts.size() >= 5)
                r.addSecret(QString::fromUtf8(parts.last()));
        }
    }
    return r;
}

RepositoryConfig BorgCall::interactive(const RepositoryConfig &repo)
{
    RepositoryConfig r = repo;
    r.lockWait = std::min(r.lockWait, kInteractiveLockWait);
    return r;
}

void BorgCall::dispose(std::unique_ptr<BorgCall> &call)
{
    if (!call)
        return;
    call->disconnect();
    call.release()->deleteLater();
}

BorgCall::BorgCall(const AgentConfig &config, const RepositoryConfig &repo, QStringList arguments,
    const std::optional<QByteArray> &passphrase, QObject *parent)
    : QObject(parent)
{
    const QString baseDir = QDir(config.stateDir).filePath(u"borg"_s);
    if (!QFileInfo::exists(baseDir)) {
        QDir().mkpath(baseDir);
        QFile::setPermissions(baseDir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    }
    m_spec.program = config.borgBinary;
    m_spec.arguments = std::move(arguments);
    m_spec.environment
        = BorgCommands::environment(config, repo, QProcessEnvironment::systemEnvironment());
    m_spec.environment.insert(u"TZ"_s, u"UTC"_s);
    m_sshLog.attach(config, repo, m_spec.environment);
    if (passphrase) {
        m_spec.secret = *passphrase;
        m_spec.secretFdVariable = u"BORG_PASSPHRASE_FD"_s;
    }
    m_spec.killGrace = std::chrono::milliseconds(5000);
}

BorgCall::~BorgCall() = default;

void BorgCall::setStdoutLineHandler(std::function<void(const QByteArray &)> handler)
{
    m_stdoutHandler = std::move(handler);
}

void BorgCall::setStderrLineHandler(std::function<void(const BorgLine &)> handler)
{
    m_stderrHandler = std::move(handler);
}

void BorgCall::start()
{
    if (m_process)
        return;
    m_spec.collectStdout = !m_stdoutHandler && m_spec.stdoutFd < 0;
    m_process = std::make_unique<StepProcess>(m_spec);
    connect(m_process.get(), &StepProcess::outputLine, this,
        [this](const QByteArray &line, bool fromStderr) {
            if (!fromStderr) {
                if (m_stdoutHandler)
                    m_stdoutHandler(line);
                return;
            }
            const BorgLine parsed = m_messages.add(line);
            if (m_stderrHandler)
                m_stderrHandler(parsed);
        });
    connect(m_process.get(), &StepProcess::finished, this,
        [this](StepProcess::Outcome outcome, int exitCode, const QString &errorText) {
            m_outcome = outcome;
            m_exitCode = exitCode;
            m_processError = errorText;
            m_sshLines = m_sshLog.take();
            // Leave StepProcess's emission before anyone deletes us.
            QTimer::singleShot(0, this, [this] {
                if (m_done)
                    return;
                m_done = true;
                Q_EMIT finished();
            });
        });
    m_process->start();
}

void BorgCall::terminate(const QString &reason)
{
    if (m_process && !m_done)
        m_process->terminate(reason);
}

qint64 BorgCall::processId() const
{
    return m_process ? m_process->processId() : 0;
}

std::optional<int> BorgCall::exitCode() const
{
    if (m_outcome != StepProcess::Outcome::Exited)
        return std::nullopt;
    return m_exitCode;
}

protocol::Status BorgCall::status() const
{
    if (m_outcome != StepProcess::Outcome::Exited)
        return m_outcome == StepProcess::Outcome::Terminated ? protocol::Status::Cancelled
                                                             : protocol::Status::Failed;
    return protocol::statusFromBorgExit(m_exitCode);
}

QByteArray BorgCall::standardOutput() const
{
    return m_process ? m_process->standardOutput() : QByteArray();
}

QString BorgCall::errorText() const
{
    QString text;
    if (m_outcome == StepProcess::Outcome::Exited) {
        if (m_exitCode == 0)
            return {};
        if (m_exitCode == 1)
            return m_messages.warnings().join(u"; "_s);
        text = m_messages.errorText(u"borg"_s, m_exitCode);
    } else {
        text = m_processError;
        if (!m_messages.errors().isEmpty())
            text += u": "_s + m_messages.errorText(u"borg"_s, m_exitCode);
    }
    for (const QString &l : m_sshLines)
        text += u"; ssh: "_s + l;
    return text;
}

} // namespace sparky::agent
