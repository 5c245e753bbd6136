#pragma once

// Consumes sparky.orchestrator.dead, where the broker puts what expired or was rejected —
// events the ingestor refused, events over the delivery limit, commands that expired in an
// offline node's queue, RPC requests nobody answered — so that nothing vanishes silently.
// Each one is recorded in dead_letters (reason, queue, ids, a short excerpt) and acked after
// the insert; a dead-lettered command also settles its row (CommandDispatcher).
//
// Threading: lives on the thread of its Database and of the AmqpClient's owner.

#include "database.h"
#include "sparky/amqpclient.h"

#include <QObject>

namespace sparky::orchestrator {

class CommandDispatcher;

struct DeadLetterInfo
{
    QString reason; // expired, rejected, maxlen, delivery_limit
    QString queue; // the queue it died in
    QString exchange;
    QString routingKey;
};

// Reads x-first-death-* (RabbitMQ ≥ 3.8), falling back to the newest x-death entry.
DeadLetterInfo deadLetterInfo(const MessageProperties &properties);

class DeadLetterConsumer final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DeadLetterConsumer)

public:
    // `commands` may be null (then dead-lettered commands are only recorded).
    DeadLetterConsumer(AmqpClient *client, Database *database, CommandDispatcher *commands,
        QObject *parent = nullptr);

    void start();
    void stop() { m_stopped = true; }
    quint64 recorded() const { return m_recorded; }

Q_SIGNALS:
    void deadLetterRecorded(const QString &queue, const QString &reason, const QString &messageId);

private:
    void onDelivered(const Delivery &delivery);

    AmqpClient *m_client = nullptr;
    Database *m_db = nullptr;
    CommandDispatcher *m_commands = nullptr;
    quint64 m_recorded = 0;
    bool m_stopped = false;
};

} // namespace sparky::orchestrator
