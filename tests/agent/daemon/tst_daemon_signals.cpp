// The real `sparky-agent daemon` binary as a child process: SIGHUP with a broken config
// keeps it running on the old config with the reason (file:line) in the log; SIGHUP with a
// good one applies it; SIGTERM exits 0 within the grace period; SIGTERM during a running
// backup lets it run for the grace period, then cancels it and reports it interrupted;
// after SIGKILL the next start reports the cut-short run as failed.

#include "daemontestsupport.h"
#include "statestore.h"
#include "statusreport.h"
#include "testbroker.h"

#include "sparky/envelope.h"
#include "sparky/protocol.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::agent::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

struct Agent
{
    QProcess process;
    QByteArray log;

    explicit Agent(const QStringList &args)
    {
        process.setProcessChannelMode(QProcess::MergedChannels);
        QObject::connect(&process, &QProcess::readyRead, &process, [this] { log += process.readAll(); });
        process.start(sparky::test::binaryPath(u"agent/sparky-agent"_s), QStringList{u"daemon"_s} + args);
    }
    ~Agent()
    {
        if (process.state() != QProcess::NotRunning) {
            process.kill();
            process.waitForFinished(10000);
        }
    }
    bool logged(const QString &text) const { return QString::fromUtf8(log).contains(text); }
    void signal(int sig) { ::kill(pid_t(process.processId()), sig); }
};

QJsonObject status(const QString &config)
{
    // --state-dir: `status` must work even while the config file is broken.
    const QString stateDir = QFileInfo(config).dir().filePath(u"state"_s);
    QProcess p;
    p.start(sparky::test::binaryPath(u"agent/sparky-agent"_s),
            {u"status"_s, u"-c"_s, config, u"--state-dir"_s, stateDir, u"--json"_s});
    p.waitForFinished(30000);
    return QJsonDocument::fromJson(p.readAllStandardOutput()).object();
}

// Makes the hourly job look as if its last run was two hours ago: it is caught up at start.
Result seedMissedRun(const QString &stateDir, const QString &job)
{
    auto store = StateStore::open(stateDir);
    if (!store)
        return store.error();
    QSqlQuery q((*store)->database());
    q.prepare(u"INSERT INTO schedule(job, kind, last_fire) VALUES(?, 'backup', ?)"_s);
    q.addBindValue(job);
    q.addBindValue(formatTimestamp(QDateTime::currentDateTimeUtc().addSecs(-7200)));
    return StateStore::exec(q, u"seeding"_s);
}

QList<Envelope> outboxEvents(const QString &stateDir, const QString &type)
{
    QList<Envelope> out;
    auto store = StateStore::open(stateDir, StateStore::Mode::ReadOnly);
    if (!store)
        return out;
    QSqlQuery q((*store)->database());
    q.prepare(u"SELECT body FROM outbox WHERE type = ? ORDER BY seq"_s);
    q.addBindValue(type);
    if (q.exec())
        while (q.next())
            if (auto e = parseEnvelope(q.value(0).toByteArray()))
                out << *e;
    return out;
}

} // namespace

class TestDaemonSignals : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir{QDir::tempPath() + u"/sparky-daemon-signals-XXXXXX"_s};
    QString m_source;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(QFile::exists(sparky::test::binaryPath(u"agent/sparky-agent"_s)));
        auto src = makeSourceTree(m_dir.filePath(u"src"_s));
        QVERIFY(src);
        m_source = *src;
    }

    void hangupReloadsOrKeepsTheOldConfig()
    {
        AgentYaml y;
        y.node = u"t-signals"_s;
        y.stateDir = m_dir.filePath(u"reload/state"_s);
        y.repositoryPath = m_dir.filePath(u"reload/repo"_s);
        QVERIFY(y.useUnreachableBroker(m_dir.filePath(u"reload/broker"_s)));
        y.jobs = filesJob(u"files"_s, m_source, u"0 3 * * *"_s);
        const QString config = m_dir.filePath(u"reload/agent.yaml"_s);
        QVERIFY(y.write(config));

        Agent agent({u"-c"_s, config, u"--shutdown-grace"_s, u"10s"_s});
        QTRY_VERIFY_WITH_TIMEOUT(agent.logged(u"started;"_s), 20000);
        QTRY_VERIFY_WITH_TIMEOUT(!status(config).value(u"config"_s).toObject().value(u"digest"_s).toString().isEmpty(), 10000);
        const QString digest = status(config).value(u"config"_s).toObject().value(u"digest"_s).toString();

        // A broken config (line 20 or so: an impossible minute) is refused, the agent goes on.
        AgentYaml broken = y;
        broken.jobs = filesJob(u"files"_s, m_source, u"61 3 * * *"_s);
        QVERIFY(broken.write(config));
        agent.signal(SIGHUP);
        QTRY_VERIFY_WITH_TIMEOUT(agent.logged(u"configuration reload REJECTED"_s), 10000);
        const QString log = QString::fromUtf8(agent.log);
        QVERIFY2(QRegularExpression(QRegularExpression::escape(config) + u":\\d+:\\d+: jobs\\.files\\.schedule"_s)
                     .match(log).hasMatch(), qPrintable(log));
        QCOMPARE(agent.process.state(), QProcess::Running);
        QJsonObject s = status(config);
        QCOMPARE(s.value(u"config"_s).toObject().value(u"digest"_s).toString(), digest);
        QVERIFY(s.value(u"config"_s).toObject().value(u"rejected"_s).toString().contains(u"schedule"_s));
        QVERIFY(s.value(u"daemon"_s).toObject().value(u"running"_s).toBool());
        // It reported the rejection as an event too.
        const QList<Envelope> rejected = outboxEvents(y.stateDir, u"config.rejected"_s);
        QCOMPARE(rejected.size(), 1);
        QVERIFY(rejected.first().body.value(u"error"_s).toString().contains(u"schedule"_s));

        // A good new config is applied.
        AgentYaml better = y;
        better.jobs = filesJob(u"files"_s, m_source, u"0 4 * * *"_s);
        QVERIFY(better.write(config));
        agent.signal(SIGHUP);
        QTRY_VERIFY_WITH_TIMEOUT(agent.logged(u"configuration reloaded"_s), 10000);
        s = status(config);
        QVERIFY(s.value(u"config"_s).toObject().value(u"digest"_s).toString() != digest);
        QVERIFY(s.value(u"config"_s).toObject().value(u"rejected"_s).toString().isEmpty());
        QVERIFY(s.value(u"jobs"_s).toArray().first().toObject().value(u"next_run_at"_s).toString().endsWith(u"T04:00:00.000Z"_s));
        QCOMPARE(outboxEvents(y.stateDir, u"config.applied"_s).size(), 1);

        // SIGTERM: a clean exit, well within the grace period.
        QElapsedTimer t;
        t.start();
        agent.signal(SIGTERM);
        QVERIFY(agent.process.waitForFinished(10000));
        QVERIFY(t.elapsed() < 10000);
        QCOMPARE(agent.process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(agent.process.exitCode(), 0);
        QCOMPARE(status(config).value(u"daemon"_s).toObject().value(u"state"_s).toString(), u"stopped"_s);
    }

    void invalidConfigAtStartIsFatal()
    {
        const QString config = m_dir.filePath(u"bad/agent.yaml"_s);
        AgentYaml y;
        y.stateDir = m_dir.filePath(u"bad/state"_s);
        y.repositoryPath = m_dir.filePath(u"bad/repo"_s);
        y.jobs = filesJob(u"files"_s, m_source, u"* * *"_s);
        QVERIFY(y.write(config));
        Agent agent({u"-c"_s, config});
        QVERIFY(agent.process.waitForFinished(20000));
        QCOMPARE(agent.process.exitCode(), 78); // EX_CONFIG: systemd does not restart-loop
        QVERIFY2(agent.logged(config + u":"_s), agent.log.constData());
    }

    void terminateDuringABackupCancelsAfterTheGrace()
    {
        AgentYaml y;
        y.node = u"t-signals"_s;
        y.stateDir = m_dir.filePath(u"term/state"_s);
        y.repositoryPath = m_dir.filePath(u"term/repo"_s);
        QVERIFY(y.useUnreachableBroker(m_dir.filePath(u"term/broker"_s)));
        const QString gate = m_dir.filePath(u"term/gate"_s); // never created: the run waits
        y.jobs = filesJob(u"gated"_s, m_source, u"0 * * * *"_s,
                          u"    hooks:\n      before:\n        - name: wait\n          command: \"while [ ! -e %1 ]; do sleep 0.05; done\"\n"_s.arg(gate));
        const QString config = m_dir.filePath(u"term/agent.yaml"_s);
        QVERIFY(y.write(config));
        QVERIFY(seedMissedRun(y.stateDir, u"gated"_s));

        Agent agent({u"-c"_s, config, u"--shutdown-grace"_s, u"2s"_s});
        QTRY_VERIFY_WITH_TIMEOUT(agent.logged(u"[wait]"_s) || agent.logged(u"hook:before:wait"_s)
                                     || agent.logged(u"catching up once now"_s), 20000);
        QTRY_VERIFY_WITH_TIMEOUT(outboxEvents(y.stateDir, u"run.started"_s).size() == 1, 20000);
        QElapsedTimer t;
        t.start();
        agent.signal(SIGTERM);
        QVERIFY(agent.process.waitForFinished(30000));
        const qint64 took = t.elapsed();
        QCOMPARE(agent.process.exitCode(), 0);
        QVERIFY2(took >= 1500, "the run was not given its grace period");
        QVERIFY2(took < 20000, "the shutdown took far longer than grace + cancel");
        QVERIFY2(agent.logged(u"shutdown grace period of 2 s"_s), agent.log.constData());

        const QList<Envelope> finished = outboxEvents(y.stateDir, u"run.finished"_s);
        QCOMPARE(finished.size(), 1);
        auto r = proto::RunFinished::fromJson(finished.first().body);
        QVERIFY(r);
        QCOMPARE(r->trigger, u"catchup"_s);
        QCOMPARE(r->status, proto::Status::Cancelled);
        QVERIFY2(r->error.contains(u"interrupted: the agent is stopping (SIGTERM)"_s), qPrintable(r->error));
        auto report = StatusReport::read(y.stateDir, {u"gated"_s});
        QVERIFY(report);
        QCOMPARE(report->jobs.first().lastStatus, u"cancelled"_s);
        QVERIFY(report->runningRuns.isEmpty());
    }

    void killedDuringABackupIsReportedAtNextStart()
    {
        AgentYaml y;
        y.node = u"t-signals"_s;
        y.stateDir = m_dir.filePath(u"kill/state"_s);
        y.repositoryPath = m_dir.filePath(u"kill/repo"_s);
        QVERIFY(y.useUnreachableBroker(m_dir.filePath(u"kill/broker"_s)));
        const QString gate = m_dir.filePath(u"kill/gate"_s);
        y.jobs = filesJob(u"gated"_s, m_source, u"0 * * * *"_s,
                          u"    catch_up: false\n    hooks:\n      before:\n        - name: wait\n          command: \"while [ ! -e %1 ]; do sleep 0.05; done\"\n"_s.arg(gate));
        const QString config = m_dir.filePath(u"kill/agent.yaml"_s);
        QVERIFY(y.write(config));
        // catch_up off here: seed a missed run with it on first, then turn it off for the restart.
        AgentYaml first = y;
        first.jobs = filesJob(u"gated"_s, m_source, u"0 * * * *"_s,
                              u"    hooks:\n      before:\n        - name: wait\n          command: \"while [ ! -e %1 ]; do sleep 0.05; done\"\n"_s.arg(gate));
        QVERIFY(first.write(config));
        QVERIFY(seedMissedRun(y.stateDir, u"gated"_s));
        {
            Agent agent({u"-c"_s, config});
            QTRY_VERIFY_WITH_TIMEOUT(outboxEvents(y.stateDir, u"run.started"_s).size() == 1, 20000);
            agent.signal(SIGKILL);
            QVERIFY(agent.process.waitForFinished(10000));
        }
        QJsonObject s = status(config);
        QVERIFY(!s.value(u"daemon"_s).toObject().value(u"running"_s).toBool());
        QCOMPARE(s.value(u"running"_s).toArray().size(), 1); // as recorded by the dead agent

        QVERIFY(y.write(config));
        Agent agent({u"-c"_s, config});
        QTRY_VERIFY_WITH_TIMEOUT(agent.logged(u"started;"_s), 20000);
        const QList<Envelope> finished = outboxEvents(y.stateDir, u"run.finished"_s);
        QCOMPARE(finished.size(), 1);
        auto r = proto::RunFinished::fromJson(finished.first().body);
        QVERIFY(r);
        QCOMPARE(r->status, proto::Status::Failed);
        QVERIFY2(r->error.contains(u"agent stopped during the run"_s), qPrintable(r->error));
        s = status(config);
        QCOMPARE(s.value(u"jobs"_s).toArray().first().toObject().value(u"last_status"_s).toString(), u"failed"_s);
        QVERIFY(s.value(u"running"_s).toArray().isEmpty());
        agent.signal(SIGTERM);
        QVERIFY(agent.process.waitForFinished(10000));
        QCOMPARE(agent.process.exitCode(), 0);
    }
};

QTEST_GUILESS_MAIN(TestDaemonSignals)
#include "tst_daemon_signals.moc"
