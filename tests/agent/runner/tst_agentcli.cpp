// The real sparky-agent binary: check-config, run, check, list-jobs, exit codes, and a
// signal cancelling a foreground run.
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <csignal>
#include <sys/types.h>

using namespace Qt::StringLiterals;

namespace {
struct Result
{
    int exitCode = -1;
    QString out;
    QString err;
};
bool alive(pid_t pid)
{
    QFile f(u"/proc/%1/stat"_s.arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return false;
    const QByteArray stat = f.readAll();
    return stat.mid(stat.lastIndexOf(')') + 2, 1) != "Z"; // a zombie is gone for our purpose
}
} // namespace

class TestAgentCli : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_binary;

    QString path(const QString &p) const { return m_dir.filePath(p); }

    void writeFile(const QString &name, const QByteArray &data)
    {
        QDir().mkpath(QFileInfo(path(name)).path());
        QFile f(path(name));
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(data);
        f.close();
        QVERIFY(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner));
    }

    Result agent(const QStringList &args)
    {
        QProcess p;
        p.start(m_binary, args);
        if (!p.waitForFinished(120000))
            qFatal("sparky-agent %s did not finish", qPrintable(args.join(u' ')));
        return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError()) };
    }

    QByteArray goodConfig() const
    {
        return "node: cli-test\nhostname: clihost\nstate_dir: " + path(u"state"_s).toUtf8()
            + "\n"
              "repositories:\n  main:\n    url: "
            + path(u"repo"_s).toUtf8()
            + "\n"
              "    passphrase_file: "
            + path(u"pass"_s).toUtf8()
            + "\n    lock_wait: 5s\n"
              "jobs:\n"
              "  files:\n    repository: main\n    sources: ["
            + path(u"src"_s).toUtf8()
            + "]\n"
              "    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
              "    schedule: '30 2 * * *'\n    time_zone: Europe/Berlin\n    jitter: 1h\n"
              "    check: {schedule: '@weekly', repository_only: true}\n"
              "  broken:\n    repository: main\n    sources: ["
            + path(u"src"_s).toUtf8()
            + ", /nonexistent-cli-source]\n"
              "    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
              "  slow:\n    repository: main\n    sources: ["
            + path(u"src"_s).toUtf8()
            + "]\n"
              "    hooks: {before: [{name: wait, command: [/bin/sh, -c, 'sleep 300 & echo $! > "
            + path(u"slow.pid"_s).toUtf8() + "; wait']}]}\n";
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_binary = qEnvironmentVariable("SPARKY_BINARY_DIR") + u"/agent/sparky-agent"_s;
        QVERIFY2(QFileInfo(m_binary).isExecutable(), qPrintable(m_binary));
        writeFile(u"pass"_s, "cli-test-passphrase\n");
        writeFile(u"src/file.txt"_s, "content\n");
        writeFile(u"agent.yaml"_s, goodConfig());
    }

    void checkConfigAcceptsAGoodConfig()
    {
        const Result r = agent({ u"check-config"_s, u"-c"_s, path(u"agent.yaml"_s) });
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(r.out.contains(u"configuration OK"_s));
        QVERIFY(r.out.contains(u"3 jobs"_s));
    }

    void checkConfigRejectsBadYamlWithFileAndLine()
    {
        writeFile(u"bad-syntax.yaml"_s,
            "node: cli-test\njobs:\n  files:\n    repository: main: x\n    sources: [/etc]\n");
        const Result r = agent({ u"check-config"_s, u"--config"_s, path(u"bad-syntax.yaml"_s) });
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(
                     path(u"bad-syntax.yaml"_s) + u":4:21: YAML syntax error: illegal map value"_s),
            qPrintable(r.err));
    }

    void checkConfigListsEveryProblem()
    {
        writeFile(u"bad-values.yaml"_s,
            "node: cli-test\nrepositories:\n  main:\n    url: relative/path\n    encryption: none\n"
            "jobs:\n  files:\n    repository: other\n    sources: [/etc]\n    schedule: '* * * "
            "*'\n    colour: red\n");
        const Result r = agent({ u"check-config"_s, u"-c"_s, path(u"bad-values.yaml"_s) });
        QCOMPARE(r.exitCode, 1);
        const QString f = path(u"bad-values.yaml"_s);
        for (const QString &want : QStringList { f + u":4:10: repositories.main.url"_s,
                 f + u":8:17: jobs.files.repository: unknown repository 'other'"_s,
                 f + u":10:15: jobs.files.schedule: invalid cron expression"_s,
                 f + u":11:5: jobs.files.colour: unknown key"_s })
            QVERIFY2(r.err.contains(want), qPrintable(u"missing «%1» in:\n%2"_s.arg(want, r.err)));
    }

    void runPrintsSummaryAndExitsLikeBorg()
    {
        const Result ok = agent({ u"run"_s, u"files"_s, u"-c"_s, path(u"agent.yaml"_s) });
        QVERIFY2(ok.exitCode == 0, qPrintable(ok.out + ok.err));
        QVERIFY(ok.out.contains(u"backup of job files"_s) && ok.out.contains(u": success in"_s));
        QVERIFY(ok.out.contains(u"archive clihost-files-"_s));
        QVERIFY(ok.err.contains(u"== create"_s)); // progress goes to stderr

        const Result json
            = agent({ u"run"_s, u"files"_s, u"--json"_s, u"-c"_s, path(u"agent.yaml"_s) });
        QCOMPARE(json.exitCode, 0);
        QVERIFY(json.out.contains(u"\"status\": \"success\""_s));

        const Result failed = agent({ u"run"_s, u"broken"_s, u"-c"_s, path(u"agent.yaml"_s) });
        QCOMPARE(failed.exitCode, 2);
        QVERIFY(failed.out.contains(u"failed step: create"_s));
        QVERIFY(failed.out.contains(u"/nonexistent-cli-source"_s));

        const Result unknown = agent({ u"run"_s, u"nope"_s, u"-c"_s, path(u"agent.yaml"_s) });
        QCOMPARE(unknown.exitCode, 2);
        QVERIFY(unknown.err.contains(u"unknown job 'nope'"_s));
    }

    void checkRunsBorgCheck()
    {
        const Result r = agent({ u"check"_s, u"files"_s, u"-c"_s, path(u"agent.yaml"_s) });
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        QVERIFY(r.out.contains(u"check of job files"_s));
    }

    void listJobsShowsNextRunsInTheJobsZone()
    {
        const Result r
            = agent({ u"list-jobs"_s, u"-c"_s, path(u"agent.yaml"_s), u"--count"_s, u"2"_s });
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(r.out.contains(u"schedule: 30 2 * * * in Europe/Berlin, jitter 3600 s"_s));
        // 02:30 plus this node's jitter (under an hour) in Berlin time: 02:3x..03:2x CET/CEST.
        const QStringList next = r.out.split(u'\n').filter(u"    next: "_s);
        QCOMPARE(next.size(), 3); // 2 backup runs + 1 check
        QVERIFY2(next.first().contains(u" CET"_s) || next.first().contains(u" CEST"_s),
            qPrintable(next.first()));
        QVERIFY(r.out.contains(u"slow"_s) && r.out.contains(u"schedule: none"_s));
    }

    void usageAndUnknownCommand()
    {
        const Result help = agent({ u"--help"_s });
        QCOMPARE(help.exitCode, 0);
        for (const char *c : { "check-config", "run", "check", "list-jobs" })
            QVERIFY(help.out.contains(QString::fromLatin1(c)));
        const Result bad = agent({ u"frobnicate"_s });
        QCOMPARE(bad.exitCode, 2);
        QVERIFY(bad.err.contains(u"unknown command 'frobnicate'"_s));
    }

    void sigtermCancelsAForegroundRun()
    {
        QProcess p;
        p.start(m_binary, { u"run"_s, u"slow"_s, u"-c"_s, path(u"agent.yaml"_s) });
        QVERIFY(p.waitForStarted());
        const QString pidFile = path(u"slow.pid"_s);
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(pidFile).size() > 0, 30000);
        QFile f(pidFile);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const pid_t sleeper = pid_t(f.readAll().trimmed().toInt());
        QVERIFY(alive(sleeper));
        ::kill(pid_t(p.processId()), SIGTERM);
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 2);
        const QString out = QString::fromUtf8(p.readAllStandardOutput());
        QVERIFY2(out.contains(u": cancelled in"_s) && out.contains(u"terminated (SIGTERM)"_s),
            qPrintable(out));
        QTRY_VERIFY_WITH_TIMEOUT(!alive(sleeper), 10000); // the hook's child went too
    }
};

QTEST_GUILESS_MAIN(TestAgentCli)
#include "tst_agentcli.moc"
