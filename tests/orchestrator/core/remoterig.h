#pragma once

// What the tests of the agent RPC share: one orchestrator running in this process (the
// daemon's own wiring, OrchestratorDaemon) on SQLite or the PostgreSQL fixture, an
// AgentResponder answering for one online node, an RPC client as the broker's operator
// user, and an observer connection to the store for assertions.
//
// Only one rig may live at a time (the daemon's store connections have fixed names).
// Threading: the test's main thread.

#include "agentresponder.h"
#include "database.h"
#include "orchestratordaemon.h"
#include "rpcclient.h"
#include "sparky/amqpclient.h"
#include "sparky/signing.h"
#include "testbroker.h"

#include <QJsonObject>
#include <QString>
#include <chrono>
#include <memory>

namespace sparky::test {

class RemoteRig final
{
public:
    struct Setup
    {
        std::shared_ptr<TestBroker> broker;
        QString dir; // for the store (a sub-directory per rig)
        QString keyFile; // the orchestrator's signing key (0600)
        VerifyKey publicKey; // what the responder pins
        QString backend; // sqlite | postgres
        QString node; // the responder's node (enrolled on first use)
        QString role = QStringLiteral("operator"); // of the broker's operator user
    };

    // Starts everything and waits until the orchestrator has stored the node's hello.
    static Expected<std::unique_ptr<RemoteRig>> create(const Setup &setup);
    ~RemoteRig();
    RemoteRig(const RemoteRig &) = delete;
    RemoteRig &operator=(const RemoteRig &) = delete;

    // The orchestrator's config for this rig (broker, store, signing key, the role).
    static QByteArray configYaml(const Setup &setup, const orchestrator::StoreSettings &store);

    std::unique_ptr<RpcCall> call(const QString &method, const QJsonObject &params,
        std::chrono::milliseconds timeout = std::chrono::seconds(20));
    qint64 count(const QString &sql, const QVariantList &values = {}) const;
    QString text(const QString &sql, const QVariantList &values = {}) const;

    orchestrator::OrchestratorDaemon *daemon() const { return m_daemon.get(); }
    AgentResponder *agent() const { return m_agent.get(); }
    QString node() const { return m_node; }
    const orchestrator::StoreSettings &store() const { return m_store; }

private:
    RemoteRig() = default;

    orchestrator::StoreSettings m_store;
    std::unique_ptr<orchestrator::OrchestratorDaemon> m_daemon;
    std::unique_ptr<AmqpClient> m_amqp;
    std::unique_ptr<RpcClient> m_rpc;
    std::unique_ptr<AgentResponder> m_agent;
    std::unique_ptr<orchestrator::Database> m_observer;
    QString m_node;
};

// "ok: {json}" or "code: message" for failure messages.
QString describeCall(const RpcCall &call);

} // namespace sparky::test
