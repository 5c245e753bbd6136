// Commands through the real broker (the shared fixture): a signed backup.run starts a real
// borg run and is acked AT ONCE (the management API shows nothing unacknowledged while the
// run is still going); command.update and run events reach the orchestrator's queue;
// forged, expired, misrouted, disallowed and duplicate commands are refused with the reason
// and never run; forged and misrouted ones are dead-lettered; ping and cancel work.

#include "agentdaemon.h"
#include "agentmetrics.h"
#include "outbox.h"
#include "outboxpublisher.h"
#include "daemontestsupport.h"
#include "orchestratorside.h"
#include "runmanager.h"
#include "statestore.h"
#include "testbroker.h"

#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "sparky/signing.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::agent::test;
using namespace sparky::test;
using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
namespace proto = sparky::protocol;
using CmdState = proto::CommandUpdate::State;

class TestDaemonCommands : public QObject
{
    Q_OBJECT

    const QString m_node = u"t-agent-cmd"_s;
    QTemporaryDir m_dir{QDir::tempPath() + u"/sparky-daemon-cmd-XXXXXX"_s};
    std::shared_ptr<TestBroker> m_broker;
    SigningKey m_key = SigningKey::generate().value();
    SigningKey m_forger = SigningKey::generate().value();
    QString m_gate;
    std::unique_ptr<AgentDaemon> m_daemon;
    std::unique_ptr<OrchestratorSide> m_orchestrator; // publishes commands, reads events
    QList<std::tuple<QString, QString, QString, QString>> m_handled; // id, type, outcome, reason

    Envelope command(const QString &type, const QJsonObject &body, const QString &target = {})
    {
        return Envelope::make(type, target.isEmpty() ? m_node : target, body);
    }

    quint64 publish(const Envelope &e, bool brokerExpiry = true) { return m_orchestrator->publish(e, brokerExpiry); }

    Envelope signedCommand(const QString &type, const QJsonObject &body, const SigningKey &key, qint64 issuedAgo = 0,
                           std::chrono::seconds lifetime = 600s, const QString &target = {})
    {
        return m_orchestrator->signedCommand(type, body, key, issuedAgo, lifetime, target);
    }

    // Waits for the daemon to deal with a delivery of this id; returns (outcome, reason).
    std::optional<std::pair<QString, QString>> handled(const QString &id, int nth = 1)
    {
        std::optional<std::pair<QString, QString>> found;
        (void)QTest::qWaitFor([&] {
            int n = 0;
            for (const auto &[hid, type, outcome, reason] : std::as_const(m_handled))
                if (hid == id && ++n == nth) {
                    found = std::pair{outcome, reason};
                    return true;
                }
            return false;
        }, 20000);
        return found;
    }

    QList<proto::CommandUpdate> updatesFor(const QString &commandId) const
    {
        return m_orchestrator->updatesFor(commandId);
    }

    std::optional<proto::RunFinished> finishedEvent(const QString &runId) const
    {
        return m_orchestrator->finishedEvent(runId);
    }

    int runsOfCommand(const QString &commandId) const
    {
        QSqlQuery q(m_daemon->state()->database());
        q.prepare(u"SELECT COUNT(*) FROM runs WHERE command_id = ?"_s);
        q.addBindValue(commandId);
        return q.exec() && q.next() ? q.value(0).toInt() : -1;
    }

    QJsonObject queueInfo(const QString &queue) const
    {
        auto r = m_broker->management(u"GET"_s, u"/queues/sparky/"_s + queue);
        return r ? QJsonDocument::fromJson(*r).object() : QJsonObject();
    }

    // Message ids in the orchestrator's dead-letter queue, peeked (requeued), not consumed.
    QStringList deadLetterIds() const
    {
        auto r = m_broker->management(u"POST"_s, u"/queues/sparky/sparky.orchestrator.dead/get"_s,
                                      R"({"count":500,"ackmode":"ack_requeue_true","encoding":"auto","truncate":2000})");
        QStringList ids;
        if (!r)
            return ids;
        for (const QJsonValue &m : QJsonDocument::fromJson(*r).array())
            ids << m.toObject().value(u"properties"_s).toObject().value(u"message_id"_s).toString();
        return ids;
    }

    void openGate(bool open)
    {
        if (open) {
            QFile f(m_gate);
            (void)f.open(QIODevice::WriteOnly);
        } else {
            QFile::remove(m_gate);
        }
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        auto broker = TestBroker::shared();
        QVERIFY2(broker, qPrintable(broker ? QString() : broker.error().toString()));
        m_broker = *broker;
        auto settings = m_broker->node(m_node);
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().toString()));
        auto source = makeSourceTree(m_dir.filePath(u"src"_s));
        QVERIFY(source);
        m_gate = m_dir.filePath(u"gate"_s);

        AgentYaml y;
        y.node = m_node;
        y.stateDir = m_dir.filePath(u"state"_s);
        y.repositoryPath = m_dir.filePath(u"repo"_s);
        y.broker = *settings;
        y.orchestratorKey = m_key.publicKeyBase64();
        y.allowed = {u"backup.run"_s, u"backup.cancel"_s, u"agent.ping"_s};
        y.jobs = filesJob(u"quick"_s, *source)
                 + filesJob(u"slow"_s, *source, {},
                            u"    hooks:\n      before:\n        - name: wait-for-gate\n          command: \"while [ ! -e %1 ]; do sleep 0.05; done\"\n"_s
                                .arg(m_gate));
        auto path = y.write(m_dir.filePath(u"agent.yaml"_s));
        QVERIFY(path);

        m_orchestrator = std::make_unique<OrchestratorSide>(m_broker, m_node);
        auto up = m_orchestrator->start();
        QVERIFY2(up, qPrintable(up ? QString() : up.error().toString()));

        DaemonOptions options;
        options.configPath = *path;
        options.shutdownGrace = 1s;
        m_daemon = std::make_unique<AgentDaemon>(options);
        connect(m_daemon.get(), &AgentDaemon::commandHandled, this,
                [this](const QString &id, const QString &type, const QString &outcome, const QString &reason) {
                    m_handled.append({id, type, outcome, reason});
                });
        auto ok = m_daemon->start();
        QVERIFY2(ok, qPrintable(ok ? QString() : ok.error().toString()));
        QTRY_VERIFY_WITH_TIMEOUT(m_daemon->broker()->isConnected(), 20000);
        // The agent says hello through the broker.
        QTRY_VERIFY_WITH_TIMEOUT(std::any_of(m_orchestrator->events().cbegin(), m_orchestrator->events().cend(),
                                             [](const Envelope &e) { return e.type == proto::type::AgentHello; }),
                                 20000);
    }

    void cleanupTestCase()
    {
        openGate(true);
        if (m_daemon) {
            QSignalSpy stopped(m_daemon.get(), &AgentDaemon::stopped);
            m_daemon->shutdown(u"test end"_s);
            QTRY_COMPARE_WITH_TIMEOUT(stopped.count(), 1, 30000);
        }
        m_daemon.reset();
        if (m_orchestrator)
            m_orchestrator->stop();
    }

    void backupRunIsAckedAtOnce()
    {
        openGate(false);
        const QString queue = proto::agentQueue(m_node);
        const qint64 acksBefore = queueInfo(queue).value(u"message_stats"_s).toObject().value(u"ack"_s).toInteger();
        QSignalSpy started(m_daemon->runs(), &RunManager::runStarted);
        const Envelope c = signedCommand(u"backup.run"_s, {{u"job"_s, u"slow"_s}}, m_key);
        publish(c);
        auto h = handled(c.id);
        QVERIFY(h);
        QCOMPARE(h->first, u"executed"_s);
        QTRY_COMPARE_WITH_TIMEOUT(started.count(), 1, 20000);
        const auto s = started.first().at(0).value<proto::RunStarted>();
        QCOMPARE(s.trigger, u"command"_s);
        QCOMPARE(s.commandId, c.id);

        // The run waits on its before-hook; the broker already has the ack, and nothing of
        // this queue is ready or unacknowledged.
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
            const QJsonObject q = queueInfo(queue);
            return q.value(u"message_stats"_s).toObject().value(u"ack"_s).toInteger() >= acksBefore + 1
                   && q.value(u"messages_unacknowledged"_s).toInt(-1) == 0 && q.value(u"messages_ready"_s).toInt(-1) == 0;
        }()), 30000);
        QCOMPARE(m_daemon->runs()->runningCount(), 1);
        QVERIFY(!finishedEvent(s.runId));

        // command.update Running (with the run id) is already at the orchestrator.
        QTRY_VERIFY_WITH_TIMEOUT(!updatesFor(c.id).isEmpty(), 20000);
        QCOMPARE(updatesFor(c.id).first().state, CmdState::Running);
        QCOMPARE(updatesFor(c.id).first().runId, s.runId);

        openGate(true);
        QTRY_VERIFY_WITH_TIMEOUT(finishedEvent(s.runId).has_value(), 60000);
        const proto::RunFinished r = *finishedEvent(s.runId);
        QVERIFY2(r.status == proto::Status::Success, qPrintable(r.error + u"\n"_s + r.logTail));
        QCOMPARE(r.commandId, c.id);
        QTRY_COMPARE_WITH_TIMEOUT(updatesFor(c.id).size(), 2, 20000);
        QCOMPARE(updatesFor(c.id).at(1).state, CmdState::Succeeded);
        QCOMPARE(updatesFor(c.id).at(1).runId, s.runId);
        QCOMPARE(runsOfCommand(c.id), 1);
    }

    void refused_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("outcome");
        QTest::addColumn<int>("update"); // -1: no command.update
        QTest::addColumn<bool>("deadLettered");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("forged signature") << u"forged"_s << u"unauthenticated"_s << -1 << true
                                          << u"signature does not verify"_s;
        QTest::newRow("unsigned") << u"unsigned"_s << u"unauthenticated"_s << -1 << true << u"not signed"_s;
        QTest::newRow("expired") << u"expired"_s << u"expired"_s << int(CmdState::Expired) << false << u"expired at"_s;
        QTest::newRow("wrong target") << u"target"_s << u"misrouted"_s << -1 << true << u"targets node 't-elsewhere'"_s;
        QTest::newRow("type not allowed") << u"type"_s << u"not_allowed"_s << int(CmdState::Rejected) << false
                                          << u"not allowed"_s;
        QTest::newRow("unknown job") << u"job"_s << u"executed"_s << int(CmdState::Rejected) << false
                                     << u"no job named 'nope'"_s;
    }

    void refused()
    {
        QFETCH(QString, kind);
        QFETCH(QString, outcome);
        QFETCH(int, update);
        QFETCH(bool, deadLettered);
        QFETCH(QString, mentions);

        const QJsonObject quick{{u"job"_s, u"quick"_s}};
        Envelope c;
        bool brokerExpiry = true;
        if (kind == u"forged") {
            c = signedCommand(u"backup.run"_s, quick, m_forger);
        } else if (kind == u"unsigned") {
            c = command(u"backup.run"_s, quick);
            c.expires = c.ts.addSecs(600);
        } else if (kind == u"expired") {
            // Issued 20 min ago for 10 min. The broker would drop it; a hostile or slow one
            // need not, so it goes out without an AMQP expiration: the agent must refuse it.
            c = signedCommand(u"backup.run"_s, quick, m_key, 1200, 600s);
            brokerExpiry = false;
        } else if (kind == u"target") {
            c = signedCommand(u"backup.run"_s, quick, m_key, 0, 600s, u"t-elsewhere"_s);
        } else if (kind == u"type") {
            c = signedCommand(u"shell.exec"_s, {}, m_key); // no such command type
        } else if (kind == u"job") {
            c = signedCommand(u"backup.run"_s, {{u"job"_s, u"nope"_s}}, m_key);
        }
        const int runsBefore = [&] {
            QSqlQuery q(m_daemon->state()->database());
            return q.exec(u"SELECT COUNT(*) FROM runs"_s) && q.next() ? q.value(0).toInt() : -1;
        }();
        publish(c, brokerExpiry);
        auto h = handled(c.id);
        QVERIFY2(h, "the daemon never dealt with the delivery");
        QCOMPARE(h->first, outcome);
        if (outcome != u"executed"_s)
            QVERIFY2(h->second.contains(mentions), qPrintable(h->second));

        // Never run.
        QCOMPARE(m_daemon->runs()->runningCount(), 0);
        QCOMPARE(runsOfCommand(c.id), 0);
        QSqlQuery q(m_daemon->state()->database());
        QVERIFY(q.exec(u"SELECT COUNT(*) FROM runs"_s) && q.next());
        QCOMPARE(q.value(0).toInt(), runsBefore);

        if (update >= 0) {
            QTRY_COMPARE_WITH_TIMEOUT(updatesFor(c.id).size(), 1, 20000);
            const proto::CommandUpdate u = updatesFor(c.id).first();
            QCOMPARE(int(u.state), update);
            QVERIFY2(u.error.contains(mentions), qPrintable(u.error));
        }
        if (deadLettered)
            QTRY_VERIFY_WITH_TIMEOUT(deadLetterIds().contains(c.id), 20000);
        // Nothing stays in the agent's queue.
        QTRY_COMPARE_WITH_TIMEOUT(queueInfo(proto::agentQueue(m_node)).value(u"messages"_s).toInt(-1), 0, 20000);
        if (update < 0)
            QVERIFY(updatesFor(c.id).isEmpty()); // an unauthenticated id is not reported on
    }

    void duplicateRunsOnce()
    {
        const Envelope c = signedCommand(u"backup.run"_s, {{u"job"_s, u"quick"_s}}, m_key);
        publish(c);
        publish(c); // the broker redelivering, or a replay
        auto first = handled(c.id, 1);
        auto second = handled(c.id, 2);
        QVERIFY(first && second);
        QCOMPARE(first->first, u"executed"_s);
        QCOMPARE(second->first, u"duplicate"_s);
        QTRY_COMPARE_WITH_TIMEOUT(updatesFor(c.id).size(), 2, 60000); // Running, Succeeded
        QCOMPARE(updatesFor(c.id).at(0).state, CmdState::Running);
        QCOMPARE(updatesFor(c.id).at(1).state, CmdState::Succeeded);
        QCOMPARE(runsOfCommand(c.id), 1);
    }

    void pingAndCancel()
    {
        const Envelope ping = signedCommand(u"agent.ping"_s, {}, m_key);
        publish(ping);
        QTRY_COMPARE_WITH_TIMEOUT(updatesFor(ping.id).size(), 1, 20000);
        const proto::CommandUpdate pong = updatesFor(ping.id).first();
        QCOMPARE(pong.state, CmdState::Succeeded);
        QCOMPARE(pong.result.value(u"version"_s).toString(), QStringLiteral(SPARKY_VERSION));
        QCOMPARE(pong.result.value(u"config_digest"_s).toString(), QString::fromLatin1(m_daemon->config()->digest));
        QVERIFY(parseTimestamp(pong.result.value(u"time"_s).toString()).has_value());

        openGate(false);
        const Envelope run = signedCommand(u"backup.run"_s, {{u"job"_s, u"slow"_s}}, m_key);
        publish(run);
        QTRY_COMPARE_WITH_TIMEOUT(updatesFor(run.id).size(), 1, 20000);
        const QString runId = updatesFor(run.id).first().runId;
        QVERIFY(!runId.isEmpty());
        const Envelope cancel = signedCommand(u"backup.cancel"_s, {{u"run_id"_s, runId}}, m_key);
        publish(cancel);
        QTRY_COMPARE_WITH_TIMEOUT(updatesFor(cancel.id).size(), 1, 20000);
        QCOMPARE(updatesFor(cancel.id).first().state, CmdState::Succeeded);
        QTRY_VERIFY_WITH_TIMEOUT(finishedEvent(runId).has_value(), 30000);
        const proto::RunFinished r = *finishedEvent(runId);
        QCOMPARE(r.status, proto::Status::Cancelled);
        QVERIFY2(r.error.contains(cancel.id), qPrintable(r.error));
        QTRY_COMPARE_WITH_TIMEOUT(updatesFor(run.id).size(), 2, 20000);
        QCOMPARE(updatesFor(run.id).at(1).state, CmdState::Failed);

        // Cancelling what is not running fails with the reason.
        const Envelope again = signedCommand(u"backup.cancel"_s, {{u"run_id"_s, runId}}, m_key);
        publish(again);
        QTRY_COMPARE_WITH_TIMEOUT(updatesFor(again.id).size(), 1, 20000);
        QCOMPARE(updatesFor(again.id).first().state, CmdState::Failed);
        QVERIFY2(updatesFor(again.id).first().error.contains(u"no run with id"_s), qPrintable(updatesFor(again.id).first().error));
    }

    void metricsShowBrokerAndCommands()
    {
        auto text = httpGet(m_daemon->metrics()->port(), u"/metrics"_s);
        QVERIFY(text);
        auto checked = promtoolCheck(*text);
        QVERIFY2(checked, qPrintable(checked ? QString() : checked.error().message));
        QCOMPARE(sample(*text, u"sparky_agent_broker_connected"_s), 1.0);
        QCOMPARE(sample(*text, u"sparky_agent_outbox_messages"_s), 0.0);
        QVERIFY(sample(*text, u"sparky_agent_commands_total{result=\"unauthenticated\",type=\"backup.run\"}"_s).value_or(0) >= 2);
        QVERIFY(sample(*text, u"sparky_agent_commands_total{result=\"duplicate\",type=\"backup.run\"}"_s).value_or(0) >= 1);
        QCOMPARE(sample(*text, u"sparky_agent_commands_total{result=\"not_allowed\",type=\"other\"}"_s), 1.0);
        QCOMPARE(sample(*text, u"sparky_backup_runs_total{job=\"slow\",repository=\"local\",result=\"cancelled\"}"_s), 1.0);
    }

    void refusedEventIsRetriedBeforeNewerOnes()
    {
        // A node whose topic permission (misconfigured) lets only agent.* events through:
        // run.started is refused by the broker until an operator fixes the permission.
        const QString node = u"t-agent-perm"_s;
        auto settings = m_broker->node(node);
        QVERIFY(settings);
        auto setTopicWrite = [&](const QString &pattern) {
            const QByteArray body = QJsonDocument(QJsonObject{{u"exchange"_s, u"sparky.events"_s},
                                                              {u"write"_s, pattern}, {u"read"_s, u"^$"_s}})
                                        .toJson(QJsonDocument::Compact);
            return m_broker->management(u"PUT"_s, u"/topic-permissions/sparky/"_s + node, body);
        };
        QVERIFY(setTopicWrite(u"^t-agent-perm\\.agent\\."_s));
        auto restore = qScopeGuard([&] { (void)setTopicWrite(u"^t-agent-perm\\."_s); });

        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        Outbox outbox(store->get(), 1000);
        QVERIFY(outbox.open());
        OutboxPublisher::Options options;
        options.minBackoff = std::chrono::milliseconds(200);
        options.maxBackoff = std::chrono::milliseconds(400);
        OutboxPublisher publisher(&outbox, node, options);
        QSignalSpy retrying(&publisher, &OutboxPublisher::retrying);
        AmqpClient client(*settings);
        publisher.setClient(&client);
        client.start();

        auto make = [&](QLatin1StringView type) { return Envelope::make(QString(type), node, {}); };
        // The orchestrator side keeps only the main test node's events; collect this one's too.
        QList<Envelope> mine;
        auto conn = connect(m_orchestrator->eventsClient(), &AmqpClient::delivered, this, [&](const Delivery &d) {
            if (auto e = parseEnvelope(d.body); e && e->node == node)
                mine << *e;
        });
        auto stopCollecting = qScopeGuard([&] { disconnect(conn); });

        const Envelope hello = make(proto::type::AgentHello);
        QVERIFY(outbox.add(hello));
        QTRY_COMPARE_WITH_TIMEOUT(outbox.size(), 0, 20000);

        const Envelope started = make(proto::type::RunStarted);
        QVERIFY(outbox.add(started));
        QTRY_VERIFY_WITH_TIMEOUT(retrying.count() >= 1, 20000);
        QCOMPARE(retrying.first().at(0).toString(), started.id);
        QCOMPARE(retrying.first().at(2).value<Error>().code, ErrorCode::AccessRefused);

        // Written after the refusal: it must wait behind the refused event.
        const Envelope finished = make(proto::type::RunFinished);
        QVERIFY(outbox.add(finished));
        QTRY_VERIFY_WITH_TIMEOUT(retrying.count() >= 3, 20000); // retried, still refused
        QCOMPARE(outbox.size(), 2);
        for (const auto &r : std::as_const(retrying))
            QCOMPARE(r.at(0).toString(), started.id); // only the oldest is tried

        // The operator fixes the permission: both go out, in order, once each.
        QVERIFY(setTopicWrite(u"^t-agent-perm\\."_s));
        QTRY_COMPARE_WITH_TIMEOUT(outbox.size(), 0, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(mine.size(), 3, 20000);
        QStringList order;
        for (const Envelope &e : std::as_const(mine))
            order << e.id;
        QCOMPARE(order, (QStringList{hello.id, started.id, finished.id}));
        publisher.setClient(nullptr);
        client.stop();
    }
};

QTEST_GUILESS_MAIN(TestDaemonCommands)
#include "tst_daemon_commands.moc"
