#include "commanddispatcher.h"

#include "orchestratorlogging.h"
#include "sparky/protocol.h"

#include <QJsonDocument>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

int commandStateRank(QStringView state)
{
    if (state == u"pending")
        return 0;
    if (state == u"published")
        return 1;
    if (state == u"received")
        return 2;
    if (state == u"running")
        return 3;
    return 4; // succeeded, failed, rejected, expired
}

CommandDispatcher::CommandDispatcher(AmqpClient *client, Database *database, SigningKey key,
    CommandSettings settings, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_db(database)
    , m_key(std::move(key))
    , m_settings(std::move(settings))
{
    connect(m_client, &AmqpClient::confirmed, this, &CommandDispatcher::onConfirmed);
    connect(m_client, &AmqpClient::publishFailed, this, &CommandDispatcher::onPublishFailed);
}

CommandDispatcher::~CommandDispatcher() = default;

Expected<CommandRecord> CommandDispatcher::issue(const CommandRequest &request)
{
    if (!isValidNodeId(request.node))
        return unexpected(ErrorCode::InvalidArgument,
            u"'%1' is not a valid node id"_s.arg(request.node.left(64)));
    if (!isValidMessageType(request.type))
        return unexpected(ErrorCode::InvalidArgument,
            u"'%1' is not a valid command type"_s.arg(request.type.left(64)));
    std::chrono::seconds lifetime
        = request.lifetime.count() > 0 ? request.lifetime : m_settings.defaultLifetime;
    if (lifetime > m_settings.maxLifetime)
        return unexpected(ErrorCode::InvalidArgument,
            u"command lifetime %1 s exceeds the maximum of %2 s"_s.arg(lifetime.count())
                .arg(m_settings.maxLifetime.count()));

    Envelope env = Envelope::make(request.type, request.node, request.params);
    if (!request.id.isEmpty()) {
        if (!isValidMessageId(request.id))
            return unexpected(ErrorCode::InvalidArgument,
                u"'%1' is not a valid command id"_s.arg(request.id.left(64)));
        env.id = request.id;
    }
    if (auto ok = signCommand(env, m_key, lifetime); !ok)
        return ok.error();

    CommandRecord rec { env.id, env.node, env.type, u"pending"_s, env.ts, *env.expires };
    auto q = m_db->exec(
        u"INSERT INTO commands (id, node, type, params, issued_by, issued_at, expires_at, state,"
        " state_rank, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)"_s,
        { env.id, env.node, env.type,
            QString::fromUtf8(QJsonDocument(env.body).toJson(QJsonDocument::Compact)),
            request.issuedBy, env.ts.toMSecsSinceEpoch(), env.expires->toMSecsSinceEpoch(),
            QDateTime::currentMSecsSinceEpoch() });
    if (!q)
        return q.error().wrapped(u"storing command %1"_s.arg(env.id));

    OutgoingMessage m;
    m.exchange = QString(protocol::kCommandsExchange);
    m.routingKey = env.node;
    m.body = serializeEnvelope(env);
    m.properties = propertiesFor(env, m_client->user());
    m.mandatory = true;
    const quint64 token = m_client->publish(std::move(m));
    m_tokens.insert(token, { env.id, env.node });
    Q_EMIT commandChanged(env.id, u"pending"_s);
    qCInfo(lcCommands).noquote() << "command" << env.id << env.type << "to" << env.node
                                 << "issued by" << request.issuedBy << "expires"
                                 << formatTimestamp(*env.expires);
    return rec;
}

Expected<bool> CommandDispatcher::setState(const QString &id, const QString &state,
    const QString &timeColumn, const QString &error, int belowRank)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    auto q = m_db->exec(u"UPDATE commands SET state = ?, state_rank = ?, "_s + timeColumn
            + u" = ?, error = COALESCE(?, error), updated_at = ? WHERE id = ? AND state_rank < ?"_s,
        { state, commandStateRank(state), now,
            error.isEmpty() ? QVariant(QMetaType::fromType<QString>()) : QVariant(error), now, id,
            belowRank });
    if (!q)
        return q.error();
    const bool changed = q->numRowsAffected() > 0;
    if (changed)
        Q_EMIT commandChanged(id, state);
    return changed;
}

void CommandDispatcher::onConfirmed(const QList<quint64> &tokens)
{
    for (quint64 token : tokens) {
        const auto it = m_tokens.constFind(token);
        if (it == m_tokens.constEnd())
            continue;
        const QString id = it->first;
        m_tokens.erase(it);
        if (auto ok = setState(id, u"published"_s, u"published_at"_s, {}, 1); !ok)
            qCWarning(lcCommands).noquote()
                << "command" << id
                << "published, but recording it failed:" << ok.error().toString();
    }
}

void CommandDispatcher::onPublishFailed(quint64 token, const Error &error)
{
    const auto it = m_tokens.constFind(token);
    if (it == m_tokens.constEnd())
        return;
    const auto [id, node] = *it;
    m_tokens.erase(it);
    QString reason;
    switch (error.code) {
    case ErrorCode::Unroutable:
        reason = u"node not enrolled: no queue %1 is bound to %2 for '%3'"_s.arg(
            protocol::agentQueue(node), protocol::kCommandsExchange, node);
        break;
    case ErrorCode::Rejected:
        reason
            = u"the broker refused the command (the command queue of node '%1' is full?): %2"_s.arg(
                node, error.message);
        break;
    default:
        // Cancelled (shutdown) or a connection problem: it may still have reached the queue.
        // The agent's command.update or the expiry sweep settles it.
        qCWarning(lcCommands).noquote()
            << "command" << id << "to" << node << "has no broker confirm:" << error.toString();
        return;
    }
    qCWarning(lcCommands).noquote() << "command" << id << "failed:" << reason;
    if (auto ok = setState(id, u"failed"_s, u"finished_at"_s, reason, 2); !ok)
        qCWarning(lcCommands).noquote()
            << "recording the failure of command" << id << "failed:" << ok.error().toString();
}

Expected<int> CommandDispatcher::expireOverdue(const QDateTime &now)
{
    const qint64 t = now.toMSecsSinceEpoch();
    auto ids
        = m_db->exec(u"SELECT id FROM commands WHERE state_rank < 2 AND expires_at < ?"_s, { t });
    if (!ids)
        return ids.error();
    QStringList expired;
    while (ids->next())
        expired.append(ids->value(0).toString());
    ids->finish();
    int changed = 0;
    for (const QString &id : std::as_const(expired)) {
        auto ok = setState(id, u"expired"_s, u"finished_at"_s,
            u"expired before the agent took it (node offline or not consuming)"_s, 2);
        if (!ok)
            return ok.error();
        if (*ok) {
            ++changed;
            qCInfo(lcCommands).noquote() << "command" << id << "expired";
        }
    }
    return changed;
}

Expected<bool> CommandDispatcher::markDeadLettered(
    const QString &commandId, const QString &node, const QString &reason)
{
    auto exists = m_db->exec(u"SELECT node FROM commands WHERE id = ?"_s, { commandId });
    if (!exists)
        return exists.error();
    if (!exists->next())
        return false;
    if (exists->value(0).toString() != node) {
        qCWarning(lcCommands).noquote()
            << "dead-lettered command" << commandId << "came from the queue of" << node
            << "but targets" << exists->value(0).toString();
        return false;
    }
    exists->finish();
    if (reason == u"expired")
        return setState(commandId, u"expired"_s, u"finished_at"_s,
            u"expired in the queue of node '%1' before the agent took it"_s.arg(node), 2);
    return setState(commandId, u"failed"_s, u"finished_at"_s,
        u"dead-lettered by the broker from the queue of node '%1' (reason: %2)"_s.arg(node, reason),
        2);
}

} // namespace sparky::orchestrator
