// Stops and starts a broker of the test's own in the middle of a stream: the transport must
// reconnect by itself, and every message the broker confirmed must reach the consumer.

#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "testbroker.h"

#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

using namespace sparky;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

class TestTransportReconnect : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void brokerRestartMidStream()
    {
        QTemporaryDir dir(QDir::tempPath() + u"/sparky-reconnect-XXXXXX"_s);
        auto broker = TestBroker::startPrivate(dir.filePath(u"broker"_s));
        QVERIFY2(broker, qPrintable(broker ? QString() : broker.error().toString()));
        auto node = (*broker)->node(u"t-restart"_s);
        QVERIFY(node);

        AmqpClient publisher(*node);
        AmqpClient consumer((*broker)->orchestrator());
        QSignalSpy pubConnected(&publisher, &AmqpClient::connected);
        QSignalSpy consConnected(&consumer, &AmqpClient::connected);

        QSet<quint64> confirmed;
        QList<Error> failures;
        QHash<quint64, QString> idOfToken;
        QSet<QString> received;
        int duplicates = 0;
        connect(&publisher, &AmqpClient::confirmed, this, [&](const QList<quint64> &t) {
            for (quint64 x : t)
                confirmed.insert(x);
        });
        connect(&publisher, &AmqpClient::publishFailed, this,
                [&](quint64, const Error &e) { failures.append(e); });
        connect(&consumer, &AmqpClient::delivered, this, [&](const Delivery &d) {
            if (received.contains(d.properties.messageId))
                ++duplicates;
            received.insert(d.properties.messageId);
            consumer.ack(d);
        });
        consumer.consume(ConsumerOptions{QString(proto::kEventsQueue), 100});
        publisher.start();
        consumer.start();
        QTRY_COMPARE_WITH_TIMEOUT(pubConnected.count(), 1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(consConnected.count(), 1, 20000);

        // A steady stream: 20 messages every 10 ms, whatever the broker's state.
        int sent = 0;
        constexpr int kTotal = 3000;
        QTimer pump;
        connect(&pump, &QTimer::timeout, this, [&] {
            for (int i = 0; i < 20 && sent < kTotal; ++i, ++sent) {
                Envelope e = Envelope::make(u"test.seq"_s, u"t-restart"_s, {{u"seq"_s, sent}});
                OutgoingMessage m;
                m.exchange = QString(proto::kEventsExchange);
                m.routingKey = proto::eventRoutingKey(u"t-restart"_s, u"test.seq"_s);
                m.body = serializeEnvelope(e);
                m.properties = propertiesFor(e, u"t-restart"_s);
                idOfToken.insert(publisher.publish(m), e.id);
            }
            if (sent >= kTotal)
                pump.stop();
        });
        pump.start(10);

        QTRY_VERIFY_WITH_TIMEOUT(confirmed.size() >= 500, 20000);
        QVERIFY2((*broker)->stop().hasValue(), "could not stop the broker");
        QVERIFY(publisher.state() != AmqpClient::State::Connected || true);
        QTRY_VERIFY_WITH_TIMEOUT(publisher.state() == AmqpClient::State::Connecting, 20000);
        const int sentWhileDown = sent;
        auto restarted = (*broker)->start();
        QVERIFY2(restarted, qPrintable(restarted ? QString() : restarted.error().toString()));

        QTRY_VERIFY_WITH_TIMEOUT(pubConnected.count() >= 2, 60000);
        QTRY_VERIFY_WITH_TIMEOUT(consConnected.count() >= 2, 60000);
        QTRY_COMPARE_WITH_TIMEOUT(confirmed.size(), kTotal, 60000);
        QVERIFY2(failures.isEmpty(), qPrintable(failures.isEmpty() ? QString() : failures.first().toString()));
        QVERIFY(sentWhileDown > 500);

        // Every confirmed message arrives; a resend after the outage may duplicate, never lose.
        QSet<QString> confirmedIds;
        for (quint64 t : std::as_const(confirmed))
            confirmedIds.insert(idOfToken.value(t));
        QTRY_VERIFY_WITH_TIMEOUT(received.contains(confirmedIds), 60000);
        qInfo("sent %d, confirmed %lld, received %lld distinct, %d duplicates after reconnect",
              kTotal, qlonglong(confirmed.size()), qlonglong(received.size()), duplicates);
        publisher.stop();
        consumer.stop();
    }
};

QTEST_GUILESS_MAIN(TestTransportReconnect)
#include "tst_transport_reconnect.moc"
