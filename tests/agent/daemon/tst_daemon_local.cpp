// The daemon without a broker, with real borg: a scheduled job runs by itself; /metrics and
// the textfile pass promtool and show the last run; values survive a restart; a missed run
// is caught up exactly once; a run cut short by a killed agent is reported as such; the
// max run time is enforced; `sparky-agent status` reads the state while the daemon runs;
// metrics are pushed to a real Pushgateway after each run.

#include "agentdaemon.h"
#include "agentmetrics.h"
#include "daemontestsupport.h"
#include "outbox.h"
#include "runmanager.h"
#include "scheduler.h"
#include "statestore.h"
#include "statusreport.h"
#include "testbroker.h"

#include "sparky/protocol.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QSignalSpy>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::agent::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

QDateTime at(int h, int m, int s = 0)
{
    return QDateTime(QDate(2026, 11, 25), QTime(h, m, s), Qt::UTC);
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

int countRows(StateStore *store, const QString &sql)
{
    QSqlQuery q(store->database());
    if (!q.exec(sql) || !q.next())
        return -1;
    return q.value(0).toInt();
}

QList<Envelope> outboxEvents(Outbox *o, const QString &type = {})
{
    QList<Envelope> out;
    auto entries = o->next(0, 100000);
    if (!entries)
        return out;
    for (const OutboxEntry &e : *entries)
        if (type.isEmpty() || e.type == type)
            if (auto env = parseEnvelope(e.body))
                out << *env;
    return out;
}

} // namespace

class TestDaemonLocal : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir{QDir::tempPath() + u"/sparky-daemon-local-XXXXXX"_s};
    QString m_source;

    AgentYaml yaml(const QString &name)
    {
        AgentYaml y;
        y.node = u"t-local"_s;
        y.stateDir = m_dir.filePath(name + u"/state"_s);
        y.repositoryPath = m_dir.filePath(name + u"/repo"_s);
        return y;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        auto src = makeSourceTree(m_dir.filePath(u"src"_s));
        QVERIFY2(src, qPrintable(src ? QString() : src.error().toString()));
        m_source = *src;
    }

    void scheduledRunMetricsCatchUp()
    {
        AgentYaml y = yaml(u"sched"_s);
        QVERIFY(y.useUnreachableBroker(m_dir.filePath(u"sched/broker"_s))); // down: events wait
        y.textfile = m_dir.filePath(u"sched/sparky_agent.prom"_s);
        y.jobs = filesJob(u"files"_s, m_source, u"* * * * *"_s, u"    check:\n      schedule: \"30 12 * * *\"\n"_s);
        auto path = y.write(m_dir.filePath(u"sched/agent.yaml"_s));
        QVERIFY(path);

        ManualClock clock(at(12, 0, 30));
        DaemonOptions options;
        options.configPath = *path;
        options.clock = &clock;
        double lastSuccess = 0;
        {
            AgentDaemon daemon(options);
            auto ok = daemon.start();
            QVERIFY2(ok, qPrintable(ok ? QString() : ok.error().toString()));
            QSignalSpy finished(daemon.runs(), &RunManager::runFinished);
            QVERIFY(daemon.metrics()->port() != 0);

            // Nothing runs before its time; at 12:01 the job runs by itself.
            QCOMPARE(daemon.runs()->runningCount(), 0);
            clock.set(at(12, 1, 0));
            QCOMPARE(daemon.runs()->runningCount(), 1);
            QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
            const auto r = finished.first().at(0).value<proto::RunFinished>();
            QVERIFY2(r.status == proto::Status::Success, qPrintable(r.error + u"\n"_s + r.logTail));
            QCOMPARE(r.trigger, u"schedule"_s);
            auto archives = borgArchives(y.repositoryPath);
            QVERIFY2(archives, qPrintable(archives ? QString() : archives.error().toString()));
            QCOMPARE(archives->size(), 1);

            // /metrics over HTTP passes promtool and shows the run.
            auto text = httpGet(daemon.metrics()->port(), u"/metrics"_s);
            QVERIFY2(text, qPrintable(text ? QString() : text.error().toString()));
            auto checked = promtoolCheck(*text);
            QVERIFY2(checked, qPrintable(checked ? QString() : checked.error().message + u"\n"_s + QString::fromUtf8(*text)));
            const QString labels = u"{job=\"files\",repository=\"local\"}"_s;
            QCOMPARE(sample(*text, u"sparky_backup_last_status"_s + labels), 0.0);
            QCOMPARE(sample(*text, u"sparky_backup_files"_s + labels), 5.0);
            QVERIFY(sample(*text, u"sparky_backup_original_bytes"_s + labels).value_or(0) > 10000);
            QVERIFY(sample(*text, u"sparky_backup_deduplicated_bytes"_s + labels).value_or(-1) > 0);
            QVERIFY(sample(*text, u"sparky_backup_duration_seconds"_s + labels).value_or(-1) > 0);
            QCOMPARE(sample(*text, u"sparky_backup_runs_total{job=\"files\",repository=\"local\",result=\"success\"}"_s), 1.0);
            lastSuccess = sample(*text, u"sparky_backup_last_success_timestamp_seconds"_s + labels).value_or(0);
            QVERIFY(qAbs(lastSuccess - QDateTime::currentSecsSinceEpoch()) < 120);
            QCOMPARE(sample(*text, u"sparky_backup_last_run_timestamp_seconds"_s + labels), lastSuccess);
            QCOMPARE(sample(*text, u"sparky_backup_next_run_timestamp_seconds"_s + labels),
                     double(at(12, 2).toSecsSinceEpoch()));
            QCOMPARE(sample(*text, u"sparky_agent_info{node=\"t-local\",version=\"%1\"}"_s.arg(QStringLiteral(SPARKY_VERSION))), 1.0);
            QCOMPARE(sample(*text, u"sparky_agent_broker_connected"_s), 0.0); // it is down
            QVERIFY(sample(*text, u"sparky_agent_outbox_messages"_s).value_or(0) >= 3); // hello, started, finished
            QVERIFY(!text->contains(y.repositoryPath.toUtf8())); // labels carry the name, never the URL

            // The textfile output (written shortly after the run) passes promtool too.
            QTRY_COMPARE_WITH_TIMEOUT(sample(readFile(y.textfile), u"sparky_backup_files"_s + labels), 5.0, 5000);
            const QByteArray textfile = readFile(y.textfile);
            auto tfChecked = promtoolCheck(textfile);
            QVERIFY2(tfChecked, qPrintable(tfChecked ? QString() : tfChecked.error().message));
            QCOMPARE(sample(textfile, u"sparky_backup_last_success_timestamp_seconds"_s + labels), lastSuccess);

            // The events wait in the outbox, in order (there is no broker here).
            QStringList types;
            for (const Envelope &e : outboxEvents(daemon.outbox()))
                types << e.type;
            QCOMPARE(types.first(), u"agent.hello"_s);
            QCOMPARE(types.at(1), u"run.started"_s);
            QCOMPARE(types.last(), u"run.finished"_s);
            QCOMPARE(types.filter(u"run.finished"_s).size(), 1);

            // 12:30: the backup and the job's borg check are due together; they share the
            // repository, so they run one after the other.
            QVERIFY(!sample(*text, u"sparky_check_last_status"_s + labels));
            QCOMPARE(sample(*text, u"sparky_check_last_success_timestamp_seconds"_s + labels), 0.0); // never
            clock.set(at(12, 30, 0));
            QCOMPARE(daemon.runs()->runningCount(), 2);
            QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 3, 60000);
            QList<proto::RunFinished> both{finished.at(1).at(0).value<proto::RunFinished>(),
                                           finished.at(2).at(0).value<proto::RunFinished>()};
            const auto check = std::find_if(both.cbegin(), both.cend(), [](const auto &f) { return f.kind == proto::RunKind::Check; });
            QVERIFY(check != both.cend());
            QVERIFY2(check->status == proto::Status::Success, qPrintable(check->error + u"\n"_s + check->logTail));
            QVERIFY(both.at(0).startedAt.isValid() && both.at(1).startedAt >= both.at(0).finishedAt.addMSecs(-1));
            text = httpGet(daemon.metrics()->port(), u"/metrics"_s);
            QVERIFY(text);
            QVERIFY(promtoolCheck(*text));
            QCOMPARE(sample(*text, u"sparky_check_last_status"_s + labels), 0.0);
            QVERIFY(sample(*text, u"sparky_check_last_success_timestamp_seconds"_s + labels).value_or(0) >= lastSuccess);
            QCOMPARE(sample(*text, u"sparky_check_runs_total{job=\"files\",repository=\"local\",result=\"success\"}"_s), 1.0);
            QCOMPARE(sample(*text, u"sparky_backup_runs_total{job=\"files\",repository=\"local\",result=\"success\"}"_s), 2.0);
            lastSuccess = sample(*text, u"sparky_backup_last_success_timestamp_seconds"_s + labels).value_or(0);

            QSignalSpy stopped(&daemon, &AgentDaemon::stopped);
            daemon.shutdown(u"test"_s);
            QTRY_COMPARE(stopped.count(), 1);
            QCOMPARE(stopped.first().at(0).toInt(), 0);
        }

        // Down from 12:30 to 12:40:30 — the 12:31 … 12:40 runs were missed: one catch-up run.
        // (The daily check at 12:30 ran: nothing to catch up for it.)
        clock.set(at(12, 40, 30));
        {
            AgentDaemon daemon(options);
            QVERIFY(daemon.start());
            QSignalSpy finished(daemon.runs(), &RunManager::runFinished);
            // The last success survived the restart (restored before any new run finished).
            auto text = httpGet(daemon.metrics()->port(), u"/metrics"_s);
            QVERIFY(text);
            QCOMPARE(sample(*text, u"sparky_backup_last_success_timestamp_seconds{job=\"files\",repository=\"local\"}"_s),
                     lastSuccess);
            QCOMPARE(sample(*text, u"sparky_backup_files{job=\"files\",repository=\"local\"}"_s), 5.0);

            QCOMPARE(daemon.runs()->runningCount(), 1);
            QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
            const auto r = finished.first().at(0).value<proto::RunFinished>();
            QCOMPARE(r.trigger, u"catchup"_s);
            QCOMPARE(r.status, proto::Status::Success);
            QCOMPARE(daemon.runs()->runningCount(), 0);
            QCOMPARE(*daemon.scheduler()->nextRun(u"files"_s, proto::RunKind::Backup), at(12, 41));
            QSignalSpy stopped(&daemon, &AgentDaemon::stopped);
            daemon.shutdown(u"test"_s);
            QTRY_COMPARE(stopped.count(), 1);
        }

        // Restarted again within the same minute: nothing more to catch up.
        clock.set(at(12, 40, 45));
        {
            AgentDaemon daemon(options);
            QVERIFY(daemon.start());
            QCOMPARE(daemon.runs()->runningCount(), 0);
            QCOMPARE(countRows(daemon.state(), u"SELECT COUNT(*) FROM runs WHERE trigger = 'catchup'"_s), 1);
            QCOMPARE(countRows(daemon.state(), u"SELECT COUNT(*) FROM runs WHERE kind = 'backup'"_s), 3);
            QCOMPARE(countRows(daemon.state(), u"SELECT COUNT(*) FROM runs WHERE kind = 'check'"_s), 1);
        }
        auto archives = borgArchives(y.repositoryPath);
        QVERIFY(archives);
        QCOMPARE(archives->size(), 3);
    }

    void killedAgentRunIsReportedFailed()
    {
        AgentYaml y = yaml(u"killed"_s);
        QVERIFY(y.useUnreachableBroker(m_dir.filePath(u"killed/broker"_s)));
        const QString gate = m_dir.filePath(u"killed/go"_s);
        y.jobs = filesJob(u"slow"_s, m_source, {},
                          u"    hooks:\n      before:\n        - name: wait\n          command: \"while [ ! -e %1 ]; do sleep 0.05; done\"\n"_s.arg(gate));
        auto path = y.write(m_dir.filePath(u"killed/agent.yaml"_s));
        QVERIFY(path);
        DaemonOptions options;
        options.configPath = *path;
        QString runId;
        {
            AgentDaemon daemon(options);
            QVERIFY(daemon.start());
            QSignalSpy started(daemon.runs(), &RunManager::runStarted);
            auto run = daemon.runs()->start(proto::RunKind::Backup, u"slow"_s, u"cli"_s);
            QVERIFY(run);
            runId = *run;
            QTRY_COMPARE(started.count(), 1);
            QCOMPARE(countRows(daemon.state(), u"SELECT COUNT(*) FROM runs WHERE state = 'running'"_s), 1);
            // The daemon object goes away without a shutdown, as a killed process would.
        }
        AgentDaemon daemon(options);
        QSignalSpy finished(&daemon, &AgentDaemon::stopped);
        QVERIFY(daemon.start());
        QCOMPARE(countRows(daemon.state(), u"SELECT COUNT(*) FROM runs WHERE state = 'running'"_s), 0);
        const QList<Envelope> results = outboxEvents(daemon.outbox(), u"run.finished"_s);
        QCOMPARE(results.size(), 1);
        auto r = proto::RunFinished::fromJson(results.first().body);
        QVERIFY(r);
        QCOMPARE(r->runId, runId);
        QCOMPARE(r->status, proto::Status::Failed);
        QVERIFY2(r->error.contains(u"agent stopped during the run"_s), qPrintable(r->error));
        auto status = StatusReport::read(y.stateDir, {u"slow"_s});
        QVERIFY(status);
        QCOMPARE(status->jobs.first().lastStatus, u"failed"_s);
        QVERIFY(status->toText().contains(u"agent stopped during the run"_s));
    }

    void maxRunTimeIsEnforced()
    {
        AgentYaml y = yaml(u"maxtime"_s);
        y.jobs = filesJob(u"stuck"_s, m_source, {},
                          u"    max_run_time: 2s\n    hooks:\n      before:\n        - name: hang\n          command: \"sleep 60\"\n"_s);
        auto path = y.write(m_dir.filePath(u"maxtime/agent.yaml"_s));
        QVERIFY(path);
        DaemonOptions options;
        options.configPath = *path;
        AgentDaemon daemon(options);
        QVERIFY(daemon.start());
        QSignalSpy finished(daemon.runs(), &RunManager::runFinished);
        QElapsedTimer t;
        t.start();
        QVERIFY(daemon.runs()->start(proto::RunKind::Backup, u"stuck"_s, u"cli"_s));
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30000);
        QVERIFY(t.elapsed() < 20000);
        const auto r = finished.first().at(0).value<proto::RunFinished>();
        QCOMPARE(r.status, proto::Status::Failed);
        QVERIFY2(r.error.contains(u"max_run_time of 2s"_s), qPrintable(r.error));
        auto archives = borgArchives(y.repositoryPath);
        QVERIFY(!archives || archives->isEmpty());
        // No broker configured: a local-only agent writes no events (nobody would read them).
        QCOMPARE(daemon.outbox()->size(), 0);
    }

    void statusWhileTheDaemonRuns()
    {
        AgentYaml y = yaml(u"status"_s);
        QVERIFY(y.useUnreachableBroker(m_dir.filePath(u"status/broker"_s)));
        y.heartbeat = u"1s"_s;
        const QString gate = m_dir.filePath(u"status/go"_s);
        y.jobs = filesJob(u"gated"_s, m_source, u"0 3 * * *"_s,
                          u"    hooks:\n      before:\n        - name: wait\n          command: \"while [ ! -e %1 ]; do sleep 0.05; done\"\n"_s.arg(gate));
        auto path = y.write(m_dir.filePath(u"status/agent.yaml"_s));
        QVERIFY(path);
        DaemonOptions options;
        options.configPath = *path;
        AgentDaemon daemon(options);
        QVERIFY(daemon.start());
        QSignalSpy started(daemon.runs(), &RunManager::runStarted);
        QSignalSpy finished(daemon.runs(), &RunManager::runFinished);
        QVERIFY(daemon.runs()->start(proto::RunKind::Backup, u"gated"_s, u"cli"_s));
        QTRY_COMPARE(started.count(), 1);

        // Heartbeats say what is running (coalesced: only the newest waits in the outbox).
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
            const auto beats = outboxEvents(daemon.outbox(), u"agent.heartbeat"_s);
            return beats.size() == 1 && beats.first().body.value(u"running_runs"_s).toArray().size() == 1;
        }()), 10000);
        const Envelope beat = outboxEvents(daemon.outbox(), u"agent.heartbeat"_s).first();
        auto hb = proto::AgentHeartbeat::fromJson(beat.body);
        QVERIFY(hb);
        QCOMPARE(hb->configDigest, QString::fromLatin1(daemon.config()->digest));
        QCOMPARE(hb->runningRuns, daemon.runs()->runningRuns());
        QVERIFY(hb->outboxMessages >= 2);

        // The real CLI, while the daemon holds the database.
        QProcess p;
        p.start(sparky::test::binaryPath(u"agent/sparky-agent"_s), {u"status"_s, u"-c"_s, *path});
        QVERIFY(p.waitForFinished(30000));
        const QString text = QString::fromUtf8(p.readAllStandardOutput());
        QVERIFY2(p.exitCode() == 0, qPrintable(text + QString::fromUtf8(p.readAllStandardError())));
        QVERIFY2(text.contains(u"daemon    running"_s), qPrintable(text));
        QVERIFY2(QRegularExpression(u"broker    (connecting|disconnected \\(network: )"_s).match(text).hasMatch(), qPrintable(text));
        QVERIFY2(QRegularExpression(u"gated\\s+backup\\s+\\S+\\s+running"_s).match(text).hasMatch(), qPrintable(text));
        QVERIFY2(text.contains(u"T03:00:00Z"_s), qPrintable(text)); // the next run
        QVERIFY2(text.contains(u"(gated backup, cli)"_s), qPrintable(text));

        QFile go(gate);
        QVERIFY(go.open(QIODevice::WriteOnly));
        go.close();
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
        QSignalSpy stopped(&daemon, &AgentDaemon::stopped);
        daemon.shutdown(u"test"_s);
        QTRY_COMPARE(stopped.count(), 1);

        QProcess json;
        json.start(sparky::test::binaryPath(u"agent/sparky-agent"_s), {u"status"_s, u"-c"_s, *path, u"--json"_s});
        QVERIFY(json.waitForFinished(30000));
        QCOMPARE(json.exitCode(), 3); // not running
        const QJsonObject o = QJsonDocument::fromJson(json.readAllStandardOutput()).object();
        QCOMPARE(o.value(u"daemon"_s).toObject().value(u"state"_s).toString(), u"stopped"_s);
        const QJsonObject line = o.value(u"jobs"_s).toArray().first().toObject();
        QCOMPARE(line.value(u"job"_s).toString(), u"gated"_s);
        QCOMPARE(line.value(u"last_status"_s).toString(), u"success"_s);
        QCOMPARE(o.value(u"outbox"_s).toObject().value(u"messages"_s).toInt(), daemon.outbox()->size());
    }

    void oneDaemonPerStateDirectory()
    {
        AgentYaml y = yaml(u"lock"_s);
        y.jobs = filesJob(u"files"_s, m_source);
        auto path = y.write(m_dir.filePath(u"lock/agent.yaml"_s));
        QVERIFY(path);
        DaemonOptions options;
        options.configPath = *path;
        AgentDaemon first(options);
        QVERIFY(first.start());
        AgentDaemon second(options);
        auto refused = second.start();
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, ErrorCode::Conflict);
        QVERIFY2(refused.error().message.contains(u"already uses the state directory"_s), qPrintable(refused.error().message));
        QSignalSpy stopped(&first, &AgentDaemon::stopped);
        first.shutdown(u"test"_s);
        QTRY_COMPARE(stopped.count(), 1);
        AgentDaemon third(options); // the lock went with the first daemon
        QVERIFY(third.start());
    }

    void pushgatewayAfterEachRun()
    {
        const quint16 port = freePort();
        QVERIFY(port != 0);
        QProcess gateway;
        gateway.setProcessChannelMode(QProcess::MergedChannels);
        gateway.start(u"prometheus-pushgateway"_s,
                      {u"--web.listen-address=127.0.0.1:%1"_s.arg(port), u"--persistence.interval=0"_s});
        QVERIFY2(gateway.waitForStarted(10000), qPrintable(gateway.errorString()));
        auto stopGateway = qScopeGuard([&gateway] {
            gateway.terminate();
            if (!gateway.waitForFinished(10000)) {
                gateway.kill();
                gateway.waitForFinished();
            }
        });
        QTRY_VERIFY_WITH_TIMEOUT(httpGet(port, u"/-/ready"_s).hasValue(), 10000);

        AgentYaml y = yaml(u"push"_s);
        y.pushgateway = u"http://127.0.0.1:%1"_s.arg(port);
        y.jobs = filesJob(u"pushed"_s, m_source);
        auto path = y.write(m_dir.filePath(u"push/agent.yaml"_s));
        QVERIFY(path);
        DaemonOptions options;
        options.configPath = *path;
        AgentDaemon daemon(options);
        QVERIFY(daemon.start());
        QSignalSpy pushed(daemon.metrics(), &AgentMetrics::pushFinished);
        QVERIFY(daemon.runs()->start(proto::RunKind::Backup, u"pushed"_s, u"cli"_s));
        QTRY_VERIFY_WITH_TIMEOUT(pushed.count() >= 1, 60000);
        QVERIFY2(pushed.first().at(0).toBool(), qPrintable(pushed.first().at(1).toString()));

        auto text = httpGet(port, u"/metrics"_s);
        QVERIFY(text);
        // The backup job keeps its name as `job` (its own Pushgateway group), instance = node.
        QCOMPARE(sample(*text, u"sparky_backup_last_status{instance=\"t-local\",job=\"pushed\",repository=\"local\"}"_s), 0.0);
        QCOMPARE(sample(*text, u"sparky_backup_files{instance=\"t-local\",job=\"pushed\",repository=\"local\"}"_s), 5.0);
    }
};

QTEST_GUILESS_MAIN(TestDaemonLocal)
#include "tst_daemon_local.moc"
