// The transport against the real broker started by the ctest fixture `broker`: confirms,
// exactly-once arrival with acks, TLS refusals, and the broker's permission model.

#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "sparky/secrets.h"
#include "testbroker.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSet>
#include <QSignalSpy>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

OutgoingMessage eventFrom(const QString &node, const QString &type = u"test.ping"_s,
                          QJsonObject body = {})
{
    Envelope e = Envelope::make(type, node, std::move(body));
    OutgoingMessage m;
    m.exchange = QString(proto::kEventsExchange);
    m.routingKey = proto::eventRoutingKey(node, type);
    m.body = serializeEnvelope(e);
    m.properties = propertiesFor(e, node);
    return m;
}

quint16 freePort()
{
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
}

} // namespace

class TestTransport : public QObject
{
    Q_OBJECT

    std::shared_ptr<TestBroker> m_broker;

    // Waits for the publish with `token` to be confirmed or to fail; returns the error if any.
    static std::optional<Error> outcome(AmqpClient &client, quint64 token, int timeoutMs = 20000)
    {
        std::optional<Error> failure;
        bool done = false;
        auto c1 = QObject::connect(&client, &AmqpClient::confirmed, &client, [&](const QList<quint64> &t) {
            if (t.contains(token))
                done = true;
        });
        auto c2 = QObject::connect(&client, &AmqpClient::publishFailed, &client, [&](quint64 t, const Error &e) {
            if (t == token) {
                failure = e;
                done = true;
            }
        });
        (void)QTest::qWaitFor([&] { return done; }, timeoutMs);
        QObject::disconnect(c1);
        QObject::disconnect(c2);
        if (!done)
            return Error(ErrorCode::Timeout, u"no confirm or failure for publish %1"_s.arg(token));
        return failure;
    }

private Q_SLOTS:
    void initTestCase()
    {
        auto b = TestBroker::shared();
        QVERIFY2(b.hasValue(), qPrintable(b ? QString() : b.error().toString()));
        m_broker = *b;
    }

    void confirmedPublishArrivesExactlyOnceAndIsAcked()
    {
        auto nodeSettings = m_broker->node(u"t-once"_s);
        QVERIFY2(nodeSettings, qPrintable(nodeSettings ? QString() : nodeSettings.error().toString()));
        AmqpClient publisher(*nodeSettings);
        AmqpClient consumer(m_broker->orchestrator());
        QSignalSpy connectedSpy(&publisher, &AmqpClient::connected);
        publisher.start();
        QTRY_COMPARE_WITH_TIMEOUT(connectedSpy.count(), 1, 15000);

        constexpr int kCount = 200;
        QSet<QString> sentIds;
        QSet<quint64> tokens;
        for (int i = 0; i < kCount; ++i) {
            OutgoingMessage m = eventFrom(u"t-once"_s, u"test.ping"_s, {{u"i"_s, i}});
            sentIds.insert(m.properties.messageId);
            tokens.insert(publisher.publish(m));
        }
        QSet<quint64> confirmed;
        QList<Error> failures;
        connect(&publisher, &AmqpClient::confirmed, this, [&](const QList<quint64> &t) {
            for (quint64 x : t)
                confirmed.insert(x);
        });
        connect(&publisher, &AmqpClient::publishFailed, this, [&](quint64, const Error &e) { failures.append(e); });
        QTRY_COMPARE_WITH_TIMEOUT(confirmed.size(), kCount, 20000);
        QCOMPARE(confirmed, tokens);
        QVERIFY(failures.isEmpty());

        QHash<QString, int> seen;
        connect(&consumer, &AmqpClient::delivered, this, [&](const Delivery &d) {
            if (sentIds.contains(d.properties.messageId)) {
                ++seen[d.properties.messageId];
                QCOMPARE(d.properties.userId, u"t-once"_s);
                QCOMPARE(d.properties.contentType, u"application/json"_s);
                QVERIFY(d.properties.persistent);
                QVERIFY(parseEnvelope(d.body).hasValue());
            }
            consumer.ack(d);
        });
        consumer.consume(ConsumerOptions{QString(proto::kEventsQueue), 50});
        consumer.start();
        QTRY_COMPARE_WITH_TIMEOUT(seen.size(), kCount, 20000);
        for (auto it = seen.constBegin(); it != seen.constEnd(); ++it)
            QCOMPARE(it.value(), 1);

        // Acked means gone: the queue drains to zero messages, none unacknowledged.
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
            auto q = m_broker->management(u"GET"_s, u"/queues/sparky/sparky.orchestrator.events"_s);
            if (!q)
                return false;
            const QJsonObject o = QJsonDocument::fromJson(*q).object();
            return o.value("messages"_L1).toInt(-1) == 0 && o.value("messages_unacknowledged"_L1).toInt(-1) == 0;
        }()), 30000);
        consumer.stop();
        publisher.stop();
    }

    void plainAmqpIsNotServed()
    {
        // The broker lists no plain AMQP listener…
        auto overview = m_broker->management(u"GET"_s, u"/overview"_s);
        QVERIFY2(overview, qPrintable(overview ? QString() : overview.error().toString()));
        const QJsonArray listeners = QJsonDocument::fromJson(*overview).object().value("listeners"_L1).toArray();
        QVERIFY(!listeners.isEmpty());
        QStringList protocols;
        for (const QJsonValue &l : listeners)
            protocols.append(l.toObject().value("protocol"_L1).toString());
        QVERIFY2(protocols.contains(u"amqp/ssl"_s), qPrintable(protocols.join(u',')));
        QVERIFY2(!protocols.contains(u"amqp"_s), qPrintable(protocols.join(u',')));
        QVERIFY2(!protocols.contains(u"http"_s), qPrintable(protocols.join(u',')));
        // The management API reports some TLS listeners as [::] even when bound to
        // loopback; the sockets themselves tell the truth.
        const QString pid = m_broker->value(u"SPARKY_BROKER_PID"_s);
        QVERIFY(!pid.isEmpty());
        QProcess ss;
        ss.start(u"ss"_s, {u"-Hltnp"_s});
        QVERIFY(ss.waitForFinished(10000));
        int ours = 0;
        const QList<QByteArray> lines = ss.readAllStandardOutput().split('\n');
        for (const QByteArray &line : lines) {
            if (!line.contains(QByteArray("pid=" + pid.toUtf8() + ',')))
                continue;
            ++ours;
            const QList<QByteArray> cols = line.simplified().split(' ');
            QVERIFY2(cols.size() >= 4, line.constData());
            const QByteArray local = cols.at(3);
            QVERIFY2(local.startsWith("127.0.0.1:") || local.startsWith("[::1]:"),
                     QByteArray("broker listens beyond loopback: " + line).constData());
            QVERIFY2(!local.endsWith(":5672") && !local.endsWith(":15672"), line.constData());
        }
        QVERIFY2(ours >= 2, "expected the broker's AMQPS and HTTPS listeners in ss output");

        // …and the AMQP port does not speak plain AMQP: a plain protocol header gets no
        // connection.start back, the TLS server ends the connection.
        QTcpSocket s;
        s.connectToHost(u"127.0.0.1"_s, m_broker->port());
        QVERIFY(s.waitForConnected(5000));
        s.write(QByteArray("AMQP\x00\x00\x09\x01", 8));
        QByteArray reply;
        QTRY_VERIFY_WITH_TIMEOUT(s.state() != QAbstractSocket::ConnectedState
                                     || !(reply += s.readAll()).isEmpty(), 15000);
        reply += s.readAll();
        QVERIFY2(!reply.startsWith("\x01\x00\x00"), "the broker answered plain AMQP with a method frame");
    }

    void wrongCaIsRefused()
    {
        QTemporaryDir dir;
        QProcess gen;
        gen.setProcessChannelMode(QProcess::MergedChannels);
        gen.start(sourcePath(u"broker-config/gen-certs.sh"_s), {dir.filePath(u"other"_s)});
        QVERIFY(gen.waitForFinished(60000));
        QVERIFY2(gen.exitCode() == 0, gen.readAll().constData());

        auto settings = m_broker->node(u"t-wrongca"_s);
        QVERIFY(settings);
        settings->caFile = dir.filePath(u"other/ca.pem"_s);
        QVERIFY(QFile::exists(settings->caFile));
        AmqpClient::Options options;
        options.permanentRetry = std::chrono::milliseconds(0);
        AmqpClient client(*settings, options);
        QSignalSpy failed(&client, &AmqpClient::failed);
        QSignalSpy connected(&client, &AmqpClient::connected);
        client.start();
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 15000);
        const Error e = failed.first().first().value<Error>();
        QCOMPARE(e.code, ErrorCode::Tls);
        QVERIFY2(e.message.contains(u"certificate"_s), qPrintable(e.message));
        QCOMPARE(connected.count(), 0);
    }

    void wrongHostnameIsRefused()
    {
        // A TLS server whose certificate, signed by the CA we trust, names another host.
        QTemporaryDir dir;
        const QString certs = m_broker->value(u"SPARKY_BROKER_CERTS"_s);
        const QString key = dir.filePath(u"wrong.key"_s), csr = dir.filePath(u"wrong.csr"_s),
                      crt = dir.filePath(u"wrong.pem"_s), ext = dir.filePath(u"ext.cnf"_s);
        QFile extFile(ext);
        QVERIFY(extFile.open(QIODevice::WriteOnly));
        extFile.write("subjectAltName=DNS:wrong.example\n");
        extFile.close();
        auto run = [](const QStringList &args) {
            QProcess p;
            p.setProcessChannelMode(QProcess::MergedChannels);
            p.start(u"openssl"_s, args);
            p.waitForFinished(30000);
            return p.exitCode() == 0 ? QString() : QString::fromUtf8(p.readAll());
        };
        QString err = run({u"req"_s, u"-new"_s, u"-newkey"_s, u"ec"_s, u"-pkeyopt"_s, u"ec_paramgen_curve:prime256v1"_s,
                           u"-nodes"_s, u"-keyout"_s, key, u"-out"_s, csr, u"-subj"_s, u"/CN=wrong.example"_s});
        QVERIFY2(err.isEmpty(), qPrintable(err));
        err = run({u"x509"_s, u"-req"_s, u"-in"_s, csr, u"-CA"_s, certs + u"/ca.pem"_s, u"-CAkey"_s,
                   certs + u"/ca.key"_s, u"-CAcreateserial"_s, u"-CAserial"_s, dir.filePath(u"ca.srl"_s),
                   u"-out"_s, crt, u"-days"_s, u"2"_s, u"-extfile"_s, ext});
        QVERIFY2(err.isEmpty(), qPrintable(err));

        const quint16 port = freePort();
        QProcess server;
        server.setProcessChannelMode(QProcess::MergedChannels);
        server.start(u"openssl"_s, {u"s_server"_s, u"-accept"_s, u"127.0.0.1:"_s + QString::number(port),
                                   u"-cert"_s, crt, u"-key"_s, key, u"-quiet"_s});
        QVERIFY(server.waitForStarted());
        // Wait until it listens (a signal we can observe: a TCP connect succeeds).
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
            QTcpSocket probe;
            probe.connectToHost(u"127.0.0.1"_s, port);
            return probe.waitForConnected(200);
        }()), 10000);

        auto settings = m_broker->node(u"t-wronghost"_s);
        QVERIFY(settings);
        settings->endpoints = {BrokerEndpoint{u"localhost"_s, port}};
        AmqpClient::Options options;
        options.permanentRetry = std::chrono::milliseconds(0);
        AmqpClient client(*settings, options);
        QSignalSpy failed(&client, &AmqpClient::failed);
        client.start();
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 15000);
        const Error e = failed.first().first().value<Error>();
        QCOMPARE(e.code, ErrorCode::Tls);
        client.stop();
        server.kill(); // our own child, by its pid
        server.waitForFinished();
    }

    void nodeCannotConsumeAnotherNodesQueue()
    {
        auto a = m_broker->node(u"t-perm-a"_s);
        auto b = m_broker->node(u"t-perm-b"_s);
        QVERIFY(a && b);
        AmqpClient client(*a);
        QSignalSpy errors(&client, &AmqpClient::consumerError);
        client.consume(ConsumerOptions{proto::agentQueue(u"t-perm-b"_s), 10});
        client.start();
        QTRY_VERIFY_WITH_TIMEOUT(errors.count() >= 1, 15000);
        QCOMPARE(errors.first().at(0).toString(), u"sparky.agent.t-perm-b"_s);
        QCOMPARE(errors.first().at(1).value<Error>().code, ErrorCode::AccessRefused);

        // Its own queue is fine.
        AmqpClient own(*a);
        QSignalSpy ownErrors(&own, &AmqpClient::consumerError);
        QSignalSpy connected(&own, &AmqpClient::connected);
        own.consume(ConsumerOptions{proto::agentQueue(u"t-perm-a"_s), 10});
        own.start();
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, 15000);
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
            auto q = m_broker->management(u"GET"_s, u"/queues/sparky/sparky.agent.t-perm-a"_s);
            return q && QJsonDocument::fromJson(*q).object().value("consumers"_L1).toInt() == 1;
        }()), 15000);
        QCOMPARE(ownErrors.count(), 0);
    }

    void nodeCannotPublishCommandsOrSpoof()
    {
        auto a = m_broker->node(u"t-spoof-a"_s);
        QVERIFY(a);
        QVERIFY(m_broker->node(u"t-spoof-b"_s));
        AmqpClient client(*a);
        client.start();

        // Writing to sparky.commands is not this user's to do.
        OutgoingMessage cmd = eventFrom(u"t-spoof-a"_s);
        cmd.exchange = QString(proto::kCommandsExchange);
        cmd.routingKey = u"t-spoof-b"_s;
        auto refused = outcome(client, client.publish(cmd));
        QVERIFY(refused);
        QCOMPARE(refused->code, ErrorCode::AccessRefused);

        // Claiming to be B in user_id: the broker checks it against the login.
        OutgoingMessage spoof = eventFrom(u"t-spoof-b"_s);
        spoof.routingKey = proto::eventRoutingKey(u"t-spoof-a"_s, u"test.ping"_s);
        auto spoofed = outcome(client, client.publish(spoof));
        QVERIFY(spoofed);
        QCOMPARE(spoofed->code, ErrorCode::Rejected);
        QVERIFY2(spoofed->message.contains(u"user_id"_s), qPrintable(spoofed->message));

        // Routing as B on the events exchange: topic permissions stop it.
        OutgoingMessage asB = eventFrom(u"t-spoof-a"_s);
        asB.routingKey = proto::eventRoutingKey(u"t-spoof-b"_s, u"test.ping"_s);
        auto topic = outcome(client, client.publish(asB));
        QVERIFY(topic);
        QCOMPARE(topic->code, ErrorCode::AccessRefused);

        // The control: its own event with its own identity is confirmed.
        QCOMPARE(outcome(client, client.publish(eventFrom(u"t-spoof-a"_s))), std::nullopt);
    }

    void refusedMessageIsSingledOutOfABurst()
    {
        auto a = m_broker->node(u"t-burst"_s);
        QVERIFY(a);
        AmqpClient client(*a);
        QSignalSpy connected(&client, &AmqpClient::connected);
        client.start();
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, 15000);
        QSet<quint64> good, confirmed, failed;
        connect(&client, &AmqpClient::confirmed, this, [&](const QList<quint64> &t) {
            for (quint64 x : t)
                confirmed.insert(x);
        });
        connect(&client, &AmqpClient::publishFailed, this, [&](quint64 t, const Error &) { failed.insert(t); });
        for (int i = 0; i < 20; ++i)
            good.insert(client.publish(eventFrom(u"t-burst"_s)));
        OutgoingMessage bad = eventFrom(u"t-burst"_s);
        bad.exchange = QString(proto::kCommandsExchange);
        const quint64 badToken = client.publish(bad);
        for (int i = 0; i < 20; ++i)
            good.insert(client.publish(eventFrom(u"t-burst"_s)));
        QTRY_COMPARE_WITH_TIMEOUT(confirmed.size() + failed.size(), 41, 30000);
        QCOMPARE(failed, QSet<quint64>{badToken});
        QCOMPARE(confirmed, good);
    }

    void unroutableMandatoryIsReported()
    {
        AmqpClient client(m_broker->orchestrator());
        client.start();
        Envelope e = Envelope::make(u"agent.ping"_s, u"no-such-node"_s);
        OutgoingMessage m;
        m.exchange = QString(proto::kCommandsExchange);
        m.routingKey = u"no-such-node"_s;
        m.body = serializeEnvelope(e);
        m.properties = propertiesFor(e, m_broker->orchestrator().user);
        m.mandatory = true;
        auto r = outcome(client, client.publish(m));
        QVERIFY(r);
        QCOMPARE(r->code, ErrorCode::Unroutable);
        QVERIFY2(r->message.contains(u"no-such-node"_s), qPrintable(r->message));
    }

    void rpcOverDirectReplyTo()
    {
        AmqpClient server(m_broker->orchestrator());
        AmqpClient caller(m_broker->operatorUser());
        const QString callerUser = m_broker->operatorUser().user;
        connect(&server, &AmqpClient::delivered, this, [&](const Delivery &d) {
            // Only answer our own request; acknowledge everything we take.
            if (d.properties.userId == callerUser && d.body == "ping") {
                OutgoingMessage reply;
                reply.exchange = QString();
                reply.routingKey = d.properties.replyTo;
                reply.body = "pong";
                reply.properties.correlationId = d.properties.correlationId;
                reply.properties.persistent = false;
                server.publish(reply);
            }
            server.ack(d);
        });
        server.consume(ConsumerOptions{QString(proto::kRpcQueue), 10});
        server.start();

        QSignalSpy replies(&caller, &AmqpClient::delivered);
        QSignalSpy connected(&caller, &AmqpClient::connected);
        caller.consumeDirectReplyTo();
        caller.start();
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, 15000);
        OutgoingMessage req;
        req.exchange = QString(proto::kRpcExchange);
        req.routingKey = QString(proto::kRpcRoutingKey);
        req.body = "ping";
        req.properties.userId = callerUser;
        req.properties.correlationId = u"corr-1"_s;
        req.properties.replyTo = QString(proto::kDirectReplyTo);
        req.properties.persistent = false;
        QCOMPARE(outcome(caller, caller.publish(req)), std::nullopt);
        QTRY_COMPARE_WITH_TIMEOUT(replies.count(), 1, 15000);
        const Delivery d = replies.first().first().value<Delivery>();
        QCOMPARE(d.body, QByteArray("pong"));
        QCOMPARE(d.properties.correlationId, u"corr-1"_s);
        QVERIFY(d.noAck);
    }

    void clientCertificateLogin()
    {
        // The fixture issued a client certificate with CN node-x509; the broker maps the CN
        // to the user (ssl_cert_login_from = common_name). No password is sent.
        // The fixture enrolled node-x509 without a token: a certificate is its only way in.
        const QString user = m_broker->value(u"SPARKY_BROKER_CLIENT_USER"_s);
        QCOMPARE(user, u"node-x509"_s);
        BrokerSettings s = m_broker->settings(user, QString());
        s.certFile = m_broker->value(u"SPARKY_BROKER_CLIENT_CERT"_s);
        s.keyFile = m_broker->value(u"SPARKY_BROKER_CLIENT_KEY"_s);
        QVERIFY(s.usesExternalAuth());
        AmqpClient client(s);
        QSignalSpy connected(&client, &AmqpClient::connected);
        client.start();
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, 15000);
        QCOMPARE(outcome(client, client.publish(eventFrom(u"node-x509"_s))), std::nullopt);
    }

    void badPasswordIsPermanent()
    {
        QTemporaryDir dir;
        const QString token = dir.filePath(u"token"_s);
        QVERIFY(writeSecretFile(token, "definitely-not-the-token").hasValue());
        QVERIFY(m_broker->node(u"t-badpw"_s));
        AmqpClient::Options options;
        options.permanentRetry = std::chrono::milliseconds(0);
        AmqpClient client(m_broker->settings(u"t-badpw"_s, token), options);
        QSignalSpy failed(&client, &AmqpClient::failed);
        client.start();
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 15000);
        QCOMPARE(failed.first().first().value<Error>().code, ErrorCode::Auth);
        QVERIFY(!failed.first().first().value<Error>().message.contains(u"definitely-not"_s));
    }

    void brokerDownNamesTheReason()
    {
        // A loopback port nobody listens on (taken, then freed): the broker is down.
        quint16 port = 0;
        {
            QTcpServer probe;
            QVERIFY(probe.listen(QHostAddress::LocalHost));
            port = probe.serverPort();
        }
        auto settings = m_broker->node(u"t-down"_s);
        QVERIFY(settings);
        settings->endpoints = {BrokerEndpoint {u"127.0.0.1"_s, port}};
        settings->reconnectMin = std::chrono::milliseconds(50);
        AmqpClient client(*settings);
        QSignalSpy down(&client, &AmqpClient::disconnected);
        client.start();
        QTRY_VERIFY_WITH_TIMEOUT(!down.isEmpty(), 15000);
        const Error e = down.first().first().value<Error>();
        QCOMPARE(e.code, ErrorCode::Network);
        // Where it tried, and why it failed: rabbitmq-c alone says only "a socket error".
        QVERIFY2(e.message.contains(u"127.0.0.1:"_s + QString::number(port)), qPrintable(e.message));
        QVERIFY2(e.message.contains(u"refused"_s, Qt::CaseInsensitive), qPrintable(e.message));
        client.stop();
    }
};

QTEST_GUILESS_MAIN(TestTransport)
#include "tst_transport.moc"
