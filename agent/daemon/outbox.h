#pragma once

// The durable outbox: every event the agent emits is committed here first (SQLite in the
// StateStore, synchronous=FULL), published by the OutboxPublisher with confirms, and
// deleted only when the broker confirms it. Events keep their envelope id for ever, so a
// resend after a crash or an outage is a harmless duplicate the orchestrator drops.
//
// Size policy (docs/agent.md, "Outbox"):
//  - run.progress is coalesced: a new progress event of a run replaces the older ones of the
//    same run still waiting (only the newest progress is worth sending). agent.heartbeat is
//    coalesced the same way.
//  - The outbox holds at most maxMessages events. When it is full, the oldest progress
//    events go first, then the oldest heartbeats; a new progress/heartbeat that still does
//    not fit is dropped. Every other event (run.started, run.finished, command.update,
//    agent.hello, config.*) is NEVER dropped: it is kept even above the bound, with an error
//    in the log. Drops are counted (droppedTotal, metric sparky_agent_outbox_dropped_total).
//
// Threading: lives on the StateStore's thread; not thread-safe.

#include "sparky/envelope.h"
#include "sparky/error.h"

#include <QByteArray>
#include <QDateTime>
#include <QHash>
#include <QList>
#include <QObject>
#include <QString>

namespace sparky::agent {

class StateStore;

struct OutboxEntry
{
    qint64 seq = 0;      // insertion order; publish order
    QString id;          // envelope id
    QString type;
    QString routingKey;  // <node>.<type>
    QByteArray body;     // the serialised envelope, exactly as it will be published
};

class Outbox final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Outbox)

public:
    enum class Added { Stored, Coalesced, Dropped };
    Q_ENUM(Added)

    // `store` must outlive the outbox.
    Outbox(StateStore *store, qint64 maxMessages, QObject *parent = nullptr);

    // Counts what a previous run left behind. Call once before use.
    Result open();
    void setMaxMessages(qint64 maxMessages);
    qint64 maxMessages() const { return m_max; }

    // Commits the event (or decides to drop it, see the policy above) before returning.
    // The routing key is <event.node>.<event.type>.
    Expected<Added> add(const Envelope &event);

    // Up to `limit` entries with seq > afterSeq, oldest first.
    Expected<QList<OutboxEntry>> next(qint64 afterSeq, int limit) const;
    // Deletes confirmed entries (unknown seqs are ignored: a coalesced or dropped entry).
    Result remove(const QList<qint64> &seqs);

    qint64 size() const { return m_size; }
    bool isFull() const { return m_size >= m_max; }
    qint64 droppedTotal() const { return m_droppedTotal; }

Q_SIGNALS:
    void added();
    void sizeChanged(qint64 size);
    void dropped(const QString &type, qint64 count);

private:
    static bool isDroppable(const QString &type);
    Result makeRoom(qint64 needed, QHash<QString, qint64> &droppedByType);
    void reportPressure(const QString &keptType, const QString &keptId, bool droppedNew,
                        const QHash<QString, qint64> &droppedByType);

    StateStore *m_store;
    qint64 m_max = 100000;
    qint64 m_size = 0;
    qint64 m_droppedTotal = 0;
    bool m_fullEpisode = false;
    QDateTime m_lastPressureLog;
};

} // namespace sparky::agent
