#include "sparky/amqpclient.h"

#include "amqpconvert_p.h"
#include "sparky/logging.h"
#include "sparky/secrets.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <QFile>
#include <QMetaObject>
#include <QPointer>
#include <QRandomGenerator>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>
#include <vector>

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sparky {

using namespace Qt::StringLiterals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr amqp_channel_t kPublishChannel = 1;
constexpr char kDirectReplyTo[] = "amq.rabbitmq.reply-to";
constexpr milliseconds kIdlePoll{200};

struct ConnectionDeleter
{
    void operator()(amqp_connection_state_t_ *c) const { amqp_destroy_connection(c); }
};
using ConnectionPtr = std::unique_ptr<amqp_connection_state_t_, ConnectionDeleter>;

timeval toTimeval(milliseconds ms)
{
    timeval tv{};
    tv.tv_sec = time_t(ms.count() / 1000);
    tv.tv_usec = suseconds_t((ms.count() % 1000) * 1000);
    return tv;
}

// How a failure is handled; decided here and nowhere else.
enum class Severity {
    Channel,    // the channel is closed; fail the operation, reopen the channel
    Connection, // reconnect with backoff
    Permanent,  // configuration, credentials or TLS verification; report, retry much later
};

struct Failure
{
    Severity severity;
    Error error;
};

QString statusText(int status)
{
    return QString::fromUtf8(amqp_error_string2(status));
}

QString opensslErrors()
{
    QStringList parts;
    while (const unsigned long code = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof(buf));
        parts.append(QString::fromLatin1(buf));
    }
    return parts.join(u"; "_s);
}

Failure classifyStatus(int status, const QString &context)
{
    const QString ssl = opensslErrors();
    QString text = context + u": "_s + statusText(status);
    if (!ssl.isEmpty())
        text += u" ("_s + ssl + u')';
    switch (status) {
    case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
        return {Severity::Permanent,
                Error(ErrorCode::Tls, text + u" — the broker's certificate is not signed by the "
                                             "configured CA"_s)};
    case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
        return {Severity::Permanent,
                Error(ErrorCode::Tls, text + u" — the broker's certificate does not name this "
                                             "host"_s)};
    case AMQP_STATUS_SSL_CONNECTION_FAILED:
    case AMQP_STATUS_SSL_ERROR:
        if (ssl.contains("certificate verify failed"_L1))
            return {Severity::Permanent,
                    Error(ErrorCode::Tls, text + u" — check tls.ca_file and the broker's host "
                                                 "name"_s)};
        return {Severity::Connection, Error(ErrorCode::Tls, text)};
    case AMQP_STATUS_TIMEOUT:
    case AMQP_STATUS_HEARTBEAT_TIMEOUT: return {Severity::Connection, Error(ErrorCode::Timeout, text)};
    default: return {Severity::Connection, Error(ErrorCode::Network, text)};
    }
}

// rabbitmq-c reports every failed TCP connect as "a socket error occurred" and keeps no
// reason. Ask the system once more (one non-blocking connect per address, at most
// `limit`), so the log says "Connection refused" or "No route to host"; empty when the
// endpoint takes connections now or its name does not resolve.
QString connectFailureReason(const QByteArray &host, quint16 port, std::chrono::milliseconds limit)
{
    addrinfo hints {};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *found = nullptr;
    if (::getaddrinfo(host.constData(), QByteArray::number(port).constData(), &hints, &found) != 0)
        return {};
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
    QString reason;
    for (const addrinfo *a = found; a; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                a->ai_protocol);
        if (fd < 0)
            continue;
        int err = 0;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                pollfd p {fd, POLLOUT, 0};
                const int n = ::poll(&p, 1, int(limit.count()));
                err = n == 0 ? ETIMEDOUT : n < 0 ? errno : 0;
                socklen_t len = sizeof err;
                if (n > 0 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                    err = errno;
            }
        }
        ::close(fd);
        if (err == 0)
            return {};
        reason = qt_error_string(err);
    }
    return reason;
}

Error closeError(uint16_t code, const QString &replyText, const QString &context)
{
    const QString text = u"%1: %2 %3"_s.arg(context).arg(code).arg(replyText);
    switch (code) {
    case AMQP_ACCESS_REFUSED: return Error(ErrorCode::AccessRefused, text);
    case AMQP_NOT_FOUND: return Error(ErrorCode::NotFound, text);
    case AMQP_RESOURCE_LOCKED: return Error(ErrorCode::Conflict, text);
    case AMQP_PRECONDITION_FAILED: return Error(ErrorCode::Rejected, text);
    case AMQP_NOT_ALLOWED: return Error(ErrorCode::AccessRefused, text);
    case AMQP_CONNECTION_FORCED: return Error(ErrorCode::Unavailable, text);
    default: return Error(ErrorCode::Network, text);
    }
}

// `duringLogin`: a refusal then means bad credentials or vhost, which retrying will not fix.
Failure classifyReply(const amqp_rpc_reply_t &reply, const QString &context, bool duringLogin = false)
{
    switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL: return {Severity::Channel, Error(ErrorCode::None, {})};
    case AMQP_RESPONSE_NONE:
        return {Severity::Connection, Error(ErrorCode::Network, context + u": no reply"_s)};
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: {
        Failure f = classifyStatus(reply.library_error, context);
        if (duringLogin && reply.library_error == AMQP_STATUS_CONNECTION_CLOSED)
            f.error.message += u" (the broker closed the connection during login: wrong "
                               "credentials or vhost?)"_s;
        return f;
    }
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            const auto *m = static_cast<const amqp_connection_close_t *>(reply.reply.decoded);
            Error e = closeError(m->reply_code, amqp::toQString(m->reply_text), context);
            if (duringLogin && (m->reply_code == AMQP_ACCESS_REFUSED || m->reply_code == AMQP_NOT_ALLOWED)) {
                e.code = m->reply_code == AMQP_ACCESS_REFUSED ? ErrorCode::Auth : ErrorCode::AccessRefused;
                return {Severity::Permanent, e};
            }
            return {Severity::Connection, e};
        }
        if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const auto *m = static_cast<const amqp_channel_close_t *>(reply.reply.decoded);
            return {Severity::Channel, closeError(m->reply_code, amqp::toQString(m->reply_text), context)};
        }
        return {Severity::Connection,
                Error(ErrorCode::Network, context + u": unexpected server method 0x%1"_s.arg(
                                                        reply.reply.id, 0, 16))};
    }
    return {Severity::Connection, Error(ErrorCode::Internal, context + u": unknown reply"_s)};
}

bool isOk(const amqp_rpc_reply_t &reply)
{
    return reply.reply_type == AMQP_RESPONSE_NORMAL;
}

struct PublishCmd
{
    quint64 token;
    OutgoingMessage message;
};
struct ConsumeCmd
{
    ConsumerOptions options;
};
struct ReplyToCmd
{
};
enum class AckKind { Ack, Nack, Reject };
struct AckCmd
{
    AckKind kind;
    quint64 generation;
    quint16 channel;
    quint64 tag;
    bool multiple;
    bool requeue;
};
using Command = std::variant<PublishCmd, ConsumeCmd, ReplyToCmd, AckCmd>;

} // namespace

class AmqpClient::Worker
{
    struct Subscription
    {
        ConsumerOptions options;
        quint16 channel = 0;
        bool channelOpen = false;
        bool active = false;
        int failures = 0;
        Clock::time_point retryAt = Clock::now();
    };
    struct InFlight
    {
        PublishCmd cmd;
        bool returned = false;
        Error returnError;
    };

public:
    Worker(AmqpClient *owner, BrokerSettings settings, Options options)
        : m_settings(std::move(settings))
        , m_owner(owner)
        , m_options(options)
    {
        m_wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    }

    ~Worker()
    {
        stop();
        if (m_wakeFd >= 0)
            ::close(m_wakeFd);
    }

    void start()
    {
        if (m_thread.joinable())
            return;
        m_stopRequested = false;
        m_state = State::Connecting;
        m_thread = std::thread([this] { run(); });
    }

    void stop()
    {
        if (!m_thread.joinable())
            return;
        m_stopRequested = true;
        wake();
        m_thread.join();
        m_state = State::Stopped;
    }

    void post(Command cmd)
    {
        {
            const std::lock_guard lock(m_inboxMutex);
            m_inbox.push_back(std::move(cmd));
        }
        wake();
    }

    quint64 nextToken() { return m_nextToken.fetch_add(1); }

    std::atomic<State> m_state{State::Stopped};
    std::atomic<quint64> m_generation{0};
    BrokerSettings m_settings;

private:
    // ---- owner-thread notifications (batched per loop turn) ----
    template<typename F>
    void toOwner(F &&f)
    {
        QMetaObject::invokeMethod(m_owner, std::forward<F>(f), Qt::QueuedConnection);
    }

    void flushNotifications()
    {
        if (!m_confirmBatch.isEmpty()) {
            toOwner([o = m_owner, t = std::move(m_confirmBatch)] { Q_EMIT o->confirmed(t); });
            m_confirmBatch.clear();
        }
        if (!m_deliveryBatch.empty()) {
            toOwner([o = m_owner, d = std::move(m_deliveryBatch)] {
                for (const Delivery &x : d)
                    Q_EMIT o->delivered(x);
            });
            m_deliveryBatch.clear();
        }
    }

    void failPublish(quint64 token, const Error &e)
    {
        qCWarning(lcAmqp).noquote() << "publish" << token << "failed:" << e.toString();
        toOwner([o = m_owner, token, e] { Q_EMIT o->publishFailed(token, e); });
    }

    void wake() const
    {
        const uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(m_wakeFd, &one, sizeof(one));
    }

    void clearWake() const
    {
        uint64_t v = 0;
        [[maybe_unused]] const auto n = ::read(m_wakeFd, &v, sizeof(v));
    }

    // ---- thread main ----
    void run()
    {
        std::size_t endpointIndex = 0;
        milliseconds backoff = m_settings.reconnectMin;
        Clock::time_point nextAttempt = Clock::now();

        while (!m_stopRequested) {
            if (!m_conn) {
                drainInboxOffline();
                const auto now = Clock::now();
                if (now < nextAttempt) {
                    waitWake(std::chrono::duration_cast<milliseconds>(nextAttempt - now));
                    continue;
                }
                const BrokerEndpoint ep = m_settings.endpoints.at(
                    qsizetype(endpointIndex % std::size_t(m_settings.endpoints.size())));
                m_state = State::Connecting;
                if (auto f = connectTo(ep)) {
                    teardown();
                    ++endpointIndex;
                    milliseconds delay;
                    if (f->severity == Severity::Permanent) {
                        qCCritical(lcAmqp).noquote() << f->error.toString();
                        toOwner([o = m_owner, e = f->error] { Q_EMIT o->failed(e); });
                        if (m_options.permanentRetry.count() == 0) {
                            waitForStop();
                            break;
                        }
                        delay = m_options.permanentRetry;
                    } else {
                        delay = jittered(backoff);
                        qCWarning(lcAmqp).noquote()
                            << f->error.toString() << "— retrying in" << delay.count() << "ms";
                        toOwner([o = m_owner, e = f->error] { Q_EMIT o->disconnected(e); });
                        backoff = std::min(backoff * 2, m_settings.reconnectMax);
                    }
                    nextAttempt = Clock::now() + delay;
                    continue;
                }
                backoff = m_settings.reconnectMin;
                m_state = State::Connected;
                qCInfo(lcAmqp).noquote() << "connected to" << ep.toString() << "as"
                                         << (m_settings.usesExternalAuth() ? u"(x509)"_s
                                                                           : m_settings.user)
                                         << "vhost" << m_settings.vhost;
                toOwner([o = m_owner, s = ep.toString()] { Q_EMIT o->connected(s); });
            }

            if (auto f = serviceConnection()) {
                connectionLost(f->error);
                nextAttempt = Clock::now() + jittered(backoff);
                backoff = std::min(backoff * 2, m_settings.reconnectMax);
            }
            flushNotifications();
        }
        shutdown();
        flushNotifications();
    }

    milliseconds jittered(milliseconds base) const
    {
        // Full jitter between half and all of the delay spreads a fleet's reconnects.
        const auto lo = std::max<qint64>(base.count() / 2, 1);
        return milliseconds(lo + QRandomGenerator::global()->bounded(qint64(base.count() - lo + 1)));
    }

    void waitWake(milliseconds timeout)
    {
        pollfd p{m_wakeFd, POLLIN, 0};
        ::poll(&p, 1, int(std::clamp<qint64>(timeout.count(), 0, 60000)));
        clearWake();
    }

    void waitForStop()
    {
        while (!m_stopRequested) {
            waitWake(milliseconds(1000));
            drainInboxOffline();
        }
    }

    std::deque<Command> takeInbox()
    {
        std::deque<Command> out;
        const std::lock_guard lock(m_inboxMutex);
        out.swap(m_inbox);
        return out;
    }

    // Not connected: keep publishes and subscriptions; acks are void (the broker requeues).
    void drainInboxOffline()
    {
        for (Command &cmd : takeInbox()) {
            if (auto *p = std::get_if<PublishCmd>(&cmd))
                m_pending.push_back(std::move(*p));
            else if (auto *c = std::get_if<ConsumeCmd>(&cmd))
                m_subs.push_back(Subscription{c->options});
            else if (std::holds_alternative<ReplyToCmd>(cmd))
                m_replyTo = true;
            else
                qCDebug(lcAmqp) << "dropping an ack for a connection that is gone";
        }
    }

    // ---- connection set-up ----
    std::optional<Failure> connectTo(const BrokerEndpoint &ep)
    {
        const QString where = u"broker %1"_s.arg(ep.toString());
        if (auto ok = m_settings.validate(); !ok)
            return Failure{Severity::Permanent, ok.error().wrapped(where)};

        QByteArray secret;
        if (!m_settings.token.isEmpty()) {
            secret = m_settings.token;
        } else if (!m_settings.usesExternalAuth()) {
            auto s = readSecretFile(m_settings.tokenFile);
            if (!s)
                return Failure{Severity::Permanent, s.error().wrapped(where)};
            secret = *s;
        }

        m_conn.reset(amqp_new_connection());
        amqp_socket_t *socket = amqp_ssl_socket_new(m_conn.get()); // owned by the connection
        if (!socket)
            return Failure{Severity::Permanent, Error(ErrorCode::Internal, where + u": cannot create a TLS socket"_s)};
        amqp_ssl_socket_set_ssl_versions(socket, AMQP_TLSv1_2, AMQP_TLSvLATEST);
        if (!m_settings.caFile.isEmpty()) {
            const QByteArray ca = QFile::encodeName(m_settings.caFile);
            if (const int rc = amqp_ssl_socket_set_cacert(socket, ca.constData()); rc != AMQP_STATUS_OK)
                return Failure{Severity::Permanent,
                               Error(ErrorCode::Config, u"%1: cannot load CA file %2: %3 %4"_s.arg(
                                   where, m_settings.caFile, statusText(rc), opensslErrors()))};
        }
        if (!m_settings.certFile.isEmpty()) {
            const QByteArray cert = QFile::encodeName(m_settings.certFile);
            const QByteArray key = QFile::encodeName(m_settings.keyFile);
            if (const int rc = amqp_ssl_socket_set_key(socket, cert.constData(), key.constData());
                rc != AMQP_STATUS_OK)
                return Failure{Severity::Permanent,
                               Error(ErrorCode::Config, u"%1: cannot load client certificate %2: %3 %4"_s.arg(
                                   where, m_settings.certFile, statusText(rc), opensslErrors()))};
        }
        amqp_ssl_socket_set_verify_peer(socket, m_settings.verifyPeer ? 1 : 0);
        amqp_ssl_socket_set_verify_hostname(socket, m_settings.verifyHostname ? 1 : 0);

        ERR_clear_error();
        const timeval connectTimeout = toTimeval(m_settings.connectTimeout);
        const QByteArray host = ep.host.toUtf8();
        if (const int rc = amqp_socket_open_noblock(socket, host.constData(), ep.port, &connectTimeout);
            rc != AMQP_STATUS_OK) {
            Failure f = classifyStatus(rc, u"connecting to "_s + where);
            if (rc == AMQP_STATUS_SOCKET_ERROR) {
                if (const QString why = connectFailureReason(host, ep.port, std::min(
                        m_settings.connectTimeout, std::chrono::milliseconds(2000)));
                    !why.isEmpty())
                    f.error.message += u" ("_s + why + u')';
            }
            return f;
        }

        amqp_set_handshake_timeout(m_conn.get(), &connectTimeout);
        const timeval rpcTimeout = toTimeval(m_settings.rpcTimeout);
        amqp_set_rpc_timeout(m_conn.get(), &rpcTimeout);

        amqp::ClientPropertiesStorage props;
        amqp::fillClientProperties(props, m_settings.connectionName);
        const QByteArray vhost = m_settings.vhost.toUtf8();
        const int heartbeat = int(m_settings.heartbeat.count());
        amqp_rpc_reply_t reply;
        if (m_settings.usesExternalAuth()) {
            // The broker takes the user from the certificate (CN); rabbitmq-c still needs a
            // non-empty identity string for the SASL response.
            const QByteArray identity = m_settings.user.isEmpty() ? QByteArrayLiteral("x509")
                                                                  : m_settings.user.toUtf8();
            reply = amqp_login_with_properties(m_conn.get(), vhost.constData(), 0,
                                               int(m_settings.frameMax), heartbeat, &props.table,
                                               AMQP_SASL_METHOD_EXTERNAL, identity.constData());
        } else {
            const QByteArray user = m_settings.user.toUtf8();
            reply = amqp_login_with_properties(m_conn.get(), vhost.constData(), 0,
                                               int(m_settings.frameMax), heartbeat, &props.table,
                                               AMQP_SASL_METHOD_PLAIN, user.constData(),
                                               secret.constData());
        }
        secret.fill('\0');
        if (!isOk(reply))
            return classifyReply(reply, u"logging in to "_s + where + u" vhost "_s + m_settings.vhost, true);

        m_sockfd = amqp_get_sockfd(m_conn.get());
        m_generation.fetch_add(1);
        m_blocked = false;

        if (auto f = openPublishChannel())
            return f->severity == Severity::Channel ? Failure{Severity::Connection, f->error} : *f;
        for (Subscription &s : m_subs) {
            s.channel = 0;
            s.active = false;
            s.retryAt = Clock::now();
        }
        subscribeDue();
        // Whatever was in flight on the old connection goes out again, in order.
        requeueInflight();
        return std::nullopt;
    }

    // A channel.close that arrives as the reply to a synchronous call still needs our
    // close-ok before the channel number can be opened again.
    void acknowledgeChannelClose(const amqp_rpc_reply_t &reply, amqp_channel_t channel)
    {
        if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION
            && reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_ok_t ok{};
            amqp_send_method(m_conn.get(), channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        }
    }

    std::optional<Failure> openPublishChannel()
    {
        amqp_channel_open(m_conn.get(), kPublishChannel);
        if (auto r = amqp_get_rpc_reply(m_conn.get()); !isOk(r)) {
            acknowledgeChannelClose(r, kPublishChannel);
            return classifyReply(r, u"opening the publishing channel"_s);
        }
        amqp_confirm_select(m_conn.get(), kPublishChannel);
        if (auto r = amqp_get_rpc_reply(m_conn.get()); !isOk(r)) {
            acknowledgeChannelClose(r, kPublishChannel);
            return classifyReply(r, u"enabling publisher confirms"_s);
        }
        m_publishChannelOpen = true;
        m_nextSeq = 1;
        m_replyToActive = false;
        if (m_replyTo)
            return startReplyTo();
        return std::nullopt;
    }

    std::optional<Failure> startReplyTo()
    {
        amqp_basic_consume(m_conn.get(), kPublishChannel, amqp_cstring_bytes(kDirectReplyTo),
                           amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
        if (auto r = amqp_get_rpc_reply(m_conn.get()); !isOk(r)) {
            acknowledgeChannelClose(r, kPublishChannel);
            Failure f = classifyReply(r, u"subscribing to direct reply-to"_s);
            if (f.severity == Severity::Channel)
                m_publishChannelOpen = false;
            return f;
        }
        m_replyToActive = true;
        return std::nullopt;
    }

    // (Re)subscribe every subscription whose retry time has come.
    std::optional<Failure> subscribeDue()
    {
        const auto now = Clock::now();
        for (Subscription &s : m_subs) {
            if (s.active || now < s.retryAt)
                continue;
            if (s.channel == 0)
                s.channel = m_nextChannel++;
            const QString what = u"subscribing to queue %1"_s.arg(s.options.queue);
            if (!s.channelOpen) {
                amqp_channel_open(m_conn.get(), s.channel);
                if (auto r = amqp_get_rpc_reply(m_conn.get()); !isOk(r)) {
                    acknowledgeChannelClose(r, s.channel);
                    Failure f = classifyReply(r, what);
                    if (f.severity != Severity::Channel)
                        return f;
                    subscriptionFailed(s, f.error);
                    continue;
                }
                s.channelOpen = true;
            }
            amqp_basic_qos(m_conn.get(), s.channel, 0, s.options.prefetch, 0);
            if (auto r = amqp_get_rpc_reply(m_conn.get()); !isOk(r)) {
                acknowledgeChannelClose(r, s.channel);
                Failure f = classifyReply(r, what);
                if (f.severity != Severity::Channel)
                    return f;
                s.channelOpen = false;
                subscriptionFailed(s, f.error);
                continue;
            }
            const QByteArray queue = s.options.queue.toUtf8();
            amqp_basic_consume(m_conn.get(), s.channel, amqp::bytesOf(queue), amqp_empty_bytes, 0,
                               0, s.options.exclusive ? 1 : 0, amqp_empty_table);
            if (auto r = amqp_get_rpc_reply(m_conn.get()); !isOk(r)) {
                acknowledgeChannelClose(r, s.channel);
                Failure f = classifyReply(r, what);
                if (f.severity != Severity::Channel)
                    return f;
                s.channelOpen = false; // a failed consume closes the channel
                subscriptionFailed(s, f.error);
                continue;
            }
            s.active = true;
            s.failures = 0;
            qCInfo(lcAmqp).noquote() << "consuming from" << s.options.queue << "prefetch"
                                     << s.options.prefetch;
        }
        return std::nullopt;
    }

    void subscriptionFailed(Subscription &s, const Error &e)
    {
        s.active = false;
        ++s.failures;
        milliseconds delay = m_settings.reconnectMin;
        for (int i = 1; i < s.failures && delay < m_settings.reconnectMax; ++i)
            delay *= 2;
        delay = jittered(std::min(delay, m_settings.reconnectMax));
        s.retryAt = Clock::now() + delay;
        qCWarning(lcAmqp).noquote() << e.toString() << "— retrying in" << delay.count() << "ms";
        toOwner([o = m_owner, q = s.options.queue, e] { Q_EMIT o->consumerError(q, e); });
    }

    // ---- steady state ----
    std::optional<Failure> serviceConnection()
    {
        for (Command &cmd : takeInbox()) {
            if (auto *p = std::get_if<PublishCmd>(&cmd)) {
                m_pending.push_back(std::move(*p));
            } else if (auto *c = std::get_if<ConsumeCmd>(&cmd)) {
                m_subs.push_back(Subscription{c->options});
            } else if (std::holds_alternative<ReplyToCmd>(cmd)) {
                m_replyTo = true;
                if (m_publishChannelOpen && !m_replyToActive)
                    if (auto f = startReplyTo(); f && f->severity != Severity::Channel)
                        return f;
            } else if (auto *a = std::get_if<AckCmd>(&cmd)) {
                if (auto f = sendAck(*a))
                    return f;
            }
        }
        if (auto f = subscribeDue())
            return f;
        if (!m_publishChannelOpen) {
            if (auto f = openPublishChannel()) {
                if (f->severity != Severity::Channel)
                    return f;
                qCWarning(lcAmqp).noquote() << f->error.toString();
            }
        }
        if (auto f = publishPending())
            return f;
        return readFrames();
    }

    std::optional<Failure> sendAck(const AckCmd &a)
    {
        if (a.generation != m_generation.load()) {
            qCDebug(lcAmqp) << "dropping an ack from connection generation" << a.generation;
            return std::nullopt;
        }
        int rc = AMQP_STATUS_OK;
        switch (a.kind) {
        case AckKind::Ack: rc = amqp_basic_ack(m_conn.get(), a.channel, a.tag, a.multiple); break;
        case AckKind::Nack:
            rc = amqp_basic_nack(m_conn.get(), a.channel, a.tag, a.multiple, a.requeue);
            break;
        case AckKind::Reject: rc = amqp_basic_reject(m_conn.get(), a.channel, a.tag, a.requeue); break;
        }
        if (rc != AMQP_STATUS_OK)
            return classifyStatus(rc, u"acknowledging a delivery"_s);
        return std::nullopt;
    }

    std::optional<Failure> publishPending()
    {
        while (!m_pending.empty() && m_publishChannelOpen && !m_blocked
               && int(m_inflight.size()) < m_options.publishWindow) {
            // After a channel error with several messages in flight, they go out one at a
            // time so the one the broker refuses is identified and failed alone.
            if (m_probe > 0 && !m_inflight.empty())
                break;
            PublishCmd cmd = std::move(m_pending.front());
            m_pending.pop_front();
            OutgoingMessage &msg = cmd.message;
            if (msg.mandatory && msg.properties.messageId.isEmpty())
                msg.properties.messageId = newMessageId(); // returns are matched by message id
            amqp::PropertiesStorage props;
            amqp::fillProperties(props, msg.properties);
            const QByteArray exchange = msg.exchange.toUtf8();
            const QByteArray key = msg.routingKey.toUtf8();
            const int rc = amqp_basic_publish(m_conn.get(), kPublishChannel, amqp::bytesOf(exchange),
                                              amqp::bytesOf(key), msg.mandatory ? 1 : 0, 0,
                                              &props.props, amqp::bytesOf(msg.body));
            if (rc != AMQP_STATUS_OK) {
                m_pending.push_front(std::move(cmd));
                return classifyStatus(rc, u"publishing"_s);
            }
            if (m_probe > 0)
                --m_probe;
            m_inflight.emplace(m_nextSeq++, InFlight{std::move(cmd), false, {}});
        }
        return std::nullopt;
    }

    std::optional<Failure> readFrames()
    {
        amqp_connection_state_t conn = m_conn.get();
        bool canPublishMore = !m_pending.empty() && m_publishChannelOpen && !m_blocked
                              && int(m_inflight.size()) < m_options.publishWindow
                              && !(m_probe > 0 && !m_inflight.empty());
        if (!amqp_frames_enqueued(conn) && !amqp_data_in_buffer(conn)) {
            pollfd fds[2] = {{m_sockfd, POLLIN, 0}, {m_wakeFd, POLLIN, 0}};
            milliseconds timeout = canPublishMore ? milliseconds(0) : kIdlePoll;
            const auto now = Clock::now();
            for (const Subscription &s : m_subs)
                if (!s.active)
                    timeout = std::min(timeout, std::max(milliseconds(0),
                        std::chrono::duration_cast<milliseconds>(s.retryAt - now)));
            const int n = ::poll(fds, 2, int(timeout.count()));
            if (n > 0 && (fds[1].revents & POLLIN))
                clearWake();
            if (n <= 0 || !(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
                // Nothing to read: let rabbitmq-c send a heartbeat if one is due.
                amqp_frame_t frame;
                timeval zero{0, 0};
                const int rc = amqp_simple_wait_frame_noblock(conn, &frame, &zero);
                if (rc == AMQP_STATUS_OK)
                    return handleFrame(frame);
                if (rc != AMQP_STATUS_TIMEOUT)
                    return classifyStatus(rc, u"waiting for the broker"_s);
                return std::nullopt;
            }
        }
        // Read everything that is there, then go back to the inbox.
        for (int i = 0; i < 4096; ++i) {
            amqp_frame_t frame;
            timeval zero{0, 0};
            const int rc = amqp_simple_wait_frame_noblock(conn, &frame, &zero);
            if (rc == AMQP_STATUS_TIMEOUT)
                break;
            if (rc != AMQP_STATUS_OK)
                return classifyStatus(rc, u"reading from the broker"_s);
            if (auto f = handleFrame(frame))
                return f;
        }
        amqp_maybe_release_buffers(conn);
        return std::nullopt;
    }

    std::optional<Failure> handleFrame(const amqp_frame_t &frame)
    {
        if (frame.frame_type != AMQP_FRAME_METHOD) {
            qCDebug(lcAmqp) << "ignoring a stray frame of type" << frame.frame_type;
            return std::nullopt;
        }
        const amqp_channel_t ch = frame.channel;
        void *decoded = frame.payload.method.decoded;
        switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            const auto *m = static_cast<amqp_basic_ack_t *>(decoded);
            if (ch == kPublishChannel)
                onConfirm(m->delivery_tag, m->multiple, true);
            return std::nullopt;
        }
        case AMQP_BASIC_NACK_METHOD: {
            const auto *m = static_cast<amqp_basic_nack_t *>(decoded);
            if (ch == kPublishChannel)
                onConfirm(m->delivery_tag, m->multiple, false);
            return std::nullopt;
        }
        case AMQP_BASIC_RETURN_METHOD: {
            const auto *m = static_cast<amqp_basic_return_t *>(decoded);
            const Error e(ErrorCode::Unroutable,
                          u"no queue for routing key '%1' on exchange '%2' (%3 %4)"_s.arg(
                              amqp::toQString(m->routing_key), amqp::toQString(m->exchange))
                              .arg(m->reply_code)
                              .arg(amqp::toQString(m->reply_text)));
            amqp_message_t message;
            const amqp_rpc_reply_t r = amqp_read_message(m_conn.get(), ch, &message, 0);
            if (!isOk(r))
                return classifyReply(r, u"reading a returned message"_s);
            const MessageProperties props = amqp::readProperties(message.properties);
            amqp_destroy_message(&message);
            for (auto &[seq, f] : m_inflight)
                if (f.cmd.message.properties.messageId == props.messageId && !f.returned) {
                    f.returned = true;
                    f.returnError = e;
                    break;
                }
            return std::nullopt;
        }
        case AMQP_BASIC_DELIVER_METHOD: {
            const auto *m = static_cast<amqp_basic_deliver_t *>(decoded);
            Delivery d;
            d.generation = m_generation.load();
            d.channel = ch;
            d.deliveryTag = m->delivery_tag;
            d.redelivered = m->redelivered;
            d.exchange = amqp::toQString(m->exchange);
            d.routingKey = amqp::toQString(m->routing_key);
            if (ch == kPublishChannel) {
                d.noAck = true;
                d.queue = QString::fromLatin1(kDirectReplyTo);
            } else {
                for (const Subscription &s : m_subs)
                    if (s.channel == ch)
                        d.queue = s.options.queue;
            }
            amqp_message_t message;
            const amqp_rpc_reply_t r = amqp_read_message(m_conn.get(), ch, &message, 0);
            if (!isOk(r))
                return classifyReply(r, u"reading a delivery"_s);
            d.body = amqp::toByteArray(message.body);
            d.properties = amqp::readProperties(message.properties);
            amqp_destroy_message(&message);
            m_deliveryBatch.push_back(std::move(d));
            if (m_deliveryBatch.size() >= 256)
                flushNotifications();
            return std::nullopt;
        }
        case AMQP_BASIC_CANCEL_METHOD: {
            for (Subscription &s : m_subs)
                if (s.channel == ch && s.active)
                    subscriptionFailed(s, Error(ErrorCode::NotFound,
                        u"the broker cancelled the subscription to %1 (queue deleted?)"_s.arg(
                            s.options.queue)));
            return std::nullopt;
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
            const auto *m = static_cast<amqp_channel_close_t *>(decoded);
            const Error e = closeError(m->reply_code, amqp::toQString(m->reply_text),
                                       u"channel %1 closed by the broker"_s.arg(ch));
            amqp_channel_close_ok_t ok{};
            if (const int rc = amqp_send_method(m_conn.get(), ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
                rc != AMQP_STATUS_OK)
                return classifyStatus(rc, u"closing a channel"_s);
            if (ch == kPublishChannel)
                publishChannelClosed(e);
            else
                for (Subscription &s : m_subs)
                    if (s.channel == ch) {
                        s.channelOpen = false;
                        subscriptionFailed(s, e);
                    }
            return std::nullopt;
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            const auto *m = static_cast<amqp_connection_close_t *>(decoded);
            Error e = closeError(m->reply_code, amqp::toQString(m->reply_text),
                                 u"the broker closed the connection"_s);
            amqp_connection_close_ok_t ok{};
            amqp_send_method(m_conn.get(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
            return Failure{Severity::Connection, e};
        }
        case AMQP_CONNECTION_BLOCKED_METHOD: {
            const auto *m = static_cast<amqp_connection_blocked_t *>(decoded);
            m_blocked = true;
            const QString reason = amqp::toQString(m->reason);
            qCWarning(lcAmqp).noquote() << "the broker blocked publishing:" << reason
                                        << "(a resource alarm: memory or disk space low on the broker)";
            toOwner([o = m_owner, reason] { Q_EMIT o->blockedChanged(true, reason); });
            return std::nullopt;
        }
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            m_blocked = false;
            qCInfo(lcAmqp) << "the broker unblocked publishing";
            toOwner([o = m_owner] { Q_EMIT o->blockedChanged(false, QString()); });
            return std::nullopt;
        default:
            qCDebug(lcAmqp) << "ignoring method" << Qt::hex << frame.payload.method.id << "on channel" << ch;
            return std::nullopt;
        }
    }

    void onConfirm(uint64_t tag, bool multiple, bool ack)
    {
        auto first = m_inflight.begin();
        auto last = multiple ? m_inflight.upper_bound(tag) : m_inflight.find(tag);
        if (!multiple) {
            if (last == m_inflight.end())
                return;
            first = last;
            ++last;
        }
        for (auto it = first; it != last; ++it) {
            InFlight &f = it->second;
            if (f.returned)
                failPublish(f.cmd.token, f.returnError);
            else if (ack)
                m_confirmBatch.append(f.cmd.token);
            else
                failPublish(f.cmd.token,
                            Error(ErrorCode::Rejected,
                                  u"the broker refused the message to '%1' (nack): the queue is "
                                  "full (reject-publish) or unavailable"_s.arg(f.cmd.message.exchange)));
        }
        m_inflight.erase(first, last);
    }

    void publishChannelClosed(const Error &e)
    {
        m_publishChannelOpen = false;
        m_replyToActive = false;
        if (m_inflight.size() == 1) {
            failPublish(m_inflight.begin()->second.cmd.token, e);
            m_inflight.clear();
        } else if (!m_inflight.empty()) {
            qCWarning(lcAmqp).noquote() << e.toString() << "— resending" << m_inflight.size()
                                        << "unconfirmed messages one at a time to find the one refused";
            m_probe = int(m_inflight.size());
            requeueInflight();
        } else {
            qCWarning(lcAmqp).noquote() << e.toString();
        }
    }

    void requeueInflight()
    {
        for (auto it = m_inflight.rbegin(); it != m_inflight.rend(); ++it)
            m_pending.push_front(std::move(it->second.cmd));
        m_inflight.clear();
    }

    void connectionLost(const Error &e)
    {
        qCWarning(lcAmqp).noquote() << "connection lost:" << e.toString();
        requeueInflight();
        teardown();
        m_state = State::Connecting;
        toOwner([o = m_owner, e] { Q_EMIT o->disconnected(e); });
    }

    void teardown()
    {
        m_conn.reset();
        m_sockfd = -1;
        m_publishChannelOpen = false;
        m_replyToActive = false;
        m_blocked = false;
        m_nextChannel = 2;
        for (Subscription &s : m_subs) {
            s.active = false;
            s.channelOpen = false;
            s.channel = 0;
        }
    }

    void shutdown()
    {
        if (m_conn) {
            // Send what can still be sent and wait a little for its confirms.
            const auto deadline = Clock::now() + m_options.stopDrainTimeout;
            while (Clock::now() < deadline && (!m_inflight.empty() || !m_pending.empty())) {
                if (auto f = serviceConnection()) {
                    requeueInflight();
                    teardown();
                    break;
                }
                flushNotifications();
            }
            for (Command &cmd : takeInbox())
                if (auto *a = std::get_if<AckCmd>(&cmd); a && m_conn)
                    sendAck(*a);
            if (m_conn)
                amqp_connection_close(m_conn.get(), AMQP_REPLY_SUCCESS);
        }
        for (Command &cmd : takeInbox())
            if (auto *p = std::get_if<PublishCmd>(&cmd))
                m_pending.push_back(std::move(*p));
        requeueInflight();
        const Error stopped(ErrorCode::Cancelled, u"the AMQP client was stopped before the broker confirmed the message"_s);
        for (const PublishCmd &p : m_pending)
            toOwner([o = m_owner, t = p.token, stopped] { Q_EMIT o->publishFailed(t, stopped); });
        m_pending.clear();
        teardown();
        m_state = State::Stopped;
    }

    AmqpClient *m_owner;
    Options m_options;
    std::thread m_thread;
    std::atomic<bool> m_stopRequested{false};
    std::atomic<quint64> m_nextToken{1};
    int m_wakeFd = -1;

    std::mutex m_inboxMutex;
    std::deque<Command> m_inbox;

    // I/O thread only from here on.
    ConnectionPtr m_conn;
    int m_sockfd = -1;
    bool m_publishChannelOpen = false;
    bool m_replyTo = false;
    bool m_replyToActive = false;
    bool m_blocked = false;
    quint16 m_nextChannel = 2;
    uint64_t m_nextSeq = 1;
    int m_probe = 0;
    std::deque<PublishCmd> m_pending;
    std::map<uint64_t, InFlight> m_inflight;
    std::vector<Subscription> m_subs;
    QList<quint64> m_confirmBatch;
    std::vector<Delivery> m_deliveryBatch;
};

AmqpClient::AmqpClient(BrokerSettings settings, QObject *parent)
    : AmqpClient(std::move(settings), Options{}, parent)
{
}

AmqpClient::AmqpClient(BrokerSettings settings, Options options, QObject *parent)
    : QObject(parent)
    , m_worker(std::make_unique<Worker>(this, std::move(settings), options))
{
    qRegisterMetaType<sparky::Error>();
    qRegisterMetaType<sparky::Delivery>();
}

AmqpClient::~AmqpClient()
{
    m_worker->stop();
}

void AmqpClient::start()
{
    m_worker->start();
}

void AmqpClient::stop()
{
    m_worker->stop();
}

quint64 AmqpClient::publish(OutgoingMessage message)
{
    const quint64 token = m_worker->nextToken();
    m_worker->post(PublishCmd{token, std::move(message)});
    return token;
}

void AmqpClient::consume(const ConsumerOptions &options)
{
    m_worker->post(ConsumeCmd{options});
}

void AmqpClient::consumeDirectReplyTo()
{
    m_worker->post(ReplyToCmd{});
}

void AmqpClient::ack(const Delivery &d, bool multiple)
{
    if (d.noAck)
        return;
    m_worker->post(AckCmd{AckKind::Ack, d.generation, d.channel, d.deliveryTag, multiple, false});
}

void AmqpClient::nack(const Delivery &d, bool requeue, bool multiple)
{
    if (d.noAck)
        return;
    m_worker->post(AckCmd{AckKind::Nack, d.generation, d.channel, d.deliveryTag, multiple, requeue});
}

void AmqpClient::reject(const Delivery &d, bool requeue)
{
    if (d.noAck)
        return;
    m_worker->post(AckCmd{AckKind::Reject, d.generation, d.channel, d.deliveryTag, false, requeue});
}

AmqpClient::State AmqpClient::state() const
{
    return m_worker->m_state.load();
}

QString AmqpClient::user() const
{
    return m_worker->m_settings.user;
}

quint64 AmqpClient::generation() const
{
    return m_worker->m_generation.load();
}

} // namespace sparky
