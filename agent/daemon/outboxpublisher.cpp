#include "outboxpublisher.h"

#include "logcategories.h"

#include "sparky/protocol.h"

#include <algorithm>

namespace sparky::agent {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

OutboxPublisher::OutboxPublisher(Outbox *outbox, QString userId, QObject *parent)
    : OutboxPublisher(outbox, std::move(userId), Options{}, parent)
{
}

OutboxPublisher::OutboxPublisher(Outbox *outbox, QString userId, Options options, QObject *parent)
    : QObject(parent)
    , m_outbox(outbox)
    , m_userId(std::move(userId))
    , m_options(options)
    , m_backoff(options.minBackoff)
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, [this] {
        if (m_retryFrom) {
            m_lastQueuedSeq = *m_retryFrom - 1;
            m_retryFrom.reset();
        }
        pump();
    });
    connect(m_outbox, &Outbox::added, this, &OutboxPublisher::pump);
}

OutboxPublisher::~OutboxPublisher()
{
    setClient(nullptr);
}

void OutboxPublisher::resetProgress()
{
    // Whatever was in flight is still in the outbox: start again from the oldest of it.
    qint64 oldest = m_lastQueuedSeq + 1;
    for (const InFlight &f : std::as_const(m_inflight))
        oldest = std::min(oldest, f.seq);
    if (m_retryFrom)
        oldest = std::min(oldest, *m_retryFrom);
    m_lastQueuedSeq = oldest - 1;
    m_inflight.clear();
    m_retryFrom.reset();
    m_retryTimer.stop();
    m_probing = false;
}

void OutboxPublisher::setClient(AmqpClient *client)
{
    for (const QMetaObject::Connection &c : std::as_const(m_connections))
        disconnect(c);
    m_connections.clear();
    resetProgress();
    m_client = client;
    if (!client)
        return;
    m_connections << connect(client, &AmqpClient::confirmed, this, &OutboxPublisher::onConfirmed)
                  << connect(client, &AmqpClient::publishFailed, this, &OutboxPublisher::onFailed);
    pump();
}

void OutboxPublisher::pump()
{
    if (!m_client || m_retryFrom || m_retryTimer.isActive() || m_pumping)
        return;
    m_pumping = true; // publish() never re-enters, but failures below may ask to pump again
    // After a refusal, one event at a time until the oldest one is taken again.
    const int window = m_probing ? 1 : m_options.window;
    while (m_inflight.size() < window) {
        auto batch = m_outbox->next(m_lastQueuedSeq, int(window - m_inflight.size()));
        if (!batch) {
            qCCritical(lcOutbox).noquote() << "cannot read the outbox:" << batch.error().toString();
            break;
        }
        if (batch->isEmpty())
            break;
        for (const OutboxEntry &e : std::as_const(*batch)) {
            m_lastQueuedSeq = e.seq;
            auto envelope = parseEnvelope(e.body);
            if (!envelope) {
                // Cannot happen with rows we wrote; never let one bad row block the rest.
                qCCritical(lcOutbox).noquote()
                    << u"outbox entry %1 (%2) is not a valid envelope and is discarded: %3"_s.arg(e.seq).arg(e.id, envelope.error().toString());
                (void)m_outbox->remove({e.seq});
                continue;
            }
            OutgoingMessage m;
            m.exchange = QString(proto::kEventsExchange);
            m.routingKey = e.routingKey;
            m.body = e.body;
            m.properties = propertiesFor(*envelope, m_userId);
            m.mandatory = true;
            const quint64 token = m_client->publish(std::move(m));
            m_inflight.insert(token, InFlight{e.seq, e.id, e.type});
        }
    }
    m_pumping = false;
    if (m_inflight.isEmpty() && m_outbox->size() == 0)
        Q_EMIT drained();
}

void OutboxPublisher::onConfirmed(const QList<quint64> &tokens)
{
    QList<qint64> seqs;
    QList<InFlight> done;
    for (quint64 t : tokens) {
        auto it = m_inflight.find(t);
        if (it == m_inflight.end())
            continue;
        seqs << it->seq;
        done << *it;
        m_inflight.erase(it);
    }
    if (seqs.isEmpty())
        return;
    if (auto ok = m_outbox->remove(seqs); !ok)
        // The events stay and are sent again later: a duplicate, never a loss.
        qCCritical(lcOutbox).noquote() << "cannot delete confirmed events:" << ok.error().toString();
    m_confirmedTotal += seqs.size();
    for (const InFlight &f : std::as_const(done))
        Q_EMIT published(f.id, f.type);
    if (m_retryFrom) {
        scheduleRetry();
        return;
    }
    m_probing = false;
    m_backoff = m_options.minBackoff;
    pump();
}

void OutboxPublisher::onFailed(quint64 token, const Error &error)
{
    auto it = m_inflight.find(token);
    if (it == m_inflight.end())
        return;
    const InFlight f = *it;
    m_inflight.erase(it);
    m_retryFrom = std::min(m_retryFrom.value_or(f.seq), f.seq);
    m_probing = true;
    if (error.code == ErrorCode::Cancelled) {
        qCInfo(lcOutbox).noquote() << u"event %1 (%2) stays in the outbox: %3"_s.arg(f.id, f.type, error.message);
    } else {
        qCWarning(lcOutbox).noquote()
            << u"the broker did not take event %1 (%2): %3"_s.arg(f.id, f.type, error.toString())
            << "— it stays in the outbox and is retried in" << m_backoff.count() << "ms, before any newer event";
        Q_EMIT retrying(f.id, f.type, error, m_backoff.count());
    }
    scheduleRetry();
}

void OutboxPublisher::scheduleRetry()
{
    if (!m_retryFrom || !m_inflight.isEmpty() || m_retryTimer.isActive())
        return;
    m_retryTimer.start(m_backoff);
    m_backoff = std::min(m_backoff * 2, m_options.maxBackoff);
}

} // namespace sparky::agent
