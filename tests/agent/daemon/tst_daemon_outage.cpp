// With the broker down, three scheduled runs happen (real borg), across a restart of the
// daemon object; when a broker of the test's own comes back, every event arrives at the
// orchestrator's queue exactly once and in the order it was written: run by run, started
// before finished.

#include "agentdaemon.h"
#include "daemontestsupport.h"
#include "outbox.h"
#include "runmanager.h"
#include "testbroker.h"

#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "sparky/signing.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::agent::test;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

QDateTime at(int h, int m, int s = 0)
{
    return QDateTime(QDate(2026, 11, 25), QTime(h, m, s), Qt::UTC);
}

QStringList outboxIds(Outbox *o)
{
    QStringList ids;
    if (auto entries = o->next(0, 100000))
        for (const OutboxEntry &e : *entries)
            ids << e.id;
    return ids;
}

// One scheduled run: move the clock to the next minute and wait for the run to end.
std::optional<proto::RunFinished> runOnce(AgentDaemon &daemon, ManualClock &clock, const QDateTime &when)
{
    QSignalSpy finished(daemon.runs(), &RunManager::runFinished);
    clock.set(when);
    if (!QTest::qWaitFor([&] { return finished.count() == 1; }, 60000))
        return std::nullopt;
    return finished.first().at(0).value<proto::RunFinished>();
}

} // namespace

class TestDaemonOutage : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void eventsSurviveOutageAndRestartInOrder()
    {
        QTemporaryDir dir(QDir::tempPath() + u"/sparky-outage-XXXXXX"_s);
        QVERIFY(dir.isValid());
        auto brokerOrError = TestBroker::startPrivate(dir.filePath(u"broker"_s));
        QVERIFY2(brokerOrError, qPrintable(brokerOrError ? QString() : brokerOrError.error().toString()));
        std::shared_ptr<TestBroker> broker = *brokerOrError;
        const QString node = u"t-outage"_s;
        auto settings = broker->node(node);
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().toString()));
        auto stopped = broker->stop();
        QVERIFY2(stopped, qPrintable(stopped ? QString() : stopped.error().toString()));

        auto source = makeSourceTree(dir.filePath(u"src"_s));
        QVERIFY(source);
        AgentYaml y;
        y.node = node;
        y.stateDir = dir.filePath(u"state"_s);
        y.repositoryPath = dir.filePath(u"repo"_s);
        y.broker = *settings;
        y.orchestratorKey = SigningKey::generate()->publicKeyBase64();
        y.jobs = filesJob(u"files"_s, *source, u"* * * * *"_s);
        auto path = y.write(dir.filePath(u"agent.yaml"_s));
        QVERIFY(path);

        ManualClock clock(at(12, 0, 30));
        DaemonOptions options;
        options.configPath = *path;
        options.clock = &clock;
        QStringList runIds;
        {
            AgentDaemon daemon(options);
            auto ok = daemon.start();
            QVERIFY2(ok, qPrintable(ok ? QString() : ok.error().toString()));
            for (int minute : {1, 2}) {
                auto r = runOnce(daemon, clock, at(12, minute));
                QVERIFY(r);
                QVERIFY2(r->status == proto::Status::Success, qPrintable(r->error));
                runIds << r->runId;
            }
            QVERIFY(!daemon.broker()->isConnected()); // the backups did not need it
            QSignalSpy down(&daemon, &AgentDaemon::stopped);
            daemon.shutdown(u"test restart"_s);
            QTRY_COMPARE(down.count(), 1);
        }

        AgentDaemon daemon(options);
        QVERIFY(daemon.start());
        // What the first process left is still there, and the third run adds to it.
        QVERIFY(daemon.outbox()->size() >= 5);
        auto r = runOnce(daemon, clock, at(12, 3));
        QVERIFY(r);
        QCOMPARE(r->status, proto::Status::Success);
        runIds << r->runId;
        const QStringList written = outboxIds(daemon.outbox());

        // The broker comes back; the orchestrator reads its queue.
        auto restarted = broker->start();
        QVERIFY2(restarted, qPrintable(restarted ? QString() : restarted.error().toString()));
        AmqpClient orchestrator(broker->orchestrator());
        QList<Delivery> received;
        connect(&orchestrator, &AmqpClient::delivered, this, [&](const Delivery &d) {
            received << d;
            orchestrator.ack(d);
        });
        orchestrator.consume(ConsumerOptions{QString(proto::kEventsQueue), 100});
        orchestrator.start();

        QTRY_COMPARE_WITH_TIMEOUT(daemon.outbox()->size(), 0, 60000);
        QTRY_COMPARE_WITH_TIMEOUT(received.size(), written.size(), 30000);

        // Exactly once each, in the order written; identity from the broker.
        QStringList ids, types;
        QHash<QString, int> seen;
        QList<std::pair<QString, QString>> runEvents; // (run id, type)
        for (const Delivery &d : std::as_const(received)) {
            auto e = parseEnvelope(d.body);
            QVERIFY(e);
            QCOMPARE(d.properties.messageId, e->id);
            QCOMPARE(d.properties.userId, node);
            QCOMPARE(e->node, node);
            QCOMPARE(d.routingKey, node + u'.' + e->type);
            QVERIFY2(proto::validateEventBody(*e), qPrintable(e->type));
            ids << e->id;
            types << e->type;
            seen[e->id] += 1;
            if (e->type.startsWith(u"run."_s))
                runEvents.append({e->body.value(u"run_id"_s).toString(), e->type});
        }
        for (auto it = seen.cbegin(); it != seen.cend(); ++it)
            QVERIFY2(it.value() == 1, qPrintable(u"event %1 arrived %2 times"_s.arg(it.key()).arg(it.value())));
        QCOMPARE(ids, written);
        QCOMPARE(types.filter(u"agent.hello"_s).size(), 2);

        // Run by run: started, (progress…), finished — run 1, then 2, then 3.
        QStringList order;
        for (const auto &[run, type] : std::as_const(runEvents))
            if (type != u"run.progress"_s)
                order << u"%1 %2"_s.arg(runIds.indexOf(run) + 1).arg(type);
        QCOMPARE(order, (QStringList{u"1 run.started"_s, u"1 run.finished"_s, u"2 run.started"_s,
                                     u"2 run.finished"_s, u"3 run.started"_s, u"3 run.finished"_s}));
        for (qsizetype i = 0; i < runEvents.size(); ++i)
            if (runEvents.at(i).second == u"run.progress"_s) // between its run's started and finished
                QVERIFY(runIds.indexOf(runEvents.at(i).first) >= 0);

        QSignalSpy down(&daemon, &AgentDaemon::stopped);
        daemon.shutdown(u"test end"_s);
        QTRY_COMPARE(down.count(), 1);
        orchestrator.stop();
    }
};

QTEST_GUILESS_MAIN(TestDaemonOutage)
#include "tst_daemon_outage.moc"
