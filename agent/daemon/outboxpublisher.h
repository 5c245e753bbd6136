#pragma once

// Drains the Outbox to the broker: publishes events in insertion order to `sparky.events`
// (routing key <node>.<type>, user_id = node, persistent, mandatory so an event that no
// queue would take stays in the outbox) and deletes each one only when the broker confirms.
//
// Order: events are handed to the AmqpClient in outbox order, at most `window` unconfirmed
// at a time (the client resends unconfirmed ones after a reconnect). When the broker refuses
// one (nack, unroutable, access refused), nothing newer is published: the publisher waits
// for what is in flight, backs off (1 s doubling to 60 s) and starts again from the oldest
// event still in the outbox, ONE event at a time until the broker takes one again; so a
// refused event is retried before anything written after it. (Events already in flight
// when the refusal came back may land before it: pipelining cannot be undone. Receivers
// order by the envelope, not by arrival; duplicates are dropped by id.)
//
// Threading: lives on the owner thread of the Outbox and the AmqpClient.

#include "outbox.h"

#include "sparky/amqpclient.h"

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <chrono>
#include <optional>

namespace sparky::agent {

class OutboxPublisher final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OutboxPublisher)

public:
    struct Options
    {
        int window = 64;
        std::chrono::milliseconds minBackoff{1000};
        std::chrono::milliseconds maxBackoff{60000};
    };

    // `outbox` must outlive the publisher. `userId` is the node id (the broker checks it).
    OutboxPublisher(Outbox *outbox, QString userId, QObject *parent = nullptr);
    OutboxPublisher(Outbox *outbox, QString userId, Options options, QObject *parent = nullptr);
    ~OutboxPublisher() override;

    // The client to publish through (not owned); nullptr stops publishing. Events in flight
    // on the previous client stay in the outbox and go out again on the next one.
    void setClient(AmqpClient *client);

    qint64 inFlight() const { return m_inflight.size(); }
    qint64 confirmedTotal() const { return m_confirmedTotal; }
    // True when the outbox is empty and nothing is waiting for a confirm.
    bool isDrained() const { return m_inflight.isEmpty() && m_outbox->size() == 0; }

Q_SIGNALS:
    void drained();
    void published(const QString &eventId, const QString &type); // confirmed by the broker
    // The broker refused an event; it is tried again after `delayMs`, before anything newer.
    void retrying(const QString &eventId, const QString &type, const sparky::Error &error, qint64 delayMs);

private:
    void pump();
    void onConfirmed(const QList<quint64> &tokens);
    void onFailed(quint64 token, const sparky::Error &error);
    void scheduleRetry();
    void resetProgress();

    struct InFlight
    {
        qint64 seq = 0;
        QString id;
        QString type;
    };

    Outbox *m_outbox;
    QString m_userId;
    Options m_options;
    QPointer<AmqpClient> m_client;
    QList<QMetaObject::Connection> m_connections;
    QHash<quint64, InFlight> m_inflight; // token → entry
    qint64 m_lastQueuedSeq = 0;          // highest seq handed to the client
    std::optional<qint64> m_retryFrom;   // oldest seq the broker refused
    std::chrono::milliseconds m_backoff{0};
    QTimer m_retryTimer;
    qint64 m_confirmedTotal = 0;
    bool m_pumping = false;
    bool m_probing = false;              // after a refusal: one at a time until one is confirmed
};

} // namespace sparky::agent
