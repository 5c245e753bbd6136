#pragma once

// One connection of sparky-admin-cli to the orchestrator's RPC: an AmqpClient as the
// configured RPC user and an RpcClient on it. call() waits for its answer in a local event
// loop — fine for a command-line tool, whose only job is that answer (the GUI uses RpcCall
// jobs directly and never waits).
//
// Threading: the main thread of the CLI. Owns the AmqpClient and the RpcClient.

#include "sparky/amqpclient.h"
#include "sparky/error.h"

#include <QJsonObject>
#include <QString>
#include <chrono>
#include <memory>

namespace sparky {
class RpcClient;
}

namespace sparky::ctl {

struct CallResult
{
    bool ok = false;
    QJsonObject result; // when ok
    QString code; // the RPC error code (docs/protocol.md "Errors"), or timeout/transport
    QString message;
    QJsonObject error; // the whole error object (command_id, node, … for some codes)
};

class CtlSession final
{
public:
    explicit CtlSession(BrokerSettings broker);
    ~CtlSession();
    CtlSession(const CtlSession &) = delete;
    CtlSession &operator=(const CtlSession &) = delete;

    // Connects, or says why not (credentials, TLS, unreachable) within the connect timeout.
    Result connect();
    CallResult call(const QString &method, const QJsonObject &params,
        std::chrono::milliseconds timeout);
    // Lets the event loop run for `ms` (between polls of a run that is being followed).
    static void pause(int ms);
    void close();

private:
    BrokerSettings m_broker;
    std::unique_ptr<AmqpClient> m_amqp;
    std::unique_ptr<RpcClient> m_rpc;
};

} // namespace sparky::ctl
