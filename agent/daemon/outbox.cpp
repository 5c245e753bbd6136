#include "outbox.h"

#include "logcategories.h"
#include "statestore.h"

#include "sparky/protocol.h"

#include <QSqlQuery>

namespace sparky::agent {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

Outbox::Outbox(StateStore *store, qint64 maxMessages, QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_max(std::max<qint64>(1, maxMessages))
{
}

Result Outbox::open()
{
    QSqlQuery q(m_store->database());
    q.prepare(u"SELECT COUNT(*) FROM outbox"_s);
    if (auto ok = StateStore::exec(q, u"counting the outbox"_s); !ok)
        return ok;
    m_size = q.next() ? q.value(0).toLongLong() : 0;
    if (m_size > 0)
        qCInfo(lcOutbox) << m_size << "events left in the outbox by the previous run will be sent first";
    Q_EMIT sizeChanged(m_size);
    return {};
}

void Outbox::setMaxMessages(qint64 maxMessages)
{
    m_max = std::max<qint64>(1, maxMessages);
}

bool Outbox::isDroppable(const QString &type)
{
    return type == proto::type::RunProgress || type == proto::type::AgentHeartbeat;
}

Result Outbox::makeRoom(qint64 needed, QHash<QString, qint64> &droppedByType)
{
    // Oldest progress first, then oldest heartbeats; never anything else.
    for (QLatin1StringView type : {proto::type::RunProgress, proto::type::AgentHeartbeat}) {
        if (needed <= 0)
            break;
        QSqlQuery q(m_store->database());
        q.prepare(u"DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE type = ? "
                  "ORDER BY seq LIMIT ?)"_s);
        q.addBindValue(QString(type));
        q.addBindValue(needed);
        if (auto ok = StateStore::exec(q, u"dropping old %1 events from the full outbox"_s.arg(type)); !ok)
            return ok;
        const qint64 n = q.numRowsAffected();
        if (n > 0) {
            droppedByType[QString(type)] += n;
            m_size -= n;
            needed -= n;
        }
    }
    return {};
}

Expected<Outbox::Added> Outbox::add(const Envelope &event)
{
    const QByteArray body = serializeEnvelope(event);
    const QString runId = event.body.value(u"run_id"_s).toString();
    Added outcome = Added::Stored;
    QHash<QString, qint64> droppedByType;
    bool keptAboveBound = false;
    const qint64 sizeBefore = m_size;

    Result r = m_store->transaction([&]() -> Result {
        // Coalesce: only the newest progress of a run (and the newest heartbeat) is useful.
        if (event.type == proto::type::RunProgress || event.type == proto::type::AgentHeartbeat) {
            QSqlQuery q(m_store->database());
            if (event.type == proto::type::RunProgress) {
                q.prepare(u"DELETE FROM outbox WHERE type = ? AND run_id = ?"_s);
                q.addBindValue(event.type);
                q.addBindValue(runId);
            } else {
                q.prepare(u"DELETE FROM outbox WHERE type = ?"_s);
                q.addBindValue(event.type);
            }
            if (auto ok = StateStore::exec(q, u"coalescing %1 events"_s.arg(event.type)); !ok)
                return ok;
            if (q.numRowsAffected() > 0) {
                m_size -= q.numRowsAffected();
                outcome = Added::Coalesced;
            }
        }
        if (m_size >= m_max) {
            if (auto ok = makeRoom(m_size - m_max + 1, droppedByType); !ok)
                return ok;
            if (m_size >= m_max) {
                if (isDroppable(event.type)) {
                    droppedByType[event.type] += 1;
                    outcome = Added::Dropped;
                    return {};
                }
                keptAboveBound = true;
            }
        }
        QSqlQuery q(m_store->database());
        q.prepare(u"INSERT INTO outbox(id, type, routing_key, run_id, created_at, body) "
                  "VALUES(?, ?, ?, ?, ?, ?)"_s);
        q.addBindValue(event.id);
        q.addBindValue(event.type);
        q.addBindValue(proto::eventRoutingKey(event.node, event.type));
        q.addBindValue(runId.isEmpty() ? QVariant() : QVariant(runId));
        q.addBindValue(formatTimestamp(event.ts));
        q.addBindValue(body);
        if (auto ok = StateStore::exec(q, u"writing %1 event %2 to the outbox"_s.arg(event.type, event.id)); !ok)
            return ok;
        m_size += 1;
        return {};
    });
    if (!r) {
        m_size = sizeBefore; // the transaction rolled back
        return r.error();
    }

    qint64 droppedNow = 0;
    for (auto it = droppedByType.cbegin(); it != droppedByType.cend(); ++it) {
        droppedNow += it.value();
        Q_EMIT dropped(it.key(), it.value());
    }
    m_droppedTotal += droppedNow;
    if (droppedNow > 0 || keptAboveBound)
        reportPressure(event.type, event.id, outcome == Added::Dropped, droppedByType);
    else if (m_fullEpisode && m_size < m_max * 9 / 10) {
        m_fullEpisode = false;
        qCInfo(lcOutbox) << "the outbox is below its bound again:" << m_size << "of" << m_max;
    }

    if (m_size != sizeBefore)
        Q_EMIT sizeChanged(m_size);
    if (outcome != Added::Dropped)
        Q_EMIT added();
    return outcome;
}

void Outbox::reportPressure(const QString &keptType, const QString &keptId, bool droppedNew,
                            const QHash<QString, qint64> &droppedByType)
{
    // A clear error at the start of every episode, then at most once a minute.
    const QDateTime now = QDateTime::currentDateTimeUtc();
    if (m_fullEpisode && m_lastPressureLog.isValid() && m_lastPressureLog.secsTo(now) < 60)
        return;
    m_fullEpisode = true;
    m_lastPressureLog = now;
    QStringList what;
    for (auto it = droppedByType.cbegin(); it != droppedByType.cend(); ++it)
        what << u"%1 %2"_s.arg(it.value()).arg(it.key());
    qCCritical(lcOutbox).noquote()
        << u"the outbox is full (%1 events, bound outbox_max_messages = %2): the broker has not "
           "confirmed events for a long time. %3%4 (dropped so far: %5; run.finished and other "
           "results are never dropped)"_s
               .arg(m_size)
               .arg(m_max)
               .arg(what.isEmpty() ? QString() : u"Dropped %1. "_s.arg(what.join(u", "_s)))
               .arg(droppedNew ? u"The new %1 was not stored."_s.arg(keptType)
                               : u"Kept %1 %2 above the bound."_s.arg(keptType, keptId))
               .arg(m_droppedTotal);
}

Expected<QList<OutboxEntry>> Outbox::next(qint64 afterSeq, int limit) const
{
    QSqlQuery q(m_store->database());
    q.setForwardOnly(true);
    q.prepare(u"SELECT seq, id, type, routing_key, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?"_s);
    q.addBindValue(afterSeq);
    q.addBindValue(limit);
    if (auto ok = StateStore::exec(q, u"reading the outbox"_s); !ok)
        return ok.error();
    QList<OutboxEntry> entries;
    while (q.next())
        entries.append(OutboxEntry{q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString(),
                                   q.value(3).toString(), q.value(4).toByteArray()});
    return entries;
}

Result Outbox::remove(const QList<qint64> &seqs)
{
    if (seqs.isEmpty())
        return {};
    const qint64 before = m_size;
    qint64 removed = 0;
    Result r = m_store->transaction([&]() -> Result {
        QSqlQuery q(m_store->database());
        q.prepare(u"DELETE FROM outbox WHERE seq = ?"_s);
        for (qint64 seq : seqs) {
            q.bindValue(0, seq);
            if (auto ok = StateStore::exec(q, u"deleting a confirmed event from the outbox"_s); !ok)
                return ok;
            removed += q.numRowsAffected();
        }
        return {};
    });
    if (!r)
        return r;
    m_size -= removed;
    if (m_fullEpisode && m_size < m_max * 9 / 10) {
        m_fullEpisode = false;
        qCInfo(lcOutbox) << "the outbox is below its bound again:" << m_size << "of" << m_max;
    }
    if (m_size != before)
        Q_EMIT sizeChanged(m_size);
    return {};
}

} // namespace sparky::agent
