// BrokerManagement against the real RabbitMQ of the ctest fixture `broker`: what addNode
// creates lets the node in with exactly the rights of the model (publish its own events,
// consume its own queue, nothing else), rotateToken and removeNode take access away at
// once, and nodes enrolled by broker-config/bin/sparky-node look the same.

#include "brokermanagement.h"
#include "sparky/amqpclient.h"
#include "sparky/envelope.h"
#include "sparky/protocol.h"
#include "sparky/secrets.h"
#include "testbroker.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::orchestrator;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

OutgoingMessage eventFrom(const QString &node, const QString &routingNode)
{
    Envelope e = Envelope::make(
        u"test.ping"_s, node, QJsonObject { { u"from"_s, u"tst_brokermanagement"_s } });
    OutgoingMessage m;
    m.exchange = QString(proto::kEventsExchange);
    m.routingKey = proto::eventRoutingKey(routingNode, u"test.ping"_s);
    m.body = serializeEnvelope(e);
    m.properties = propertiesFor(e, node);
    return m;
}

// Waits for the publish with `token` to be confirmed or to fail; the error if it failed.
std::optional<Error> outcome(AmqpClient &client, quint64 token)
{
    std::optional<Error> failure;
    bool done = false;
    auto c1 = QObject::connect(&client, &AmqpClient::confirmed, &client,
        [&](const QList<quint64> &t) { done = done || t.contains(token); });
    auto c2 = QObject::connect(
        &client, &AmqpClient::publishFailed, &client, [&](quint64 t, const Error &e) {
            if (t == token) {
                failure = e;
                done = true;
            }
        });
    (void)QTest::qWaitFor([&] { return done; }, 20000);
    QObject::disconnect(c1);
    QObject::disconnect(c2);
    if (!done)
        return Error(ErrorCode::Timeout, u"no confirm or failure for publish %1"_s.arg(token));
    return failure;
}

} // namespace

class TestBrokerManagement : public QObject
{
    Q_OBJECT

    std::shared_ptr<TestBroker> m_broker;
    QTemporaryDir m_dir;
    QString m_run; // per-run prefix: reruns against one broker never collide
    QStringList m_enrolled;
    int m_counter = 0;

    ManagementSettings mgmt() const
    {
        ManagementSettings s;
        s.baseUrl = QUrl(u"https://%1:%2"_s.arg(m_broker->host()).arg(m_broker->managementPort()));
        s.user = m_broker->value(u"SPARKY_BROKER_ADMIN_USER"_s);
        s.passwordFile = m_broker->value(u"SPARKY_BROKER_ADMIN_PASSWORD_FILE"_s);
        s.caFile = m_broker->caFile();
        s.vhost = m_broker->value(u"SPARKY_BROKER_VHOST"_s);
        s.timeout = std::chrono::milliseconds(15000);
        return s;
    }

    QString nodeId(const QString &what)
    {
        const QString id = m_run + u'-' + what;
        m_enrolled.append(id);
        return id;
    }

    // Broker settings of `node` logging in with `token` (written to a 0600 file).
    BrokerSettings as(const QString &node, const QByteArray &token)
    {
        const QString file = m_dir.filePath(u"token-%1"_s.arg(++m_counter));
        if (auto ok = writeSecretFile(file, token); !ok)
            qFatal("%s", qPrintable(ok.error().toString()));
        return m_broker->settings(node, file);
    }

    // Connects and reports the outcome: nullopt = connected, else the permanent error.
    static std::optional<Error> login(const BrokerSettings &settings)
    {
        AmqpClient client(settings);
        QSignalSpy connected(&client, &AmqpClient::connected);
        QSignalSpy failed(&client, &AmqpClient::failed);
        client.start();
        if (!QTest::qWaitFor([&] { return connected.count() > 0 || failed.count() > 0; }, 20000))
            return Error(ErrorCode::Timeout, u"neither connected nor failed"_s);
        client.stop();
        if (connected.count() > 0)
            return std::nullopt;
        return failed.first().first().value<Error>();
    }

    static QString describe(const Result &r) { return r ? QString() : r.error().toString(); }
    template<typename T> static QString describe(const Expected<T> &r)
    {
        return r ? QString() : r.error().toString();
    }

private Q_SLOTS:
    void initTestCase()
    {
        qRegisterMetaType<Error>();
        qRegisterMetaType<Delivery>();
        QVERIFY(m_dir.isValid());
        auto b = TestBroker::shared();
        QVERIFY2(b, qPrintable(describe(b)));
        m_broker = *b;
        m_run = u"o2-%1"_s.arg(QRandomGenerator::global()->bounded(0x10000), 4, 16, QChar(u'0'));
    }

    void cleanupTestCase()
    {
        // Leave the shared broker as we found it.
        if (!m_broker)
            return;
        BrokerManagement bm(mgmt());
        for (const QString &node : std::as_const(m_enrolled))
            (void)bm.removeNode(node);
    }

    void tokensAreLongAndUrlSafe()
    {
        const QByteArray a = BrokerManagement::newToken();
        const QByteArray b = BrokerManagement::newToken();
        QCOMPARE(a.size(), 43); // 32 bytes, base64url without padding
        QVERIFY(a != b);
        QVERIFY(
            QRegularExpression(u"^[A-Za-z0-9_-]{43}$"_s).match(QString::fromLatin1(a)).hasMatch());
        QCOMPARE(QByteArray::fromBase64(a, QByteArray::Base64UrlEncoding).size(), 32);
    }

    void enrolledNodeHasExactlyItsOwnRights()
    {
        BrokerManagement bm(mgmt());
        const QString node = nodeId(u"a"_s);
        const QString other = nodeId(u"b"_s);
        auto token = bm.addNode(node);
        QVERIFY2(token, qPrintable(describe(token)));
        auto otherToken = bm.addNode(other);
        QVERIFY2(otherToken, qPrintable(describe(otherToken)));

        auto status = bm.nodeStatus(node);
        QVERIFY2(status, qPrintable(describe(status)));
        QVERIFY2(status->matchesModel(), qPrintable(status->problems.join(u"; "_s)));
        QVERIFY(status->userExists && status->queueExists && status->bindingExists);
        auto nodes = bm.listNodes();
        QVERIFY2(nodes, qPrintable(describe(nodes)));
        QVERIFY(nodes->contains(node));
        QVERIFY(nodes->contains(other));
        QVERIFY(!nodes->contains(m_broker->value(u"SPARKY_BROKER_ORCHESTRATOR_USER"_s)));

        // The queue is what the model says: durable classic, single active consumer, and
        // the broker's agent-queue policy applies to it.
        auto q = m_broker->management(u"GET"_s, u"/queues/sparky/"_s + proto::agentQueue(node));
        QVERIFY2(q, qPrintable(describe(q)));
        const QJsonObject queue = QJsonDocument::fromJson(*q).object();
        QCOMPARE(queue.value(u"durable"_s).toBool(), true);
        QCOMPARE(queue.value(u"type"_s).toString(), u"classic"_s);
        QCOMPARE(
            queue.value(u"arguments"_s).toObject().value(u"x-single-active-consumer"_s).toBool(),
            true);
        // The policy shows up in the management statistics a few seconds later.
        QTRY_COMPARE_WITH_TIMEOUT(([&] {
            auto again
                = m_broker->management(u"GET"_s, u"/queues/sparky/"_s + proto::agentQueue(node));
            return again ? QJsonDocument::fromJson(*again).object().value(u"policy"_s).toString()
                         : QString();
        }()),
            u"sparky-agent-queues"_s, 20000);

        const BrokerSettings nodeSettings = as(node, *token);
        AmqpClient client(nodeSettings);
        QSignalSpy connected(&client, &AmqpClient::connected);
        QSignalSpy consumerErrors(&client, &AmqpClient::consumerError);
        QList<Delivery> commands;
        connect(&client, &AmqpClient::delivered, this, [&](const Delivery &d) {
            commands.append(d);
            client.ack(d);
        });
        client.consume(ConsumerOptions { proto::agentQueue(node), 10 });
        client.start();
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, 15000);

        // It publishes its own events (and they reach the orchestrator's queue)…
        const OutgoingMessage event = eventFrom(node, node);
        const auto published = outcome(client, client.publish(event));
        QVERIFY2(!published, qPrintable(published ? published->toString() : QString()));
        {
            AmqpClient orchestrator(m_broker->orchestrator());
            bool arrived = false;
            connect(&orchestrator, &AmqpClient::delivered, this, [&](const Delivery &d) {
                if (d.properties.messageId == event.properties.messageId) {
                    QCOMPARE(d.properties.userId, node);
                    orchestrator.ack(d);
                    arrived = true;
                } // anything else stays unacknowledged and goes back when we stop
            });
            orchestrator.consume(ConsumerOptions { QString(proto::kEventsQueue), 200 });
            orchestrator.start();
            QTRY_VERIFY_WITH_TIMEOUT(arrived, 15000);
            orchestrator.stop();
        }
        // …but not as another node (topic permission on the routing key)…
        const auto asOther = outcome(client, client.publish(eventFrom(node, other)));
        QVERIFY(asOther);
        QCOMPARE(asOther->code, ErrorCode::AccessRefused);
        // …and not commands.
        OutgoingMessage command = eventFrom(node, node);
        command.exchange = QString(proto::kCommandsExchange);
        command.routingKey = other;
        const auto asCommand = outcome(client, client.publish(command));
        QVERIFY(asCommand);
        QCOMPARE(asCommand->code, ErrorCode::AccessRefused);

        // Commands for it arrive on its queue through the sparky.commands binding.
        {
            AmqpClient orchestrator(m_broker->orchestrator());
            orchestrator.start();
            Envelope e = Envelope::make(u"test.command"_s, node);
            OutgoingMessage m;
            m.exchange = QString(proto::kCommandsExchange);
            m.routingKey = node;
            m.mandatory = true; // unroutable would fail: the binding must exist
            m.body = serializeEnvelope(e);
            m.properties = propertiesFor(e, m_broker->value(u"SPARKY_BROKER_ORCHESTRATOR_USER"_s));
            const auto sent = outcome(orchestrator, orchestrator.publish(m));
            QVERIFY2(!sent, qPrintable(sent ? sent->toString() : QString()));
            QTRY_COMPARE_WITH_TIMEOUT(commands.size(), 1, 15000);
            QCOMPARE(commands.first().properties.messageId, e.id);
            orchestrator.stop();
        }
        QCOMPARE(consumerErrors.count(), 0);

        // It cannot consume another node's queue.
        AmqpClient nosy(as(node, *token));
        QSignalSpy nosyErrors(&nosy, &AmqpClient::consumerError);
        nosy.consume(ConsumerOptions { proto::agentQueue(other), 10 });
        nosy.start();
        QTRY_VERIFY_WITH_TIMEOUT(nosyErrors.count() >= 1, 15000);
        QCOMPARE(nosyErrors.first().at(0).toString(), proto::agentQueue(other));
        QCOMPARE(nosyErrors.first().at(1).value<Error>().code, ErrorCode::AccessRefused);
        nosy.stop();
        client.stop();
    }

    void existingNodeIsRefusedUnlessAskedToRotate()
    {
        BrokerManagement bm(mgmt());
        const QString node = nodeId(u"again"_s);
        auto first = bm.addNode(node);
        QVERIFY2(first, qPrintable(describe(first)));
        auto twice = bm.addNode(node);
        QVERIFY(!twice);
        QCOMPARE(twice.error().code, ErrorCode::Conflict);
        QVERIFY2(twice.error().message.contains(node), qPrintable(twice.error().message));
        QVERIFY(!login(as(node, *first))); // the refusal changed nothing

        // Someone broke the model meanwhile; re-enrolling with rotation repairs it.
        QVERIFY(m_broker->management(u"PUT"_s, u"/permissions/sparky/"_s + node,
            R"({"configure":".*","write":".*","read":".*"})"));
        auto broken = bm.nodeStatus(node);
        QVERIFY(broken);
        QVERIFY(!broken->matchesModel());
        QVERIFY2(broken->problems.join(u' ').contains(u"configure"_s),
            qPrintable(broken->problems.join(u"; "_s)));

        auto second = bm.addNode(node, BrokerManagement::IfExists::RotateToken);
        QVERIFY2(second, qPrintable(describe(second)));
        QVERIFY(*second != *first);
        auto repaired = bm.nodeStatus(node);
        QVERIFY(repaired);
        QVERIFY2(repaired->matchesModel(), qPrintable(repaired->problems.join(u"; "_s)));
        const auto oldLogin = login(as(node, *first));
        QVERIFY(oldLogin);
        QCOMPARE(oldLogin->code, ErrorCode::Auth);
        const auto newLogin = login(as(node, *second));
        QVERIFY2(!newLogin, qPrintable(newLogin ? newLogin->toString() : QString()));
    }

    void rotatedTokenEndsTheOldOneAtOnce()
    {
        BrokerManagement bm(mgmt());
        const QString node = nodeId(u"rotate"_s);
        auto token = bm.addNode(node);
        QVERIFY2(token, qPrintable(describe(token)));

        // A live connection with the old token…
        AmqpClient live(as(node, *token));
        QSignalSpy connected(&live, &AmqpClient::connected);
        QSignalSpy disconnected(&live, &AmqpClient::disconnected);
        QSignalSpy failed(&live, &AmqpClient::failed);
        live.start();
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, 15000);

        auto fresh = bm.rotateToken(node);
        QVERIFY2(fresh, qPrintable(describe(fresh)));
        QVERIFY(*fresh != *token);
        QCOMPARE(fresh->size(), 43);
        // …is closed by the broker, and cannot come back with the old token.
        QTRY_VERIFY_WITH_TIMEOUT(disconnected.count() >= 1, 15000);
        QTRY_VERIFY_WITH_TIMEOUT(failed.count() >= 1, 20000);
        QCOMPARE(failed.first().first().value<Error>().code, ErrorCode::Auth);
        QCOMPARE(connected.count(), 1);
        live.stop();

        const auto newLogin = login(as(node, *fresh));
        QVERIFY2(!newLogin, qPrintable(newLogin ? newLogin->toString() : QString()));
        auto status = bm.nodeStatus(node);
        QVERIFY(status);
        QVERIFY2(status->matchesModel(), qPrintable(status->problems.join(u"; "_s)));

        auto unknown = bm.rotateToken(m_run + u"-never-enrolled"_s);
        QVERIFY(!unknown);
        QCOMPARE(unknown.error().code, ErrorCode::NotFound);
    }

    void removedNodeCanNoLongerLogIn()
    {
        BrokerManagement bm(mgmt());
        const QString node = nodeId(u"gone"_s);
        auto token = bm.addNode(node);
        QVERIFY2(token, qPrintable(describe(token)));
        QVERIFY(!login(as(node, *token)));

        QVERIFY2(bm.removeNode(node), "removeNode failed");
        const auto after = login(as(node, *token));
        QVERIFY(after);
        QCOMPARE(after->code, ErrorCode::Auth);
        auto status = bm.nodeStatus(node);
        QVERIFY(status);
        QVERIFY(!status->userExists);
        QVERIFY(!status->queueExists);
        QVERIFY(!status->bindingExists);
        auto q = m_broker->management(u"GET"_s, u"/queues/sparky/"_s + proto::agentQueue(node));
        QVERIFY(!q); // 404: the queue and its binding are gone
        auto nodes = bm.listNodes();
        QVERIFY(nodes);
        QVERIFY(!nodes->contains(node));

        auto again = bm.removeNode(node);
        QVERIFY(!again);
        QCOMPARE(again.error().code, ErrorCode::NotFound);
    }

    void shellEnrolledNodesMatchTheSameModel()
    {
        // broker-config/bin/sparky-node (through the fixture) and BrokerManagement must
        // produce the same permissions, topic permissions, queue and binding.
        const QString shellNode = nodeId(u"shell"_s);
        auto shellSettings = m_broker->node(shellNode);
        QVERIFY2(shellSettings, qPrintable(describe(shellSettings)));
        BrokerManagement bm(mgmt());
        auto status = bm.nodeStatus(shellNode);
        QVERIFY2(status, qPrintable(describe(status)));
        QVERIFY2(status->matchesModel(), qPrintable(status->problems.join(u"; "_s)));
        auto nodes = bm.listNodes();
        QVERIFY(nodes && nodes->contains(shellNode));

        const QString cppNode = nodeId(u"cpp"_s);
        QVERIFY(bm.addNode(cppNode));
        const auto normalised = [&](const QString &path, const QString &node) {
            auto r = m_broker->management(u"GET"_s, path.arg(node));
            return r ? QString::fromUtf8(*r).replace(node, u"NODE"_s) : u"error"_s;
        };
        for (const QString &path :
            { u"/permissions/sparky/%1"_s, u"/topic-permissions/sparky/%1"_s }) {
            QCOMPARE(normalised(path, cppNode), normalised(path, shellNode));
        }
        const auto queueShape = [&](const QString &node) {
            auto r = m_broker->management(u"GET"_s, u"/queues/sparky/"_s + proto::agentQueue(node));
            const QJsonObject o = r ? QJsonDocument::fromJson(*r).object() : QJsonObject();
            // (not "policy": the statistics show it only seconds after the queue appears)
            return QJsonObject { { u"durable"_s, o.value(u"durable"_s) },
                { u"type"_s, o.value(u"type"_s) }, { u"arguments"_s, o.value(u"arguments"_s) } };
        };
        QCOMPARE(queueShape(cppNode), queueShape(shellNode));
        QVERIFY(!queueShape(cppNode).value(u"arguments"_s).toObject().isEmpty());
    }

    void badNodeIdsAreRefusedBeforeAnyRequest_data()
    {
        QTest::addColumn<QString>("node");
        QTest::newRow("empty") << QString();
        QTest::newRow("upper case") << u"Web-01"_s;
        QTest::newRow("dot") << u"web.01"_s;
        QTest::newRow("leading dash") << u"-web"_s;
        QTest::newRow("regex") << u"a.*"_s;
        QTest::newRow("too long") << QString(64, u'a');
        QTest::newRow("admin") << u"sparky-admin"_s;
        QTest::newRow("orchestrator") << u"sparky-orchestrator"_s;
        QTest::newRow("operator") << u"sparky-operator"_s;
        QTest::newRow("guest") << u"guest"_s;
    }
    void badNodeIdsAreRefusedBeforeAnyRequest()
    {
        QFETCH(QString, node);
        ManagementSettings s = mgmt();
        s.passwordFile = m_dir.filePath(u"does-not-exist"_s); // any request would fail on this
        BrokerManagement bm(s);
        auto added = bm.addNode(node);
        QVERIFY(!added);
        QCOMPARE(added.error().code, ErrorCode::InvalidArgument);
        QCOMPARE(bm.rotateToken(node).error().code, ErrorCode::InvalidArgument);
        QCOMPARE(bm.removeNode(node).error().code, ErrorCode::InvalidArgument);
    }

    void credentialsAndTrustProblemsAreNamed()
    {
        // Wrong admin password (in a proper 0600 file).
        ManagementSettings wrong = mgmt();
        wrong.passwordFile = m_dir.filePath(u"wrong-password"_s);
        QVERIFY(writeSecretFile(wrong.passwordFile, "definitely-not-the-password"));
        auto r1 = BrokerManagement(wrong).listNodes();
        QVERIFY(!r1);
        QCOMPARE(r1.error().code, ErrorCode::Auth);
        QVERIFY2(r1.error().message.contains(wrong.user), qPrintable(r1.error().message));
        QVERIFY(!r1.error().message.contains(u"definitely-not"_s));

        // A password file others may read is refused before it is used.
        ManagementSettings loose = mgmt();
        loose.passwordFile = m_dir.filePath(u"loose-password"_s);
        QVERIFY(writeSecretFile(loose.passwordFile, "whatever"));
        QVERIFY(QFile::setPermissions(
            loose.passwordFile, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadOther));
        auto r2 = BrokerManagement(loose).listNodes();
        QVERIFY(!r2);
        QCOMPARE(r2.error().code, ErrorCode::Permission);

        // Without the broker's CA the certificate is not trusted: no request is made.
        ManagementSettings untrusted = mgmt();
        untrusted.caFile.clear();
        auto r3 = BrokerManagement(untrusted).listNodes();
        QVERIFY(!r3);
        QCOMPARE(r3.error().code, ErrorCode::Tls);

        // Plain http is refused outright.
        ManagementSettings plain = mgmt();
        plain.baseUrl.setScheme(u"http"_s);
        auto r4 = BrokerManagement(plain).listNodes();
        QVERIFY(!r4);
        QCOMPARE(r4.error().code, ErrorCode::Config);

        // Nothing listening: a network error naming the URL, within the timeout.
        ManagementSettings closed = mgmt();
        closed.baseUrl.setPort(1);
        auto r5 = BrokerManagement(closed).listNodes();
        QVERIFY(!r5);
        QCOMPARE(r5.error().code, ErrorCode::Network);
        QVERIFY2(r5.error().message.contains(u":1/api"_s), qPrintable(r5.error().message));
    }

    void callsFromAnotherThreadWork()
    {
        // The synchronous API blocks only its caller; a worker thread may use it too.
        BrokerManagement bm(mgmt());
        Expected<QStringList> result = unexpected(ErrorCode::Internal, u"not run"_s);
        std::unique_ptr<QThread> t(QThread::create([&] { result = bm.listNodes(); }));
        t->start();
        QVERIFY(t->wait(30000));
        QVERIFY2(result, qPrintable(describe(result)));
    }
};

QTEST_GUILESS_MAIN(TestBrokerManagement)
#include "tst_brokermanagement.moc"
