#pragma once

// An agent-like responder for tests of the orchestrator's agent RPC (archives.list,
// archive.browse, restore.start, drill.start, node.ping): a node's own broker user consuming
// its queue sparky.agent.<node> with single active consumer, verifying every command with
// sparky::verifyCommand against the orchestrator's pinned public key (signature, target
// node, issue time, expiry), acking it at once, and answering through sparky.events with
// command.update and run.* events built through sparky/protocol.h, exactly as the agent's
// daemon does (agent/daemon/agentdaemon.cpp). What it answers is scripted per command type.
// The real agent is covered by the end-to-end tests.
//
// Threading: the test's main thread. Owns its AmqpClient.

#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "sparky/signing.h"

#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QStringList>
#include <chrono>
#include <memory>

namespace sparky::test {

class AgentResponder final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AgentResponder)

public:
    struct Reply
    {
        enum class Kind {
            Succeed, // command.update succeeded with `result`
            Reject, // command.update rejected with `error`
            Fail, // command.update failed with `error`
            Ignore, // nothing at all (a stuck agent)
            Run, // running + run.started/progress/finished + succeeded/failed
        };
        Kind kind = Kind::Succeed;
        QJsonObject result;
        QString error;
        protocol::RunKind runKind = protocol::RunKind::Restore;
        protocol::Status runStatus = protocol::Status::Success;
        QJsonObject details; // run.finished details
        int progressEvents = 2;
        std::chrono::milliseconds step { 150 }; // between the run's events

        static Reply succeed(const QJsonObject &result)
        {
            Reply r;
            r.result = result;
            return r;
        }
        static Reply refuse(Kind kind, const QString &error) // Reject or Fail
        {
            Reply r;
            r.kind = kind;
            r.error = error;
            return r;
        }
        static Reply ignore()
        {
            Reply r;
            r.kind = Kind::Ignore;
            return r;
        }
        static Reply run(protocol::RunKind runKind,
            protocol::Status status = protocol::Status::Success, const QString &error = {})
        {
            Reply r;
            r.kind = Kind::Run;
            r.runKind = runKind;
            r.runStatus = status;
            r.error = error;
            return r;
        }
    };

    AgentResponder(BrokerSettings node, VerifyKey orchestratorKey, QObject *parent = nullptr);
    ~AgentResponder() override;

    // Connects and consumes (waits up to 15 s for the connection).
    Result start();
    void stop();

    void script(const QString &commandType, const Reply &reply);
    // agent.hello + agent.heartbeat with envelope ts `at` (default now): the orchestrator
    // takes the node's last_seen from it. Waits for the broker's confirms.
    Result announce(const QDateTime &at = {});

    QString node() const { return m_node; }
    const QList<Envelope> &received() const { return m_received; }
    const QStringList &verifyFailures() const { return m_failures; }
    int eventsPublished() const { return m_published; }

Q_SIGNALS:
    void commandReceived(const sparky::Envelope &command);

private:
    void onDelivered(const Delivery &delivery);
    void answer(const Envelope &command, const Reply &reply);
    void publish(const Envelope &event);
    void update(const Envelope &command, protocol::CommandUpdate::State state,
        const QString &error = {}, const QString &runId = {}, const QJsonObject &result = {});

    QString m_node;
    VerifyKey m_key;
    std::unique_ptr<AmqpClient> m_client;
    QHash<QString, Reply> m_script;
    QList<Envelope> m_received;
    QStringList m_failures;
    int m_published = 0;
    int m_runs = 0;
};

} // namespace sparky::test
