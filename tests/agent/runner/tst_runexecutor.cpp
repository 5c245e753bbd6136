// RunExecutor against real borg (local repositories in a QTemporaryDir): archives and their
// contents, incremental runs, prune, hooks, the clear errors of the usual failures, the
// per-repository queue, cancellation of whole process groups, borg check.
#include "agentconfig.h"
#include "repositorylocks.h"
#include "runexecutor.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::protocol;
using namespace Qt::StringLiterals;

namespace {

constexpr auto kPassphrase = "runner-test-passphrase-7f3a";

// Process ids whose process group is `pgid` (scans /proc).
QList<qint64> processesInGroup(qint64 pgid)
{
    QList<qint64> out;
    const QStringList entries = QDir(u"/proc"_s).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString &e : entries) {
        bool ok = false;
        const qint64 pid = e.toLongLong(&ok);
        if (!ok)
            continue;
        QFile f(u"/proc/%1/stat"_s.arg(pid));
        if (!f.open(QIODevice::ReadOnly))
            continue;
        const QByteArray stat = f.readAll();
        // pid (comm) state ppid pgrp …; comm may contain spaces, so split after ')'.
        const QList<QByteArray> rest = stat.mid(stat.lastIndexOf(')') + 2).split(' ');
        if (rest.size() > 2 && rest.at(0) != "Z" && rest.at(2).toLongLong() == pgid)
            out.append(pid);
    }
    return out;
}

bool processAlive(qint64 pid)
{
    QFile f(u"/proc/%1/stat"_s.arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return false;
    const QByteArray stat = f.readAll();
    return stat.mid(stat.lastIndexOf(')') + 2, 1) != "Z";
}

} // namespace

class TestRunExecutor : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    RepositoryLocks m_locks;
    QList<qint64> m_lockHolders; // process groups of `borg with-lock` we started

    QString path(const QString &p) const { return m_dir.filePath(p); }

    void writeFile(const QString &name, const QByteArray &data)
    {
        QDir().mkpath(QFileInfo(path(name)).path());
        QFile f(path(name));
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(data);
    }

    // A config with one repository `repo` at `repoUrl` and the given jobs YAML.
    AgentConfig config(const QString &repoUrl, const QByteArray &jobs, const QString &passFile = {},
        const QByteArray &repoExtra = {})
    {
        QByteArray yaml
            = "node: runner-test\nhostname: testhost\nstate_dir: " + path(u"state"_s).toUtf8()
            + "\n"
              "repositories:\n  repo:\n    url: "
            + repoUrl.toUtf8()
            + "\n"
              "    passphrase_file: "
            + (passFile.isEmpty() ? path(u"pass"_s) : passFile).toUtf8() + "\n"
            + (repoExtra.contains("lock_wait") ? QByteArray() : QByteArray("    lock_wait: 1s\n"))
            + repoExtra + "jobs:\n" + jobs;
        const QString file = path(u"cfg-%1.yaml"_s.arg(QRandomGenerator::global()->generate()));
        QFile f(file);
        f.open(QIODevice::WriteOnly);
        f.write(yaml);
        f.close();
        auto cfg = loadAgentConfig(file);
        if (!cfg)
            qFatal("test config invalid: %s", qPrintable(cfg.error().message));
        return *cfg;
    }

    RunFinished run(const AgentConfig &cfg, const QString &job, RunKind kind = RunKind::Backup,
        QList<RunProgress> *progress = nullptr)
    {
        RunRequest req;
        req.job = job;
        req.kind = kind;
        RunExecutor ex(cfg, req, &m_locks);
        QSignalSpy started(&ex, &RunExecutor::started);
        QSignalSpy finished(&ex, &RunExecutor::finished);
        QSignalSpy prog(&ex, &RunExecutor::progress);
        ex.start();
        if (!finished.wait(120000))
            qFatal("run of %s did not finish", qPrintable(job));
        if (started.size() != 1 || finished.size() != 1)
            qFatal("started/finished must be emitted exactly once");
        if (progress)
            for (const auto &args : prog)
                progress->append(args.at(0).value<RunProgress>());
        // What the daemon will publish must pass the orchestrator's strict parsing.
        const RunFinished result = finished.at(0).at(0).value<RunFinished>();
        if (auto back = RunFinished::fromJson(result.toJson()); !back)
            qFatal("RunFinished does not validate: %s", qPrintable(back.error().message));
        if (auto s = RunStarted::fromJson(started.at(0).at(0).value<RunStarted>().toJson()); !s)
            qFatal("RunStarted does not validate: %s", qPrintable(s.error().message));
        for (const auto &args : prog)
            if (auto p = RunProgress::fromJson(args.at(0).value<RunProgress>().toJson()); !p)
                qFatal("RunProgress does not validate: %s", qPrintable(p.error().message));
        return result;
    }

    QProcessEnvironment borgEnv() const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"BORG_BASE_DIR"_s, path(u"testborg"_s));
        env.insert(u"BORG_PASSPHRASE"_s, QString::fromLatin1(kPassphrase));
        env.insert(u"BORG_RELOCATED_REPO_ACCESS_IS_OK"_s, u"yes"_s);
        return env;
    }

    // Runs borg as the test itself (not through the agent); returns stdout.
    QByteArray borg(const QStringList &args, int *exitCode = nullptr)
    {
        QProcess p;
        p.setProcessEnvironment(borgEnv());
        p.start(u"borg"_s, args);
        p.waitForFinished(120000);
        if (exitCode)
            *exitCode = p.exitCode();
        else if (p.exitCode() != 0)
            qWarning() << "borg" << args << "failed:" << p.readAllStandardError();
        return p.readAllStandardOutput();
    }

    QStringList archives(const QString &repo)
    {
        return QString::fromUtf8(borg({ u"list"_s, u"--short"_s, repo }))
            .split(u'\n', Qt::SkipEmptyParts);
    }

    QStringList archiveFiles(const QString &repo, const QString &archive)
    {
        return QString::fromUtf8(borg({ u"list"_s, u"--short"_s, repo + u"::"_s + archive }))
            .split(u'\n', Qt::SkipEmptyParts);
    }

    // Holds the repository's exclusive lock with `borg with-lock REPO sleep 600`, started in
    // its own process group so the test can end it (and its sleep) by that id.
    qint64 holdLock(const QString &repo)
    {
        auto *p = new QProcess(this);
        p->setProcessEnvironment(borgEnv());
        p->setChildProcessModifier([] { ::setsid(); });
        p->start(u"borg"_s, { u"with-lock"_s, repo, u"sleep"_s, u"600"_s });
        if (!p->waitForStarted())
            qFatal("cannot start borg with-lock");
        const qint64 pgid = p->processId();
        m_lockHolders.append(pgid);
        if (!QTest::qWaitFor([&] { return QFile::exists(repo + u"/lock.exclusive"_s); }, 30000))
            qFatal("borg with-lock did not take the lock");
        return pgid;
    }

    void releaseLock(qint64 pgid)
    {
        ::kill(-pid_t(pgid), SIGTERM);
        m_lockHolders.removeAll(pgid);
        for (QProcess *p : findChildren<QProcess *>())
            if (p->processId() == pgid)
                p->waitForFinished(30000);
        QTRY_VERIFY_WITH_TIMEOUT(processesInGroup(pgid).isEmpty(), 30000);
    }

    static const StepResult *step(const RunFinished &r, const QString &name)
    {
        for (const StepResult &s : r.steps)
            if (s.name == name)
                return &s;
        return nullptr;
    }

    static QString describe(const RunFinished &r)
    {
        QStringList steps;
        for (const StepResult &s : r.steps)
            steps.append(s.name + u'=' + statusName(s.status)
                + (s.error.isEmpty() ? QString() : u" (" + s.error + u')'));
        return statusName(r.status) + u" failed_step=" + r.failedStep + u" error=" + r.error
            + u" steps: " + steps.join(u", "_s) + u"\n--- log tail ---\n" + r.logTail;
    }

private Q_SLOTS:
    void initTestCase()
    {
        qRegisterMetaType<RunFinished>();
        qRegisterMetaType<RunStarted>();
        qRegisterMetaType<RunProgress>();
        QVERIFY(m_dir.isValid());
        writeFile(u"pass"_s, QByteArray(kPassphrase) + '\n');
        QVERIFY(QFile::setPermissions(path(u"pass"_s), QFile::ReadOwner | QFile::WriteOwner));
        writeFile(u"wrongpass"_s, "not-the-passphrase\n");
        QVERIFY(QFile::setPermissions(path(u"wrongpass"_s), QFile::ReadOwner | QFile::WriteOwner));
        // Source tree: incompressible data so deduplication, not compression, makes run 2 small.
        QByteArray blob(512 * 1024, Qt::Uninitialized);
        for (qsizetype i = 0; i < blob.size(); i += 4)
            *reinterpret_cast<quint32 *>(blob.data() + i) = QRandomGenerator::global()->generate();
        writeFile(u"src/a.bin"_s, blob);
        writeFile(u"src/sub/b.txt"_s, "hello from b\n");
        writeFile(u"src/skip.tmp"_s, "excluded\n");
    }

    void cleanupTestCase()
    {
        for (qint64 pgid : std::as_const(m_lockHolders))
            ::kill(-pid_t(pgid), SIGKILL);
    }

    void backupCreatesArchiveThenRunsIncrementally()
    {
        const QString repo = path(u"repo1"_s);
        const AgentConfig cfg = config(repo,
            "  files:\n    repository: repo\n    sources: [" + path(u"src"_s).toUtf8()
                + "]\n"
                  "    excludes: ['*.tmp']\n"
                  "    archive_name: '{hostname}-{job}-{now:%Y-%m-%dT%H:%M:%S.%f}'\n");
        QList<RunProgress> progress;
        const RunFinished first = run(cfg, u"files"_s, RunKind::Backup, &progress);
        QVERIFY2(first.status == Status::Success, qPrintable(describe(first)));
        QVERIFY(step(first, u"init"_s));
        QCOMPARE(first.details.value("initialised"_L1).toBool(), true);
        QVERIFY(first.stats.has_value());
        QCOMPARE(first.stats->files, 2);
        QVERIFY(first.stats->originalSize > 512 * 1024);
        QVERIFY(first.stats->deduplicatedSize > 400 * 1024);
        QVERIFY(first.stats->archiveName.startsWith(u"testhost-files-"_s));
        QCOMPARE(first.stats->archiveId.size(), 64);
        QVERIFY(!progress.isEmpty());
        QCOMPARE(progress.first().step, u"create"_s);
        QCOMPARE(progress.first().runId, first.runId);
        QVERIFY(!first.logTail.contains(QLatin1StringView(kPassphrase)));

        const QStringList listed = archiveFiles(repo, first.stats->archiveName);
        const QString srcRel = path(u"src"_s).mid(1);
        QVERIFY2(listed.contains(srcRel + u"/a.bin"_s), qPrintable(listed.join(u'\n')));
        QVERIFY(listed.contains(srcRel + u"/sub/b.txt"_s));
        QVERIFY(!listed.contains(srcRel + u"/skip.tmp"_s));

        // Second run: the repository is known (no init), and nearly nothing new is stored.
        const RunFinished second = run(cfg, u"files"_s);
        QVERIFY2(second.status == Status::Success, qPrintable(describe(second)));
        QVERIFY(!step(second, u"init"_s));
        QVERIFY(second.stats.has_value());
        QCOMPARE(second.stats->files, 2);
        QVERIFY2(second.stats->deduplicatedSize < 20 * 1024,
            qPrintable(u"deduplicated %1"_s.arg(second.stats->deduplicatedSize)));
        QCOMPARE(archives(repo).size(), 2);
    }

    void checkRunsBorgCheck()
    {
        const QString repo = path(u"repo1"_s);
        const AgentConfig cfg = config(repo,
            "  files:\n    repository: repo\n    sources: [" + path(u"src"_s).toUtf8()
                + "]\n"
                  "    check: {archives_only: true}\n");
        const RunFinished r = run(cfg, u"files"_s, RunKind::Check);
        QVERIFY2(r.status == Status::Success, qPrintable(describe(r)));
        QCOMPARE(r.kind, RunKind::Check);
        QCOMPARE(r.steps.size(), 1);
        QCOMPARE(r.steps.first().name, u"check"_s);
        QVERIFY(r.logTail.contains(u"--archives-only"_s));
    }

    void pruneKeepsWhatThePolicySays()
    {
        const QString repo = path(u"repo-prune"_s);
        const QByteArray jobs = "  keep:\n    repository: repo\n    sources: ["
            + path(u"src/sub"_s).toUtf8()
            + "]\n"
              "    archive_name: '{job}-{now:%Y%m%d%H%M%S.%f}'\n"
              "    retention: {keep_daily: 1}\n    compact: false\n"
              "  keep-other:\n    repository: repo\n    sources: ["
            + path(u"src/sub"_s).toUtf8()
            + "]\n"
              "    archive_name: '{job}-{now:%Y%m%d%H%M%S.%f}'\n";
        const AgentConfig cfg = config(repo, jobs);
        const RunFinished other = run(cfg, u"keep-other"_s);
        QVERIFY2(other.status == Status::Success, qPrintable(describe(other)));
        QStringList kept;
        for (int i = 0; i < 3; ++i) {
            const RunFinished r = run(cfg, u"keep"_s);
            QVERIFY2(r.status == Status::Success, qPrintable(describe(r)));
            QVERIFY(step(r, u"prune"_s));
            QVERIFY(!step(r, u"compact"_s));
            kept.append(r.stats->archiveName);
        }
        // keep_daily 1: only the newest of today's three stays; the other job's archive (a
        // name that starts like ours) is not touched by our prune.
        const QStringList names = archives(repo);
        QCOMPARE(names.size(), 2);
        QVERIFY(names.contains(kept.last()));
        QVERIFY(names.contains(other.stats->archiveName));
    }

    // Names carry the time to the second: a name taken in the second the run starts in (by
    // another run of the job that just finished) moves to the next second instead of failing.
    void aNameTakenInTheSameSecondMovesToTheNext()
    {
        const QString repo = path(u"repo-names"_s);
        const AgentConfig cfg = config(repo,
            "  names:\n    repository: repo\n    sources: [" + path(u"src/sub"_s).toUtf8()
                + "]\n    archive_name: '{job}-{now:%Y-%m-%dT%H:%M:%S}'\n");
        const RunFinished first = run(cfg, u"names"_s); // initialises the repository
        QVERIFY2(first.status == Status::Success, qPrintable(describe(first)));

        // The name of a second a moment ahead, taken by hand; the run starts in that second.
        QDateTime target = QDateTime::currentDateTime().addSecs(4);
        target.setTime(QTime(target.time().hour(), target.time().minute(), target.time().second()));
        const QString taken = u"names-"_s + target.toString(u"yyyy-MM-dd"_s) + u'T'
            + target.toString(u"HH:mm:ss"_s);
        int code = -1;
        borg({ u"create"_s, repo + u"::"_s + taken, path(u"src/sub"_s) }, &code);
        QCOMPARE(code, 0);
        QVERIFY(QTest::qWaitFor([&] { return QDateTime::currentDateTime() >= target; }, 10000));
        const RunFinished second = run(cfg, u"names"_s);
        QVERIFY2(second.status == Status::Success, qPrintable(describe(second)));
        QVERIFY(second.stats.has_value());
        QVERIFY2(second.stats->archiveName != taken, qPrintable(second.stats->archiveName));
        QVERIFY(second.stats->archiveName.startsWith(u"names-"_s));
        QVERIFY2(second.logTail.contains(u"already exists: retrying"_s), qPrintable(second.logTail));
        const QStringList listed = archives(repo);
        QVERIFY(listed.contains(taken) && listed.contains(second.stats->archiveName));
    }

    void wrongPassphraseIsAnErrorNeverAnInit()
    {
        const QString repo = path(u"repo-wrongpass"_s);
        int code = -1;
        borg({ u"init"_s, u"--encryption"_s, u"repokey-blake2"_s, repo }, &code);
        QCOMPARE(code, 0);
        const QByteArray idBefore = borg({ u"config"_s, repo, u"id"_s });
        const AgentConfig cfg = config(repo,
            "  files:\n    repository: repo\n    sources: [" + path(u"src"_s).toUtf8() + "]\n",
            path(u"wrongpass"_s));
        const RunFinished r = run(cfg, u"files"_s);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"init"_s);
        QVERIFY2(
            r.error.contains(
                u"passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect"_s),
            qPrintable(describe(r)));
        QVERIFY(!r.logTail.contains(u"not-the-passphrase"_s));
        QVERIFY(!r.logTail.contains(u"borg init"_s) && !r.logTail.contains(u" init "_s));
        // Same repository, still ours: not re-initialised.
        QCOMPARE(borg({ u"config"_s, repo, u"id"_s }), idBefore);
        QCOMPARE(archives(repo).size(), 0);
    }

    void emptyDirectoryIsInitialisedButNotAForeignOne()
    {
        const QString empty = path(u"repo-empty"_s);
        QVERIFY(QDir().mkpath(empty));
        const QByteArray job = "  files:\n    repository: repo\n    sources: ["
            + path(u"src/sub"_s).toUtf8() + "]\n";
        const RunFinished ok = run(config(empty, job), u"files"_s);
        QVERIFY2(ok.status == Status::Success, qPrintable(describe(ok)));
        QCOMPARE(ok.details.value("initialised"_L1).toBool(), true);

        const QString foreign = path(u"repo-foreign"_s);
        writeFile(u"repo-foreign/precious.txt"_s, "not a borg repository\n");
        const RunFinished refused = run(config(foreign, job), u"files"_s);
        QCOMPARE(refused.status, Status::Failed);
        QCOMPARE(refused.failedStep, u"init"_s);
        QVERIFY2(
            refused.error.contains(u"is not a valid repository"_s), qPrintable(describe(refused)));
        QCOMPARE(QDir(foreign).entryList(QDir::AllEntries | QDir::NoDotAndDotDot),
            QStringList { u"precious.txt"_s });
    }

    void missingSourceIsNamed()
    {
        const QString repo = path(u"repo1"_s);
        const AgentConfig cfg = config(repo,
            "  files:\n    repository: repo\n    sources: [" + path(u"src/sub"_s).toUtf8()
                + ", /missing-sparky-source]\n"
                  "    archive_name: '{job}-missing-{now:%Y%m%d%H%M%S.%f}'\n");
        const RunFinished r = run(cfg, u"files"_s);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"create"_s);
        QVERIFY2(r.error.contains(u"/missing-sparky-source"_s)
                && r.error.contains(u"[Errno 2] No such file or directory"_s),
            qPrintable(describe(r)));
        QCOMPARE(step(r, u"create"_s)->exitCode.value_or(-1), 1); // borg itself only warned
    }

    void lockedRepositoryGivesBorgsLockError()
    {
        const QString repo = path(u"repo1"_s);
        const qint64 holder = holdLock(repo);
        const AgentConfig cfg = config(repo,
            "  files:\n    repository: repo\n    sources: [" + path(u"src"_s).toUtf8() + "]\n");
        const RunFinished r = run(cfg, u"files"_s);
        releaseLock(holder);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"create"_s);
        QVERIFY2(r.error.contains(u"Failed to create/acquire the lock"_s)
                && r.error.contains(u"timeout"_s),
            qPrintable(describe(r)));
        QCOMPARE(step(r, u"create"_s)->exitCode.value_or(-1), 2);
    }

    void unreachableSshRepository()
    {
        // A loopback port bound by this test but not listening: connection refused, and no
        // other process can take the port meanwhile (a port merely closed again could be).
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        QVERIFY(fd >= 0);
        auto closeFd = qScopeGuard([fd] { ::close(fd); });
        sockaddr_in addr {};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        QCOMPARE(::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
        socklen_t len = sizeof addr;
        QCOMPARE(::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len), 0);
        const quint16 port = ntohs(addr.sin_port);
        const QString url = u"ssh://sparky@127.0.0.1:%1/./repo"_s.arg(port);
        const AgentConfig cfg = config(url,
            "  files:\n    repository: repo\n    sources: [" + path(u"src"_s).toUtf8() + "]\n", {},
            "    ssh_options: [StrictHostKeyChecking=yes, 'UserKnownHostsFile=/dev/null', "
            "ConnectTimeout=5]\n");
        const RunFinished r = run(cfg, u"files"_s);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"init"_s);
        QVERIFY2(r.error.contains(u"Connection refused"_s), qPrintable(describe(r)));
        QVERIFY(r.error.contains(u"Connection closed by remote host"_s));
        QCOMPARE(r.repository, url);
    }

    void failingBeforeHookStopsTheRun()
    {
        const QString repo = path(u"repo1"_s);
        const int before = archives(repo).size();
        const QString marker = path(u"on-error-ran"_s);
        const AgentConfig cfg = config(repo,
            "  files:\n    repository: repo\n    sources: [" + path(u"src"_s).toUtf8()
                + "]\n"
                  "    hooks:\n"
                  "      before:\n"
                  "        - {name: ok, command: [/bin/true]}\n"
                  "        - {name: stop-app, command: [/bin/sh, -c, 'echo app will not stop >&2; "
                  "exit 3']}\n"
                  "      after: [{name: never, command: [/bin/true]}]\n"
                  "      on_error: [{name: note, command: [/bin/sh, -c, 'echo "
                  "\"$SPARKY_FAILED_STEP|$SPARKY_JOB\" > "
                + marker.toUtf8() + "']}]\n");
        const RunFinished r = run(cfg, u"files"_s);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"hook:before:stop-app"_s);
        QVERIFY2(r.error.contains(u"hook 'stop-app'"_s) && r.error.contains(u"status 3"_s)
                && r.error.contains(u"app will not stop"_s),
            qPrintable(describe(r)));
        QVERIFY(step(r, u"hook:before:ok"_s));
        QVERIFY(!step(r, u"create"_s));
        QVERIFY(!step(r, u"hook:after:never"_s));
        QVERIFY(step(r, u"hook:on-error:note"_s));
        QFile f(marker);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll().trimmed(), QByteArray("hook:before:stop-app|files"));
        QCOMPARE(archives(repo).size(), before);
    }

    void logTailIsRedacted()
    {
        const QString repo = path(u"repo1"_s);
        const AgentConfig cfg = config(repo,
            "  files:\n    repository: repo\n    sources: [" + path(u"src/sub"_s).toUtf8()
                + "]\n"
                  "    archive_name: '{job}-redact-{now:%Y%m%d%H%M%S.%f}'\n"
                  "    hooks: {before: [{name: leak, command: [/bin/cat, "
                + path(u"pass"_s).toUtf8() + "]}]}\n");
        const RunFinished r = run(cfg, u"files"_s);
        QVERIFY2(r.status == Status::Success, qPrintable(describe(r)));
        QVERIFY(r.logTail.contains(u"[hook:before:leak] ***"_s));
        QVERIFY(!r.logTail.contains(QLatin1StringView(kPassphrase)));
    }

    void runsOnOneRepositoryQueue()
    {
        const QString repo = path(u"repo1"_s);
        const AgentConfig cfg = config(repo,
            "  a:\n    repository: repo\n    sources: [" + path(u"src/sub"_s).toUtf8()
                + "]\n"
                  "    archive_name: '{job}-{now:%Y%m%d%H%M%S.%f}'\n"
                  "  b:\n    repository: repo\n    sources: ["
                + path(u"src/sub"_s).toUtf8()
                + "]\n"
                  "    archive_name: '{job}-{now:%Y%m%d%H%M%S.%f}'\n");
        RunRequest ra, rb;
        ra.job = u"a"_s;
        rb.job = u"b"_s;
        RunExecutor a(cfg, ra, &m_locks);
        RunExecutor b(cfg, rb, &m_locks);
        QStringList order;
        connect(&a, &RunExecutor::started, this, [&] { order.append(u"a+"_s); });
        connect(&a, &RunExecutor::finished, this, [&] { order.append(u"a-"_s); });
        connect(&b, &RunExecutor::started, this, [&] { order.append(u"b+"_s); });
        connect(&b, &RunExecutor::finished, this, [&](const RunFinished &r) {
            order.append(u"b-"_s);
            QCOMPARE(r.status, Status::Success);
        });
        a.start();
        b.start();
        QTRY_VERIFY_WITH_TIMEOUT(a.currentProcessId() != 0, 30000);
        QVERIFY(m_locks.isHeld(repo));
        QCOMPARE(m_locks.waiting(repo), 1);
        QTRY_COMPARE_WITH_TIMEOUT(order.size(), 4, 120000);
        QCOMPARE(order, (QStringList { u"a+"_s, u"a-"_s, u"b+"_s, u"b-"_s }));
        QVERIFY(!m_locks.isHeld(repo));
    }

    void cancelKillsTheHooksProcessGroup()
    {
        const QString repo = path(u"repo1"_s);
        const QString pidFile = path(u"bg.pid"_s);
        const AgentConfig cfg = config(repo,
            "  files:\n    repository: repo\n    sources: [" + path(u"src"_s).toUtf8()
                + "]\n"
                  "    hooks: {before: [{name: slow, command: [/bin/sh, -c, 'sleep 300 & echo $! > "
                + pidFile.toUtf8() + "; wait']}]}\n");
        RunRequest req;
        req.job = u"files"_s;
        RunExecutor ex(cfg, req, &m_locks);
        QSignalSpy finished(&ex, &RunExecutor::finished);
        ex.start();
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(pidFile) && QFileInfo(pidFile).size() > 0, 30000);
        const qint64 group = ex.currentProcessId();
        QVERIFY(group > 0);
        QFile f(pidFile);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const qint64 sleeper = f.readAll().trimmed().toLongLong();
        QVERIFY(processAlive(sleeper));
        ex.cancel(u"operator asked"_s);
        QVERIFY(finished.wait(30000));
        const RunFinished r = finished.at(0).at(0).value<RunFinished>();
        QCOMPARE(r.status, Status::Cancelled);
        QCOMPARE(r.failedStep, u"hook:before:slow"_s);
        QVERIFY(r.error.contains(u"operator asked"_s));
        QTRY_VERIFY_WITH_TIMEOUT(!processAlive(sleeper), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(processesInGroup(group).isEmpty(), 10000);
    }

    void cancelKillsBorg()
    {
        const QString repo = path(u"repo1"_s);
        const qint64 holder = holdLock(repo);
        // borg waits for the lock (long lock_wait) until the cancel ends it.
        const AgentConfig cfg = config(repo,
            "  files:\n    repository: repo\n    sources: [" + path(u"src"_s).toUtf8() + "]\n", {},
            "    lock_wait: 10m\n");
        RunRequest req;
        req.job = u"files"_s;
        RunExecutor ex(cfg, req, &m_locks);
        QSignalSpy finished(&ex, &RunExecutor::finished);
        QSignalSpy steps(&ex, &RunExecutor::stepStarted);
        ex.start();
        QTRY_VERIFY_WITH_TIMEOUT(
            ex.currentStep() == u"create"_s && ex.currentProcessId() > 0, 30000);
        const qint64 group = ex.currentProcessId();
        // The passphrase went through a pipe: not in borg's argv or environment.
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                QFile c(u"/proc/%1/cmdline"_s.arg(group));
                return c.open(QIODevice::ReadOnly) && c.readAll().contains("--lock-wait");
            }(),
            10000); // exec'd
        QFile envFile(u"/proc/%1/environ"_s.arg(group));
        QVERIFY(envFile.open(QIODevice::ReadOnly));
        const QByteArray env = envFile.readAll();
        QVERIFY(env.contains("BORG_PASSPHRASE_FD="));
        QVERIFY(!env.contains(kPassphrase));
        QFile cmdline(u"/proc/%1/cmdline"_s.arg(group));
        QVERIFY(cmdline.open(QIODevice::ReadOnly));
        QVERIFY(!cmdline.readAll().contains(kPassphrase));
        // Let borg reach its lock wait, then cancel.
        QTRY_VERIFY_WITH_TIMEOUT(!processesInGroup(group).isEmpty(), 10000);
        ex.cancel(u"test cancels"_s);
        QVERIFY(finished.wait(30000));
        const RunFinished r = finished.at(0).at(0).value<RunFinished>();
        releaseLock(holder);
        QCOMPARE(r.status, Status::Cancelled);
        QCOMPARE(r.failedStep, u"create"_s);
        QTRY_VERIFY_WITH_TIMEOUT(processesInGroup(group).isEmpty(), 10000);
        QVERIFY(!m_locks.isHeld(repo));
    }

    void unknownJobFailsClearly()
    {
        const AgentConfig cfg
            = config(path(u"repo1"_s), "  files:\n    repository: repo\n    sources: [/etc]\n");
        const RunFinished r = run(cfg, u"nope"_s);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.error, u"unknown job 'nope'"_s);
    }
};

QTEST_GUILESS_MAIN(TestRunExecutor)
#include "tst_runexecutor.moc"
