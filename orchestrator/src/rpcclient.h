#pragma once

// The caller's side of the orchestrator RPC (docs/protocol.md "RPC"), for the admin GUI and
// command-line tools. Free of orchestrator internals: it needs only sparky::core.
//
//   sparky::AmqpClient amqp(settings);           // a user with write access to sparky.rpc
//   sparky::RpcClient rpc(&amqp);
//   amqp.start();
//   auto *call = rpc.call(u"runs.query"_s, {{u"node"_s, u"web-01"_s}});
//   connect(call, &sparky::RpcCall::finished, this, [](sparky::RpcCall *c) { … c->result() … });
//
// Requests go to sparky.rpc (routing key "rpc") with a fresh correlation id, reply_to =
// amq.rabbitmq.reply-to (direct reply-to: no reply queue to declare) and an AMQP expiration
// equal to the call's timeout, so a request nobody answered in time is dropped by the broker
// instead of being acted on late. The caller's identity is the broker user of `client`.
//
// Threading: lives on the thread of the AmqpClient's owner; the AmqpClient is not owned and
// must outlive the RpcClient. Calls in flight when the connection drops get no reply; they
// finish with a timeout.

#include "rpccall.h"
#include "sparky/amqpclient.h"

#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <chrono>

namespace sparky {

class RpcClient final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RpcClient)

public:
    explicit RpcClient(AmqpClient *client, QObject *parent = nullptr);
    ~RpcClient() override; // unfinished calls finish with a transport error

    // Starts a call; the returned job belongs to this client (parented) and finishes once.
    RpcCall *call(const QString &method, const QJsonObject &params = {},
        std::chrono::milliseconds timeout = std::chrono::seconds(30));

    int pendingCalls() const { return int(m_calls.size()); }

private:
    void onDelivered(const Delivery &delivery);
    void onPublishFailed(quint64 token, const Error &error);
    void onConfirmed(const QList<quint64> &tokens);

    AmqpClient *m_client = nullptr;
    QHash<QString, QPointer<RpcCall>> m_calls; // correlation id → call
    QHash<quint64, QString> m_tokens; // publish token → correlation id
};

} // namespace sparky
