#pragma once

// The orchestrator's side of the broker for agent daemon tests: a connection that publishes
// signed commands to one node's queue (as the orchestrator user, `mandatory`), and one that
// consumes sparky.orchestrator.events and keeps the events of that node — published by that
// node's broker user — in arrival order. Both on the shared test broker.
//
// Threading: the test's main thread.

#include "testbroker.h"

#include "sparky/amqpclient.h"
#include "sparky/envelope.h"
#include "sparky/error.h"
#include "sparky/protocol.h"
#include "sparky/signing.h"

#include <QList>
#include <QObject>
#include <chrono>
#include <memory>
#include <optional>

namespace sparky::agent::test {

class OrchestratorSide final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OrchestratorSide)

public:
    OrchestratorSide(std::shared_ptr<sparky::test::TestBroker> broker, QString node,
        QObject *parent = nullptr);
    ~OrchestratorSide() override;

    // Connects both clients and waits (up to 20 s) until they are.
    Result start();
    void stop();

    // A command for `target` (default: the node), issued `issuedAgo` seconds ago, signed by key.
    Envelope signedCommand(const QString &type, const QJsonObject &body, const SigningKey &key,
        qint64 issuedAgo = 0, std::chrono::seconds lifetime = std::chrono::seconds(600),
        const QString &target = {}) const;
    // Publishes to the node's queue (always: a misrouted command must still reach it). Without
    // brokerExpiry the AMQP expiration is left out (the agent must check expiry itself).
    quint64 publish(const Envelope &command, bool brokerExpiry = true);

    const QList<Envelope> &events() const { return m_events; }
    QList<protocol::CommandUpdate> updatesFor(const QString &commandId) const;
    std::optional<protocol::RunFinished> finishedEvent(const QString &runId) const;
    // Waits (up to timeoutMs) for a final command.update (Succeeded, Failed, Rejected, Expired).
    std::optional<protocol::CommandUpdate> waitForFinalUpdate(const QString &commandId, int timeoutMs);
    std::optional<protocol::RunFinished> waitForFinished(const QString &runId, int timeoutMs);

    AmqpClient *eventsClient() const { return m_eventsIn.get(); }

private:
    std::shared_ptr<sparky::test::TestBroker> m_broker;
    QString m_node;
    std::unique_ptr<AmqpClient> m_commandsOut;
    std::unique_ptr<AmqpClient> m_eventsIn;
    QList<Envelope> m_events;
};

} // namespace sparky::agent::test
