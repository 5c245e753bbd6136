#include "deadletterconsumer.h"

#include "commanddispatcher.h"
#include "orchestratorlogging.h"
#include "sparky/protocol.h"

#include <QDateTime>
#include <QVariantList>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

DeadLetterInfo deadLetterInfo(const MessageProperties &p)
{
    DeadLetterInfo info;
    info.reason = p.headers.value(u"x-first-death-reason"_s).toString();
    info.queue = p.headers.value(u"x-first-death-queue"_s).toString();
    info.exchange = p.headers.value(u"x-first-death-exchange"_s).toString();
    const QVariantList deaths = p.headers.value(u"x-death"_s).toList();
    if (!deaths.isEmpty()) {
        const QVariantMap newest = deaths.first().toMap();
        if (info.reason.isEmpty())
            info.reason = newest.value(u"reason"_s).toString();
        if (info.queue.isEmpty())
            info.queue = newest.value(u"queue"_s).toString();
        if (info.exchange.isEmpty())
            info.exchange = newest.value(u"exchange"_s).toString();
        const QVariantList keys = newest.value(u"routing-keys"_s).toList();
        if (!keys.isEmpty())
            info.routingKey = keys.first().toString();
    }
    return info;
}

DeadLetterConsumer::DeadLetterConsumer(
    AmqpClient *client, Database *database, CommandDispatcher *commands, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_db(database)
    , m_commands(commands)
{
    connect(m_client, &AmqpClient::delivered, this, &DeadLetterConsumer::onDelivered);
}

void DeadLetterConsumer::start()
{
    m_stopped = false;
    m_client->consume(ConsumerOptions { QString(protocol::kDeadLetterQueue), 100, false });
}

void DeadLetterConsumer::onDelivered(const Delivery &d)
{
    if (m_stopped || d.queue != protocol::kDeadLetterQueue)
        return;
    const DeadLetterInfo info = deadLetterInfo(d.properties);
    const QString routingKey = info.routingKey.isEmpty() ? d.routingKey : info.routingKey;
    // Redelivered dead letters keep the same key: broker message id + queue + reason.
    const QString messageId = d.properties.messageId;
    const QString id = messageId.isEmpty()
        ? newMessageId()
        : QString(info.queue + u'/' + info.reason + u'/' + messageId).left(200);
    QString excerpt = QString::fromUtf8(d.body.left(512));
    for (QChar &c : excerpt) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f || c.isSurrogate()
            || c == QChar::ReplacementCharacter)
            c = u'?';
    }
    auto q = m_db->exec(
        u"INSERT INTO dead_letters (id, ts, queue, reason, exchange, routing_key, message_id,"
        " type, user_id, excerpt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING"_s,
        { id, QDateTime::currentMSecsSinceEpoch(), info.queue.left(256), info.reason.left(64),
            info.exchange.left(256), routingKey.left(256), messageId.left(128),
            d.properties.type.left(64), d.properties.userId.left(128), excerpt });
    if (!q) {
        qCWarning(lcDaemon).noquote()
            << "could not record a dead letter, returning it to the queue:" << q.error().toString();
        m_client->nack(d, true);
        return;
    }
    const QString agentPrefix = u"sparky.agent."_s;
    if (m_commands && info.queue.startsWith(agentPrefix) && !messageId.isEmpty()) {
        const QString node = info.queue.mid(agentPrefix.size());
        if (auto changed = m_commands->markDeadLettered(messageId, node, info.reason); !changed) {
            qCWarning(lcCommands).noquote() << "could not settle dead-lettered command" << messageId
                                            << ":" << changed.error().toString();
            m_client->nack(d, true);
            return;
        }
    }
    if (info.reason == u"delivery_limit")
        qCWarning(lcIngest).noquote()
            << "message" << messageId << "from" << d.properties.userId
            << "was dead-lettered after too many deliveries from" << info.queue;
    else
        qCInfo(lcDaemon).noquote() << "dead letter from" << info.queue << "reason" << info.reason
                                   << "message" << messageId << "type" << d.properties.type;
    ++m_recorded;
    m_client->ack(d);
    Q_EMIT deadLetterRecorded(info.queue, info.reason, messageId);
}

} // namespace sparky::orchestrator
