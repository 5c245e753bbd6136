#pragma once

// Helpers shared by the runner's restore/catalogue/drill tests: a throwaway config with a
// local repository in a QTemporaryDir, running a RunExecutor or an AgentJob to its end
// (waiting on signals, never sleeping), borg as the test itself, and checks that whatever
// the agent would publish passes the orchestrator's strict parsing.

#include "agentcommands.h"
#include "agentconfig.h"
#include "agentjob.h"
#include "repositorylocks.h"
#include "runexecutor.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTest>

namespace sparky::agent::test {

using namespace Qt::StringLiterals;

inline constexpr auto kPassphrase = "restore-test-passphrase-5c1d";

inline void writeFile(const QString &path, const QByteArray &data)
{
    QDir().mkpath(QFileInfo(path).path());
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        qFatal("cannot write %s", qPrintable(path));
    f.write(data);
}

inline QByteArray readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

inline QByteArray sha256(const QString &path)
{
    return QCryptographicHash::hash(readFile(path), QCryptographicHash::Sha256).toHex();
}

inline QByteArray randomBytes(qsizetype size)
{
    QByteArray b(size, Qt::Uninitialized);
    for (qsizetype i = 0; i < size; ++i)
        b[i] = char(QRandomGenerator::global()->bounded(256));
    return b;
}

// A config file: node "restore-test", hostname "testhost", state under `dir`, repository
// `repo` at `repoUrl` (passphrase file `dir`/pass, mode 0600), then `rest` (jobs:, restore:,
// repository_host:, … as YAML text).
inline AgentConfig makeConfig(const QString &dir, const QString &repoUrl, const QByteArray &rest)
{
    const QString pass = QDir(dir).filePath(u"pass"_s);
    if (!QFile::exists(pass)) {
        writeFile(pass, QByteArray(kPassphrase) + '\n');
        QFile::setPermissions(pass, QFile::ReadOwner | QFile::WriteOwner);
    }
    const QByteArray yaml = "node: restore-test\nhostname: testhost\nstate_dir: "
        + QDir(dir).filePath(u"state"_s).toUtf8()
        + "\nrepositories:\n  repo:\n    url: " + repoUrl.toUtf8()
        + "\n    passphrase_file: " + pass.toUtf8() + "\n    lock_wait: 5s\n" + rest;
    const QString file
        = QDir(dir).filePath(u"cfg-%1.yaml"_s.arg(QRandomGenerator::global()->generate()));
    writeFile(file, yaml);
    auto cfg = loadAgentConfig(file);
    if (!cfg)
        qFatal("test config invalid: %s\n%s", qPrintable(cfg.error().message), yaml.constData());
    return *cfg;
}

inline QString describe(const protocol::RunFinished &r)
{
    QStringList steps;
    for (const protocol::StepResult &s : r.steps)
        steps.append(s.name + u'=' + protocol::statusName(s.status)
            + (s.error.isEmpty() ? QString() : u" (" + s.error + u')'));
    return protocol::statusName(r.status) + u" failed_step=" + r.failedStep + u" error=" + r.error
        + u"\nsteps: " + steps.join(u", "_s) + u"\ndetails: "
        + QString::fromUtf8(QJsonDocument(r.details).toJson(QJsonDocument::Compact))
        + u"\n--- log tail ---\n" + r.logTail;
}

inline QStringList stepNames(const protocol::RunFinished &r)
{
    QStringList names;
    for (const protocol::StepResult &s : r.steps)
        names.append(s.name);
    return names;
}

inline const protocol::StepResult *findStep(const protocol::RunFinished &r, const QString &name)
{
    for (const protocol::StepResult &s : r.steps)
        if (s.name == name)
            return &s;
    return nullptr;
}

// Runs `request` to its end; started/finished exactly once, and what the daemon would
// publish must parse.
inline protocol::RunFinished runToEnd(const AgentConfig &cfg, const RunRequest &request,
    RepositoryLocks *locks, QList<protocol::RunProgress> *progress = nullptr)
{
    RunExecutor ex(cfg, request, locks);
    QSignalSpy started(&ex, &RunExecutor::started);
    QSignalSpy finished(&ex, &RunExecutor::finished);
    QSignalSpy prog(&ex, &RunExecutor::progress);
    ex.start();
    if (!finished.wait(180000))
        qFatal("run of %s did not finish", qPrintable(request.job));
    QTest::qWait(0); // let late signals arrive, so a second finished() would be seen
    if (started.size() != 1 || finished.size() != 1)
        qFatal("started/finished must be emitted exactly once (%d, %d)", int(started.size()),
            int(finished.size()));
    const auto result = finished.at(0).at(0).value<protocol::RunFinished>();
    if (auto back = protocol::RunFinished::fromJson(result.toJson()); !back)
        qFatal("RunFinished does not validate: %s", qPrintable(back.error().message));
    if (auto s = protocol::RunStarted::fromJson(
            started.at(0).at(0).value<protocol::RunStarted>().toJson());
        !s)
        qFatal("RunStarted does not validate: %s", qPrintable(s.error().message));
    for (const auto &args : prog) {
        const auto p = args.at(0).value<protocol::RunProgress>();
        if (auto back = protocol::RunProgress::fromJson(p.toJson()); !back)
            qFatal("RunProgress does not validate: %s", qPrintable(back.error().message));
        if (progress)
            progress->append(p);
    }
    return result;
}

inline protocol::RunFinished backup(
    const AgentConfig &cfg, const QString &job, RepositoryLocks *locks)
{
    RunRequest r;
    r.job = job;
    const auto result = runToEnd(cfg, r, locks);
    if (result.status != protocol::Status::Success)
        qFatal("backup of %s failed: %s", qPrintable(job), qPrintable(describe(result)));
    return result;
}

inline QString archiveOf(const protocol::RunFinished &backupResult, qsizetype index = 0)
{
    return backupResult.details.value("archives"_L1)
        .toArray()
        .at(index)
        .toObject()
        .value("archive_name"_L1)
        .toString();
}

struct JobOutcome
{
    bool ok = false;
    Error error;
    QJsonObject result;
};

// Runs a command that answers with a result object, through AgentCommands like the daemon.
inline JobOutcome runCommand(const AgentConfig &cfg, const QString &type, const QJsonObject &body)
{
    auto job = AgentCommands::createJob(cfg, type, body);
    if (!job)
        return { false, job.error(), {} };
    std::unique_ptr<AgentJob> j = std::move(*job);
    QSignalSpy finished(j.get(), &AgentJob::finished);
    j->start();
    if (finished.isEmpty() && !finished.wait(120000))
        qFatal("%s did not finish", qPrintable(type));
    QTest::qWait(0);
    if (finished.size() != 1)
        qFatal("AgentJob::finished must be emitted exactly once");
    return { !j->hasError(), j->error(), j->result() };
}

// The test's own borg, with the repository's passphrase.
inline QByteArray borg(const QString &dir, const QStringList &args, int *exitCode = nullptr)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(u"BORG_BASE_DIR"_s, QDir(dir).filePath(u"testborg"_s));
    env.insert(u"BORG_PASSPHRASE"_s, QString::fromLatin1(kPassphrase));
    env.insert(u"BORG_RELOCATED_REPO_ACCESS_IS_OK"_s, u"yes"_s);
    p.setProcessEnvironment(env);
    p.start(u"borg"_s, args);
    p.waitForFinished(120000);
    if (exitCode)
        *exitCode = p.exitCode();
    return p.readAllStandardOutput();
}

} // namespace sparky::agent::test
