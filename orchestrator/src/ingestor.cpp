#include "ingestor.h"

#include "ingestwriter.h"
#include "orchestratorlogging.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QMap>
#include <QPointer>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

DecodedDelivery decodeDelivery(const Delivery &d)
{
    DecodedDelivery out;
    auto refuse = [&](const QString &category, const QString &reason, const QString &type = {}) {
        RejectedEvent r;
        r.messageId = d.properties.messageId;
        r.userId = d.properties.userId;
        r.routingKey = d.routingKey;
        r.type = type.isEmpty() ? d.properties.type : type;
        r.reason = reason;
        r.excerpt = d.body.left(512);
        r.at = QDateTime::currentDateTimeUtc();
        out.rejected = r;
        out.category = category;
        return out;
    };
    auto envelope = parseEnvelope(d.body);
    if (!envelope)
        return refuse(d.body.size() > kDefaultMaxMessageBytes ? u"too_large"_s
                : envelope.error().code == ErrorCode::Parse   ? u"parse"_s
                                                              : u"validation"_s,
            u"envelope: "_s + envelope.error().message);
    // Identity comes from the broker, never from the payload.
    if (d.properties.userId.isEmpty())
        return refuse(u"spoofed_node"_s, u"no AMQP user_id: the sender's identity is unknown"_s,
            envelope->type);
    if (envelope->node != d.properties.userId)
        return refuse(u"spoofed_node"_s,
            u"envelope node '%1' differs from the broker-validated user '%2'"_s.arg(
                envelope->node, d.properties.userId.left(64)),
            envelope->type);
    auto event = decodeEvent(*envelope);
    if (!event)
        return refuse(u"validation"_s, event.error().message, envelope->type);
    out.event = std::move(*event);
    return out;
}

namespace {

qint64 deliveryCount(const Delivery &d)
{
    return d.properties.headers.value(u"x-delivery-count"_s).toLongLong();
}

} // namespace

Ingestor::Ingestor(AmqpClient *client, StoreSettings store, IngestSettings settings,
    QObject *parent, QString connectionName)
    : QObject(parent)
    , m_client(client)
    , m_settings(std::move(settings))
{
    qRegisterMetaType<BatchOutcome>();
    m_writer = new IngestWriter(std::move(store), std::move(connectionName));
    m_writer->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_writer, &QObject::deleteLater);
    m_thread.setObjectName(u"sparky-ingest-writer"_s);
    m_thread.start();
    QMetaObject::invokeMethod(m_writer, [w = m_writer] {
        if (auto ok = w->open(); !ok)
            qCWarning(lcIngest).noquote()
                << "the ingest writer cannot open the store yet:" << ok.error().toString();
    });

    m_batchTimer.setSingleShot(true);
    m_batchTimer.setInterval(m_settings.batchWait);
    connect(&m_batchTimer, &QTimer::timeout, this, &Ingestor::flush);
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &Ingestor::pump);
    connect(m_client, &AmqpClient::delivered, this, &Ingestor::onDelivered);
}

Ingestor::~Ingestor()
{
    m_thread.quit();
    m_thread.wait();
}

int Ingestor::pending() const
{
    qsizetype n = m_pending.size();
    for (const Batch &b : m_batches)
        n += b.good.size() + b.bad.size();
    return int(n);
}

void Ingestor::start()
{
    if (m_started)
        return;
    m_started = true;
    m_stopped = false;
    m_client->consume(ConsumerOptions { m_settings.queue, m_settings.prefetch, false });
    qCInfo(lcIngest).noquote() << "ingesting from" << m_settings.queue << "batches of"
                               << m_settings.batchSize << "or" << m_settings.batchWait.count()
                               << "ms";
}

void Ingestor::stop(std::chrono::milliseconds timeout)
{
    if (m_stopped)
        return;
    m_batchTimer.stop();
    flush();
    m_stopped = true; // no new deliveries from here on
    if (!m_batches.isEmpty()) {
        // Let the writer finish what is in hand (commit, then ack).
        m_retryTimer.stop();
        m_backoff = {};
        pump();
        QEventLoop loop;
        QTimer deadline;
        deadline.setSingleShot(true);
        connect(&deadline, &QTimer::timeout, &loop, &QEventLoop::quit);
        connect(this, &Ingestor::batchCommitted, &loop, [&] {
            if (m_batches.isEmpty())
                loop.quit();
        });
        connect(this, &Ingestor::storeFailed, &loop, &QEventLoop::quit);
        deadline.start(timeout);
        if (!m_batches.isEmpty())
            loop.exec();
    }
    m_retryTimer.stop();
    qCInfo(lcIngest).noquote() << "ingestion stopped:" << m_stats.stored << "stored,"
                               << m_stats.duplicates << "duplicates," << m_stats.rejected
                               << "rejected," << pending() << "left unacknowledged;"
                               << m_stats.decodeSeconds << "s decoding," << m_stats.storeSeconds
                               << "s storing";
}

void Ingestor::onDelivered(const Delivery &delivery)
{
    if (m_stopped || delivery.queue != m_settings.queue)
        return;
    ++m_stats.received;
    m_pending.append(delivery);
    if (m_pending.size() >= m_settings.batchSize) {
        m_batchTimer.stop();
        flush();
    } else if (!m_batchTimer.isActive()) {
        m_batchTimer.start();
    }
}

void Ingestor::flush()
{
    if (m_pending.isEmpty())
        return;
    QElapsedTimer clock;
    clock.start();
    const QList<Delivery> deliveries = std::exchange(m_pending, {});
    Batch batch;
    batch.events.reserve(deliveries.size());
    for (const Delivery &d : deliveries) {
        DecodedDelivery x = decodeDelivery(d);
        if (x.event) {
            batch.events.append(std::move(*x.event));
            batch.good.append(d);
        } else {
            batch.rejected.append(*x.rejected);
            batch.bad.append(d);
            batch.categories.append(x.category);
        }
    }
    m_stats.decodeSeconds += clock.nsecsElapsed() / 1e9;
    m_batches.append(std::move(batch));
    pump();
}

void Ingestor::pump()
{
    if (m_writing || m_batches.isEmpty() || m_retryTimer.isActive())
        return;
    m_writing = true;
    const Batch &head = m_batches.constFirst();
    QPointer<Ingestor> self(this);
    QMetaObject::invokeMethod(
        m_writer, [w = m_writer, self, events = head.events, rejected = head.rejected] {
            QElapsedTimer clock;
            clock.start();
            WriteResult r = w->write(events, rejected);
            const double seconds = clock.nsecsElapsed() / 1e9;
            if (self)
                QMetaObject::invokeMethod(self.data(), [self, r, seconds] {
                    if (self) {
                        self->m_stats.storeSeconds += seconds;
                        self->onWritten(r);
                    }
                });
        });
}

void Ingestor::onWritten(const WriteResult &r)
{
    m_writing = false;
    if (m_batches.isEmpty())
        return;
    if (r.ok) {
        const Batch batch = m_batches.takeFirst();
        ++m_stats.batches;
        m_stats.stored += quint64(r.outcome.stored);
        m_stats.duplicates += quint64(r.outcome.duplicates);
        m_stats.lastCommit = QDateTime::currentDateTimeUtc();
        QDateTime newest;
        for (const IncomingEvent &e : batch.events)
            newest = std::max(newest, e.envelope.ts);
        if (newest.isValid())
            m_stats.lagSeconds = std::max<double>(0, newest.msecsTo(m_stats.lastCommit) / 1000.0);
        settle(batch);
        reportRejected(batch);
        m_backoff = {};
        Q_EMIT batchCommitted(r.outcome);
        pump();
        return;
    }

    ++m_stats.storeErrors;
    Q_EMIT storeFailed(r.error);
    if (r.storeUnavailable) {
        // The store is away: keep everything unacknowledged and try again later.
        qCWarning(lcIngest).noquote()
            << "store unavailable, holding" << pending() << "deliveries:" << r.error.toString();
        scheduleRetry();
        return;
    }

    // The batch failed but the store is up: the writer retried event by event.
    const Batch batch = m_batches.takeFirst();
    qCWarning(lcIngest).noquote() << "batch of" << batch.events.size()
                                  << "failed, stored one by one:" << r.error.toString();
    for (const Delivery &d : batch.bad)
        m_client->reject(d, false);
    reportRejected(batch);
    bool poisoned = false;
    for (qsizetype i = 0; i < batch.events.size(); ++i) {
        const Delivery &d = batch.good.at(i);
        if (i < r.eventStored.size() && r.eventStored.at(i)) {
            ++m_stats.batches;
            m_stats.stored += quint64(r.eventOutcomes.at(i).stored);
            m_stats.duplicates += quint64(r.eventOutcomes.at(i).duplicates);
            m_client->ack(d);
            Q_EMIT batchCommitted(r.eventOutcomes.at(i));
            continue;
        }
        ++m_stats.requeued;
        poisoned = true;
        qCWarning(lcIngest).noquote()
            << "returning event" << batch.events.at(i).envelope.id << "to the queue"
            << "(delivery" << deliveryCount(d) << "); the queue's delivery limit"
            << "dead-letters it if it keeps failing";
        m_client->nack(d, true);
    }
    if (poisoned)
        scheduleRetry();
    else
        pump();
}

void Ingestor::settle(const Batch &batch)
{
    // Rejections first: the multiple acks below must not cover them.
    for (const Delivery &d : batch.bad)
        m_client->reject(d, false);
    // One multiple ack per (connection generation, channel), at the highest tag. Batches are
    // settled in arrival order, so everything below that tag on the channel is this batch's
    // or settled already.
    QMap<std::pair<quint64, quint16>, const Delivery *> highest;
    for (const Delivery &d : batch.good) {
        const Delivery *&slot = highest[{ d.generation, d.channel }];
        if (!slot || slot->deliveryTag < d.deliveryTag)
            slot = &d;
    }
    for (const Delivery *d : std::as_const(highest))
        m_client->ack(*d, true);
}

void Ingestor::reportRejected(const Batch &batch)
{
    for (qsizetype i = 0; i < batch.rejected.size(); ++i) {
        const RejectedEvent &r = batch.rejected.at(i);
        qCWarning(lcIngest).noquote()
            << "rejected message" << r.messageId.left(64) << "from user" << r.userId.left(64)
            << "routing key" << r.routingKey.left(128) << "→ dead letters:" << r.reason;
        ++m_stats.rejected;
        ++m_stats.rejectedByReason[batch.categories.at(i)];
        Q_EMIT eventRejected(batch.categories.at(i), r.reason);
    }
}

void Ingestor::scheduleRetry()
{
    m_backoff = m_backoff.count() == 0 ? m_settings.retryMin
                                       : std::min(m_backoff * 2, m_settings.retryMax);
    m_retryTimer.start(m_backoff);
}

} // namespace sparky::orchestrator
