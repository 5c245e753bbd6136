// Throughput of sparky's AMQP transport next to the broker's own rate, measured in the same
// run against the same broker with a raw rabbitmq-c loop doing the same work:
//   publish N persistent messages with publisher confirms (window 2048) to sparky.events →
//   quorum queue sparky.orchestrator.events, then consume them with a manual ack each. Both
//   sides send the same prepared messages with the same properties (an event's envelope and
//   message_id, type, timestamp, content_type, user_id, persistent).
// Rounds alternate raw/ours; the median of each side and the ratio ours/raw are printed, and
// the CPU time this process spent per message on each side (connection set-up included, the
// same one TLS connection on both sides): on a machine whose cores the broker shares, client
// CPU is taken from the broker.
//
// Usage: bench_transport [messages=20000] [rounds=3]
// Starts its own broker from broker-config/ (tests/fixtures/broker.sh) in a temporary dir.

#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "sparky/secrets.h"
#include "testbroker.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QLoggingCategory>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <vector>

#include <sys/resource.h>

using namespace sparky;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

constexpr int kWindow = 2048;
constexpr int kPrefetch = 1000;

[[noreturn]] void die(const QString &what)
{
    std::fprintf(stderr, "bench_transport: %s\n", qPrintable(what));
    std::exit(1);
}

// One message as both sides send it, built before any timing: the envelope's bytes and the
// AMQP properties sparky puts on an event (message_id, type, timestamp, content_type, user_id,
// persistent). The raw side sends the same properties from the same data.
struct Message
{
    QByteArray body;
    MessageProperties properties;
    QByteArray messageId; // UTF-8 copies for the raw side
    QByteArray type;
};

Message message(const QString &node, int i)
{
    Envelope e = Envelope::make(u"bench.event"_s, node,
                                {{u"seq"_s, i}, {u"job"_s, u"etc"_s}, {u"pad"_s, QString(200, u'x')}});
    Message m{serializeEnvelope(e), propertiesFor(e, node), {}, {}};
    m.messageId = m.properties.messageId.toUtf8();
    m.type = m.properties.type.toUtf8();
    return m;
}

// ---- the raw rabbitmq-c side: the same TLS, login, confirms and acks, no abstraction ----
struct Raw
{
    amqp_connection_state_t conn = nullptr;

    explicit Raw(const BrokerSettings &s)
    {
        conn = amqp_new_connection();
        amqp_socket_t *sock = amqp_ssl_socket_new(conn);
        amqp_ssl_socket_set_cacert(sock, QFile::encodeName(s.caFile).constData());
        amqp_ssl_socket_set_verify_peer(sock, 1);
        amqp_ssl_socket_set_verify_hostname(sock, 1);
        const QByteArray host = s.endpoints.first().host.toUtf8();
        if (amqp_socket_open(sock, host.constData(), s.endpoints.first().port) != AMQP_STATUS_OK)
            die(u"raw: cannot open TLS socket"_s);
        const QByteArray pw = readSecretFile(s.tokenFile).value();
        const amqp_rpc_reply_t r = amqp_login(conn, s.vhost.toUtf8().constData(), 0, 131072, 30,
                                              AMQP_SASL_METHOD_PLAIN, s.user.toUtf8().constData(),
                                              pw.constData());
        if (r.reply_type != AMQP_RESPONSE_NORMAL)
            die(u"raw: login failed"_s);
        amqp_channel_open(conn, 1);
        if (amqp_get_rpc_reply(conn).reply_type != AMQP_RESPONSE_NORMAL)
            die(u"raw: channel.open failed"_s);
    }
    ~Raw()
    {
        amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(conn);
    }

    void publishAll(const QString &node, const std::vector<Message> &messages)
    {
        amqp_confirm_select(conn, 1);
        const QByteArray exchange = QString(proto::kEventsExchange).toUtf8();
        const QByteArray key = proto::eventRoutingKey(node, u"bench.event"_s).toUtf8();
        const QByteArray user = node.toUtf8();
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_USER_ID_FLAG
                       | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        props.user_id = amqp_cstring_bytes(user.constData());
        const size_t n = messages.size();
        std::vector<bool> acked(n + 1, false);
        size_t sent = 0, done = 0, confirmedUpTo = 0;
        while (done < n) {
            while (sent < n && sent - done < size_t(kWindow)) {
                const Message &m = messages[sent];
                amqp_bytes_t body{size_t(m.body.size()), const_cast<char *>(m.body.constData())};
                props.message_id = amqp_bytes_t{size_t(m.messageId.size()), const_cast<char *>(m.messageId.constData())};
                props.type = amqp_bytes_t{size_t(m.type.size()), const_cast<char *>(m.type.constData())};
                props.timestamp = uint64_t(m.properties.timestamp.toSecsSinceEpoch());
                if (amqp_basic_publish(conn, 1, amqp_cstring_bytes(exchange.constData()),
                                       amqp_cstring_bytes(key.constData()), 0, 0, &props, body) != AMQP_STATUS_OK)
                    die(u"raw: publish failed"_s);
                ++sent;
            }
            amqp_frame_t frame;
            timeval tv{sent < n && sent - done < size_t(kWindow) ? 0 : 5, 0};
            const int rc = amqp_simple_wait_frame_noblock(conn, &frame, &tv);
            if (rc == AMQP_STATUS_TIMEOUT)
                continue;
            if (rc != AMQP_STATUS_OK)
                die(u"raw: wait frame failed"_s);
            if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
                const auto *ack = static_cast<amqp_basic_ack_t *>(frame.payload.method.decoded);
                if (ack->multiple) {
                    for (size_t t = confirmedUpTo + 1; t <= ack->delivery_tag; ++t)
                        if (!acked[t]) {
                            acked[t] = true;
                            ++done;
                        }
                    confirmedUpTo = std::max<size_t>(confirmedUpTo, ack->delivery_tag);
                } else if (!acked[ack->delivery_tag]) {
                    acked[ack->delivery_tag] = true;
                    ++done;
                }
            } else if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
                die(u"raw: broker nacked a message"_s);
            }
            amqp_maybe_release_buffers(conn);
        }
    }

    // Seconds from the first delivery to the last ack (the same span the AmqpClient side measures).
    double consumeAll(size_t n)
    {
        const QByteArray queue = QString(proto::kEventsQueue).toUtf8();
        amqp_basic_qos(conn, 1, 0, kPrefetch, 0);
        amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue.constData()), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
        if (amqp_get_rpc_reply(conn).reply_type != AMQP_RESPONSE_NORMAL)
            die(u"raw: basic.consume failed"_s);
        size_t got = 0;
        QElapsedTimer t;
        while (got < n) {
            amqp_maybe_release_buffers(conn);
            amqp_envelope_t env;
            timeval tv{10, 0};
            const amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &tv, 0);
            if (r.reply_type != AMQP_RESPONSE_NORMAL)
                die(u"raw: consume failed after %1 messages"_s.arg(got));
            if (got == 0)
                t.start();
            amqp_basic_ack(conn, 1, env.delivery_tag, 0);
            amqp_destroy_envelope(&env);
            ++got;
        }
        return double(t.nsecsElapsed()) / 1e9;
    }
};

// ---- ours ----

// Turns the event loop until a slot calls loop.quit(): the owner thread then sleeps in the event
// dispatcher and wakes for each batch the I/O thread posts, as in the daemons. (QTest::qWaitFor
// sleeps 10 ms between its checks, which held every ack and every count back for that long.)
bool runUntilQuit(QEventLoop &loop, int timeoutMs)
{
    QTimer timeout;
    timeout.setSingleShot(true);
    QObject::connect(&timeout, &QTimer::timeout, &loop, [&loop] { loop.exit(1); });
    timeout.start(timeoutMs);
    return loop.exec() == 0;
}

double oursPublish(const BrokerSettings &s, const QString &node, const std::vector<Message> &messages)
{
    AmqpClient::Options opts;
    opts.publishWindow = kWindow;
    AmqpClient client(s, opts);
    bool up = false;
    QObject::connect(&client, &AmqpClient::connected, &client, [&] { up = true; });
    client.start();
    if (!QTest::qWaitFor([&] { return up; }, 20000))
        die(u"ours: not connected"_s);
    QEventLoop loop;
    QElapsedTimer t;
    qint64 doneNs = -1;
    qsizetype confirmed = 0;
    QObject::connect(&client, &AmqpClient::confirmed, &client, [&](const QList<quint64> &tokens) {
        confirmed += tokens.size();
        if (confirmed == qsizetype(messages.size())) {
            doneNs = t.nsecsElapsed();
            loop.quit();
        }
    });
    QObject::connect(&client, &AmqpClient::publishFailed, &client, [](quint64, const Error &e) { die(e.toString()); });
    const QString exchange(proto::kEventsExchange);
    const QString key = proto::eventRoutingKey(node, u"bench.event"_s);
    t.start();
    for (const Message &msg : messages) {
        OutgoingMessage m;
        m.exchange = exchange;
        m.routingKey = key;
        m.body = msg.body;
        m.properties = msg.properties;
        client.publish(std::move(m));
    }
    // Confirms are queued to this thread: none can be counted before the loop turns.
    if (!runUntilQuit(loop, 300000))
        die(u"ours: confirms missing"_s);
    return double(doneNs) / 1e9;
}

double oursConsume(const BrokerSettings &s, qsizetype n)
{
    AmqpClient client(s);
    QEventLoop loop;
    qsizetype got = 0;
    QElapsedTimer t;
    qint64 doneNs = -1;
    QObject::connect(&client, &AmqpClient::delivered, &client, [&](const Delivery &d) {
        if (got == 0)
            t.start();
        client.ack(d);
        if (++got == n) {
            doneNs = t.nsecsElapsed();
            loop.quit();
        }
    });
    client.consume(ConsumerOptions{QString(proto::kEventsQueue), kPrefetch});
    client.start();
    if (!runUntilQuit(loop, 300000))
        die(u"ours: consumed only %1 of %2"_s.arg(got).arg(n));
    return double(doneNs) / 1e9;
}

// CPU seconds (user + system) of this whole process, all threads.
double cpuSeconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

void purge(test::TestBroker &b)
{
    if (!b.management(u"DELETE"_s, u"/queues/sparky/sparky.orchestrator.events/contents"_s))
        die(u"cannot purge the events queue"_s);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
    QLoggingCategory::setFilterRules(u"sparky.*.info=false"_s); // connect/consume lines per round
    if (qEnvironmentVariableIsEmpty("SPARKY_SOURCE_DIR"))
        qputenv("SPARKY_SOURCE_DIR", QByteArray(SPARKY_BENCH_SOURCE_DIR));

    QTemporaryDir dir(QDir::tempPath() + u"/sparky-bench-XXXXXX"_s);
    auto broker = test::TestBroker::startPrivate(dir.filePath(u"broker"_s));
    if (!broker)
        die(broker.error().toString());
    const QString node = u"bench-pub"_s;
    auto nodeSettings = (*broker)->node(node);
    if (!nodeSettings)
        die(nodeSettings.error().toString());
    const BrokerSettings orch = (*broker)->orchestrator();

    std::vector<Message> messages;
    messages.reserve(size_t(n));
    for (int i = 0; i < n; ++i)
        messages.push_back(message(node, i));
    std::printf("bench_transport: %d messages of %lld bytes, persistent, quorum queue, TLS, %d rounds\n",
                n, qlonglong(messages.front().body.size()), rounds);

    std::vector<double> rawPub, oursPub, rawCons, oursCons;
    std::vector<double> rawPubCpu, oursPubCpu, rawConsCpu, oursConsCpu; // µs per message
    const auto perMessage = [n](double cpu0) { return (cpuSeconds() - cpu0) * 1e6 / n; };
    for (int r = 0; r < rounds; ++r) {
        purge(**broker);
        double cpu0 = cpuSeconds();
        {
            Raw raw(*nodeSettings);
            QElapsedTimer t;
            t.start();
            raw.publishAll(node, messages);
            rawPub.push_back(double(t.nsecsElapsed()) / 1e9);
        }
        rawPubCpu.push_back(perMessage(cpu0));
        cpu0 = cpuSeconds();
        {
            Raw raw(orch);
            rawCons.push_back(raw.consumeAll(size_t(n)));
        }
        rawConsCpu.push_back(perMessage(cpu0));
        purge(**broker);
        cpu0 = cpuSeconds();
        oursPub.push_back(oursPublish(*nodeSettings, node, messages));
        oursPubCpu.push_back(perMessage(cpu0));
        cpu0 = cpuSeconds();
        oursCons.push_back(oursConsume(orch, n));
        oursConsCpu.push_back(perMessage(cpu0));
        std::printf("  round %d: publish raw %.0f/s ours %.0f/s | consume raw %.0f/s ours %.0f/s"
                    " | client CPU us/msg: publish raw %.1f ours %.1f, consume raw %.1f ours %.1f\n",
                    r + 1, n / rawPub.back(), n / oursPub.back(), n / rawCons.back(), n / oursCons.back(),
                    rawPubCpu.back(), oursPubCpu.back(), rawConsCpu.back(), oursConsCpu.back());
        std::fflush(stdout);
    }
    const double rp = n / median(rawPub), op = n / median(oursPub);
    const double rc = n / median(rawCons), oc = n / median(oursCons);
    std::printf("publish-with-confirm: raw rabbitmq-c %.0f msg/s, sparky AmqpClient %.0f msg/s, ratio %.2f (goal >= 0.90)\n",
                rp, op, op / rp);
    std::printf("consume-with-ack:     raw rabbitmq-c %.0f msg/s, sparky AmqpClient %.0f msg/s, ratio %.2f (goal >= 0.90)\n",
                rc, oc, oc / rc);
    std::printf("client CPU per message (median): publish raw %.1f us, ours %.1f us; consume raw %.1f us, ours %.1f us\n",
                median(rawPubCpu), median(oursPubCpu), median(rawConsCpu), median(oursConsCpu));
    return 0;
}
