#pragma once

// AMQP 0-9-1 client over rabbitmq-c with TLS, for every sparky process.
//
// Threading: an AmqpClient lives in the thread that created it (the owner thread) and emits
// all its signals there. The rabbitmq-c connection belongs to one private I/O thread that
// the client starts and joins; nothing else touches it. publish(), ack(), nack(), reject()
// and consume() are thread-safe and never block on the network.
//
// Semantics:
//  - TLS with peer and hostname verification unless the settings turn it off (logged).
//  - Publishes go out on a confirm-mode channel. Each publish() returns a token; exactly one
//    of confirmed() (the broker has taken responsibility) or publishFailed() (nacked,
//    returned as unroutable, refused by the broker, or the client was stopped) follows.
//    A publish still unconfirmed when the connection drops is sent again after reconnect,
//    so delivery is at least once: receivers deduplicate by message id.
//  - Consumers are subscriptions that survive reconnects; deliveries carry the connection
//    generation, and acks for an older generation are dropped (the broker already requeued
//    those messages).
//  - Errors are mapped in one place: a channel error fails the operation that caused it
//    (the channel is reopened), a connection error reconnects with exponential backoff and
//    jitter across the configured endpoints, a permanent error (bad credentials, TLS
//    verification, missing files, forbidden vhost) emits failed() and waits longer before
//    trying again.

#include "sparky/brokersettings.h"
#include "sparky/envelope.h"
#include "sparky/error.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QString>

#include <chrono>
#include <memory>

namespace sparky {

struct OutgoingMessage
{
    QString exchange;
    QString routingKey;
    QByteArray body;
    MessageProperties properties;
    bool mandatory = false; // unroutable → publishFailed(Unroutable)
};

struct Delivery
{
    quint64 generation = 0;  // which connection it came on
    quint16 channel = 0;
    quint64 deliveryTag = 0;
    bool noAck = false;      // direct reply-to deliveries need no ack
    bool redelivered = false;
    QString queue;
    QString exchange;
    QString routingKey;
    QByteArray body;
    MessageProperties properties;
};

struct ConsumerOptions
{
    QString queue;
    quint16 prefetch = 100;
    bool exclusive = false;
};

class AmqpClient final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AmqpClient)

public:
    enum class State { Stopped, Connecting, Connected };
    Q_ENUM(State)

    struct Options
    {
        int publishWindow = 2048;   // unconfirmed publishes in flight at most
        std::chrono::milliseconds permanentRetry{std::chrono::minutes(5)}; // 0 = give up
        std::chrono::milliseconds stopDrainTimeout{2000}; // wait for confirms on stop()
    };

    explicit AmqpClient(BrokerSettings settings, QObject *parent = nullptr);
    AmqpClient(BrokerSettings settings, Options options, QObject *parent = nullptr);
    ~AmqpClient() override; // stops and joins the I/O thread

    void start();
    // Drains what it can (pending acks, confirms up to stopDrainTimeout), closes the
    // connection and joins the I/O thread. Unconfirmed publishes are failed (Cancelled).
    void stop();

    quint64 publish(OutgoingMessage message);
    // Subscribes (now, and again after every reconnect) with manual acknowledgement.
    void consume(const ConsumerOptions &options);
    // Subscribes to amq.rabbitmq.reply-to on the publishing channel (RPC callers). Replies
    // arrive through delivered() with noAck set; publish requests with
    // properties.replyTo = "amq.rabbitmq.reply-to".
    void consumeDirectReplyTo();

    void ack(const Delivery &delivery, bool multiple = false);
    void nack(const Delivery &delivery, bool requeue, bool multiple = false);
    void reject(const Delivery &delivery, bool requeue);

    State state() const;
    bool isConnected() const { return state() == State::Connected; }
    QString user() const;
    quint64 generation() const;

Q_SIGNALS:
    void connected(const QString &endpoint);
    void disconnected(const sparky::Error &error);
    // A permanent error: credentials, TLS verification, configuration. Retried only after
    // Options::permanentRetry.
    void failed(const sparky::Error &error);
    void confirmed(const QList<quint64> &tokens);
    void publishFailed(quint64 token, const sparky::Error &error);
    void delivered(const sparky::Delivery &delivery);
    // A subscription could not be made or was cancelled by the broker (queue deleted,
    // access refused). It is retried with backoff.
    void consumerError(const QString &queue, const sparky::Error &error);
    // The broker blocked publishing (resource alarm: memory or disk); reason in the text.
    void blockedChanged(bool blocked, const QString &reason);

private:
    class Worker;
    friend class Worker;
    std::unique_ptr<Worker> m_worker;
};

} // namespace sparky

Q_DECLARE_METATYPE(sparky::Delivery)
