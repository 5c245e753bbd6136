#pragma once

// Agent-shaped events for tests, built through sparky/protocol.h exactly as the agent builds
// them (same bodies, same envelope, same AMQP properties and routing key).

#include "sparky/amqpclient.h"
#include "sparky/protocol.h"

#include <QDateTime>
#include <QList>

namespace sparky::test {

struct AgentRun
{
    explicit AgentRun(QString nodeId)
        : node(std::move(nodeId))
    { }

    QString node;
    QString job = QStringLiteral("home");
    QString runId;
    QDateTime start;
    protocol::Status status = protocol::Status::Success;
    qint64 originalSize = 1000000;
    qint64 deduplicatedSize = 4000;
    protocol::RunKind kind = protocol::RunKind::Backup;
    int progressEvents = 2;

    // run.started, progress…, run.finished — each a fresh envelope (own id).
    QList<Envelope> events() const;
};

Envelope helloEnvelope(
    const QString &node, const QList<protocol::JobInfo> &jobs, const QDateTime &ts = {});

// The message the agent publishes for `e`: sparky.events, routing key <node>.<type>,
// user_id = `user` (the broker rejects a user_id that is not the connection's user).
OutgoingMessage eventMessage(const Envelope &e, const QString &user);

} // namespace sparky::test
