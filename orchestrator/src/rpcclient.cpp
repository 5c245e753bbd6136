#include "rpcclient.h"

#include "sparky/protocol.h"

namespace sparky {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

RpcClient::RpcClient(AmqpClient *client, QObject *parent)
    : QObject(parent)
    , m_client(client)
{
    connect(m_client, &AmqpClient::delivered, this, &RpcClient::onDelivered);
    connect(m_client, &AmqpClient::publishFailed, this, &RpcClient::onPublishFailed);
    connect(m_client, &AmqpClient::confirmed, this, &RpcClient::onConfirmed);
    m_client->consumeDirectReplyTo();
}

RpcClient::~RpcClient()
{
    const auto calls = m_calls;
    m_calls.clear();
    for (const QPointer<RpcCall> &c : calls) {
        if (c) {
            c->setAutoDelete(false);
            c->finishError(QString(RpcCall::kTransport), u"the RPC client was destroyed"_s);
        }
    }
}

RpcCall *RpcClient::call(
    const QString &method, const QJsonObject &params, std::chrono::milliseconds timeout)
{
    const QString user = m_client->user();
    Envelope e = Envelope::make(method, isValidNodeId(user) ? user : u"client"_s, params);
    const QString correlationId = newMessageId();
    auto *c = new RpcCall(method, params, correlationId, timeout, this);
    m_calls.insert(correlationId, c);
    connect(c, &RpcCall::finished, this, [this, correlationId] { m_calls.remove(correlationId); });

    OutgoingMessage m;
    m.exchange = QString(proto::kRpcExchange);
    m.routingKey = QString(proto::kRpcRoutingKey);
    m.body = serializeEnvelope(e);
    m.properties = propertiesFor(e, user);
    m.properties.replyTo = QString(proto::kDirectReplyTo);
    m.properties.correlationId = correlationId;
    m.properties.expirationMs = qint64(timeout.count());
    m.properties.persistent = false;
    m.mandatory = true; // no orchestrator queue bound → fail now, not after the timeout
    m_tokens.insert(m_client->publish(std::move(m)), correlationId);
    return c;
}

void RpcClient::onConfirmed(const QList<quint64> &tokens)
{
    for (quint64 t : tokens)
        m_tokens.remove(t);
}

void RpcClient::onPublishFailed(quint64 token, const Error &error)
{
    const QString id = m_tokens.take(token);
    if (id.isEmpty())
        return;
    if (QPointer<RpcCall> c = m_calls.value(id))
        c->finishError(
            QString(RpcCall::kTransport), u"the request could not be sent: "_s + error.toString());
}

void RpcClient::onDelivered(const Delivery &d)
{
    if (!d.noAck || d.properties.correlationId.isEmpty())
        return; // not a direct reply-to delivery
    QPointer<RpcCall> c = m_calls.value(d.properties.correlationId);
    if (!c)
        return; // a late reply to a call that timed out
    auto reply = parseEnvelope(d.body);
    if (!reply || reply->type != proto::type::RpcReply) {
        c->finishError(QString(RpcCall::kBadReply),
            reply ? u"unexpected reply type '%1'"_s.arg(reply->type) : reply.error().toString());
        return;
    }
    const QJsonObject body = reply->body;
    if (body.value("ok"_L1).toBool()) {
        c->finishOk(body.value("result"_L1).toObject());
        return;
    }
    const QJsonObject err = body.value("error"_L1).toObject();
    const QString code = err.value("code"_L1).toString();
    c->finishError(code.isEmpty() ? QString(RpcCall::kBadReply) : code,
        err.value("message"_L1).toString(), err);
}

} // namespace sparky
