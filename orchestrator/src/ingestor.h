#pragma once

// Consumes sparky.orchestrator.events and stores the events in batches (docs/orchestrator.md
// "Ingestion").
//
//  - A batch closes at `batchSize` deliveries or `batchWait` after its first one; it is
//    written in ONE transaction (EventStore::applyBatch) and only then acknowledged, with one
//    multiple ack per channel. The transaction runs on a writer thread with its own store
//    connection (IngestWriter), so the next batch is received and decoded meanwhile;
//    batches are written and acknowledged strictly in order, one at a time. A crash before the
//    commit loses nothing (the broker redelivers); a crash after it duplicates nothing (message ids
//    are stored in the same transaction).
//  - A delivery that does not parse, fails validation, or whose envelope `node` differs from
//    the broker-validated AMQP user_id is rejected without requeue — the broker dead-letters
//    it to sparky.orchestrator.dead — after its reason is logged, counted and recorded in
//    rejected_messages. Ingestion goes on.
//  - If the store is unreachable, the batch is kept (not acked, not requeued) and retried
//    with exponential backoff. If the store is up but the batch fails, the events are
//    retried one per transaction; one that still fails is nacked with requeue and ingestion
//    backs off, so a poison event cannot spin: the quorum queue's delivery-limit finally
//    dead-letters it.
//  - stop(): commits and acks what it holds, then ignores further deliveries (they return to
//    the queue when the connection closes).
//
// Threading: lives on the thread of the AmqpClient's owner (the daemon's main thread); the
// client is not owned. Owns the writer thread and its store connection.

#include "eventstore.h"
#include "sparky/amqpclient.h"
#include "storesettings.h"

#include <QDateTime>
#include <QHash>
#include <QList>
#include <QObject>
#include <QThread>
#include <QTimer>
#include <chrono>
#include <optional>

namespace sparky::orchestrator {

struct IngestSettings
{
    QString queue = QStringLiteral("sparky.orchestrator.events");
    int batchSize = 500;
    std::chrono::milliseconds batchWait { 50 };
    quint16 prefetch = 1000;
    std::chrono::milliseconds retryMin { 200 };
    std::chrono::milliseconds retryMax { 10000 };
};

struct IngestStats
{
    quint64 received = 0;
    quint64 stored = 0;
    quint64 duplicates = 0;
    quint64 rejected = 0;
    QHash<QString, quint64> rejectedByReason; // parse, validation, too_large, spoofed_node
    quint64 batches = 0;
    quint64 storeErrors = 0;
    quint64 requeued = 0;
    double lagSeconds = 0; // now - ts of the newest stored event, at its commit
    double decodeSeconds = 0; // time spent parsing and checking deliveries
    double storeSeconds = 0; // time spent in store transactions (commit included)
    QDateTime lastCommit;
};

// One delivery as the ingestor sees it: the event, or why it is refused (parse, envelope,
// identity: the envelope's node must be the broker-validated AMQP user_id, body).
struct DecodedDelivery
{
    std::optional<IncomingEvent> event;
    std::optional<RejectedEvent> rejected;
    QString category; // for the counters: parse, validation, too_large, spoofed_node
};
DecodedDelivery decodeDelivery(const Delivery &delivery);

class IngestWriter;
struct WriteResult;

class Ingestor final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Ingestor)

public:
    // `store`: the writer opens its own connection `connectionName` to it.
    Ingestor(AmqpClient *client, StoreSettings store, IngestSettings settings,
        QObject *parent = nullptr, QString connectionName = QStringLiteral("sparky-ingest"));
    ~Ingestor() override; // stops the writer thread

    void start(); // subscribes (the client may already be started)
    // Writes what is held (commit, ack; waits up to `timeout` for the writer) and stops taking
    // deliveries.
    void stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));

    const IngestStats &stats() const { return m_stats; }
    // Deliveries received and not yet acknowledged or rejected.
    int pending() const;

Q_SIGNALS:
    void batchCommitted(const sparky::orchestrator::BatchOutcome &outcome);
    void eventRejected(const QString &category, const QString &reason);
    void storeFailed(const sparky::Error &error);

private:
    struct Batch
    {
        QList<Delivery> good; // good[i] carried events[i]
        QList<Delivery> bad; // bad[i] was refused for rejected[i]
        QList<IncomingEvent> events;
        QList<RejectedEvent> rejected;
        QStringList categories; // per rejected
    };

    void onDelivered(const Delivery &delivery);
    void flush(); // closes the pending deliveries into a decoded batch
    void pump(); // hands the oldest batch to the writer when it is idle
    void onWritten(const WriteResult &result);
    void settle(const Batch &batch);
    void reportRejected(const Batch &batch);
    void scheduleRetry();

    AmqpClient *m_client = nullptr;
    IngestSettings m_settings;
    IngestStats m_stats;
    QList<Delivery> m_pending;
    QList<Batch> m_batches; // decoded, waiting for (or at) the writer; head first
    QThread m_thread;
    IngestWriter *m_writer = nullptr; // lives on m_thread
    QTimer m_batchTimer;
    QTimer m_retryTimer;
    std::chrono::milliseconds m_backoff { 0 };
    bool m_started = false;
    bool m_stopped = false;
    bool m_writing = false;
};

} // namespace sparky::orchestrator

Q_DECLARE_METATYPE(sparky::orchestrator::BatchOutcome)
