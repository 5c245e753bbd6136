#include "adminsession.h"

#include "adminlogging.h"
#include "rpcclient.h"
#include "secretstore.h"
#include "sparky/amqpclient.h"

#include <QTimer>

namespace sparky::admin {

using namespace Qt::StringLiterals;

AdminSession::AdminSession(ConnectionProfile profile, SecretStore *secrets, QObject *parent)
    : RpcInvoker(parent)
    , m_profile(std::move(profile))
    , m_secrets(secrets)
{
    m_stateText = u"not connected"_s;
}

AdminSession::~AdminSession()
{
    close();
}

void AdminSession::open()
{
    if (!m_profile.needsToken()) {
        connectWith({});
        return;
    }
    setState(State::ReadingSecret,
        u"reading the token of profile '%1' from the %2"_s.arg(
            m_profile.name, m_secrets->backendName()));
    m_secrets->readSecret(m_profile.secretKey(), this, [this](const Expected<QByteArray> &token) {
        if (!token) {
            setState(State::Failed,
                u"cannot connect with profile '%1': %2"_s.arg(
                    m_profile.name, token.error().message));
            return;
        }
        connectWith(*token);
    });
}

void AdminSession::openWithToken(const QByteArray &token)
{
    connectWith(token);
}

void AdminSession::connectWith(const QByteArray &token)
{
    close();
    auto settings = m_profile.brokerSettings(token);
    if (!settings) {
        setState(State::Failed,
            u"profile '%1' is not usable: %2"_s.arg(m_profile.name, settings.error().message));
        return;
    }
    AmqpClient::Options options;
    options.permanentRetry = std::chrono::seconds(30);
    m_amqp = std::make_unique<AmqpClient>(*settings, options);
    m_rpc = std::make_unique<RpcClient>(m_amqp.get());
    const QString who = m_profile.user.isEmpty() ? u"client certificate"_s : m_profile.user;
    m_everConnected = false;
    connect(m_amqp.get(), &AmqpClient::connected, this, [this, who](const QString &endpoint) {
        m_everConnected = true;
        setState(State::Connected, u"connected to %1 as %2"_s.arg(endpoint, who));
    });
    connect(m_amqp.get(), &AmqpClient::disconnected, this, [this](const Error &e) {
        // Before the first connection nothing was "lost": say the broker is not reachable.
        setState(State::Connecting,
            (m_everConnected ? u"connection lost, reconnecting: "_s
                             : u"cannot reach the broker (%1), retrying: "_s.arg(
                                 m_profile.hosts.join(u", "_s)))
                + e.message);
    });
    connect(m_amqp.get(), &AmqpClient::failed, this,
        [this](const Error &e) { setState(State::Failed, u"cannot connect: "_s + e.message); });
    setState(
        State::Connecting, u"connecting to %1 as %2"_s.arg(m_profile.hosts.join(u", "_s), who));
    m_amqp->start();
}

void AdminSession::close()
{
    m_rpc.reset(); // unfinished calls finish with a transport error
    if (m_amqp) {
        m_amqp->stop();
        m_amqp.reset();
    }
    if (m_state != State::Closed && m_state != State::Failed)
        setState(State::Closed, u"not connected"_s);
}

void AdminSession::setProfile(const ConnectionProfile &profile)
{
    close();
    m_profile = profile;
}

void AdminSession::setState(State state, const QString &text)
{
    if (m_state == state && m_stateText == text)
        return;
    m_state = state;
    m_stateText = text;
    if (state == State::Failed)
        qCWarning(lcAdmin).noquote() << text;
    else
        qCInfo(lcAdmin).noquote() << text;
    Q_EMIT stateChanged(state, text);
}

void AdminSession::invoke(const QString &method, const QJsonObject &params, QObject *context,
    Callback done, std::chrono::milliseconds timeout)
{
    QPointer<QObject> guard(context);
    // Not connected (yet, or any more): say so now rather than after the call's timeout,
    // which would read as "is the orchestrator running?".
    if (!m_rpc || m_state != State::Connected) {
        const RpcReply r = RpcReply::failure(
            method, u"transport"_s, u"not connected to the broker (%1)"_s.arg(m_stateText));
        QTimer::singleShot(0, this, [this, guard, done = std::move(done), r] {
            if (guard)
                done(r);
            Q_EMIT callFinished(r);
        });
        return;
    }
    sparky::RpcCall *call = m_rpc->call(method, params, timeout);
    qCDebug(lcAdminRpc).noquote() << "call" << method << call->correlationId();
    connect(call, &sparky::RpcCall::finished, this,
        [this, guard, done = std::move(done)](sparky::RpcCall *c) {
            RpcReply r;
            r.method = c->method();
            r.params = c->params();
            r.ok = c->isOk();
            r.result = c->result();
            r.errorCode = c->errorCode();
            r.errorMessage = c->errorString();
            r.errorData = c->errorData();
            if (!r.ok)
                qCInfo(lcAdminRpc).noquote() << r.describe();
            if (guard)
                done(r);
            Q_EMIT callFinished(r);
        });
}

} // namespace sparky::admin
