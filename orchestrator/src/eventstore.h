#pragma once

// Writes batches of agent events into the store, idempotently.
//
// applyBatch() runs ONE transaction: it inserts every event's message id into message_ids
// with INSERT … ON CONFLICT DO NOTHING RETURNING id, applies only the events whose id was new,
// records refused messages, and commits. A replayed or redelivered event therefore changes
// nothing, and two replicas on one PostgreSQL that race on the same id serialise on the
// unique index: the loser sees the conflict after the winner commits and skips it.
//
// Every write is also idempotent and independent of arrival order on its own: runs are keyed
// by (node, run_id); run.finished is final whatever came before; run.started and run.progress
// never overwrite a finished run; progress only moves forward in time; command states only
// move forward (pending < published < received < running < final).
//
// Threading: lives on the thread of its Database.

#include "database.h"
#include "sparky/envelope.h"
#include "sparky/protocol.h"

#include <QDateTime>
#include <QList>
#include <QSet>
#include <QString>
#include <variant>

namespace sparky::orchestrator {

// The largest command result (command.update `result`, compact JSON) the store keeps: an RPC
// reply carries it whole and must stay under the 1 MiB message limit. A larger one is
// dropped and its command marked failed with the reason.
inline constexpr qsizetype kMaxCommandResultBytes = 900 * 1024;

struct ConfigRejectedBody
{
    QString error;
};

struct IncomingEvent
{
    Envelope envelope; // node == the broker-validated user_id (checked by the caller)
    std::variant<protocol::AgentHello, protocol::AgentHeartbeat, protocol::RunStarted,
        protocol::RunProgress, protocol::RunFinished, protocol::CommandUpdate, ConfigRejectedBody>
        body;
    bool configApplied = false; // config.applied carries an AgentHello body
};

// Parses the body by the envelope's type (protocol::validateEventBody rules); the error names
// the field that is wrong.
Expected<IncomingEvent> decodeEvent(Envelope envelope);

struct RejectedEvent
{
    QString messageId; // AMQP message_id (may be empty)
    QString userId; // AMQP user_id as validated by the broker
    QString routingKey;
    QString type;
    QString reason;
    QByteArray excerpt; // first bytes of the body, for the operator
    QDateTime at;
};

struct BatchOutcome
{
    int stored = 0; // events applied
    int duplicates = 0; // message ids already stored
    QSet<QString> nodes; // nodes whose data changed
    bool runsFinished = false; // a run.finished was stored (reports change)
    bool commandsChanged = false;
};

class EventStore final
{
public:
    explicit EventStore(Database &database);

    Expected<BatchOutcome> applyBatch(const QList<IncomingEvent> &events,
        const QList<RejectedEvent> &rejected,
        const QDateTime &now = QDateTime::currentDateTimeUtc());

private:
    Expected<QSet<QString>> claimIds(const QList<const IncomingEvent *> &events, qint64 nowMs);
    Result apply(const IncomingEvent &e, qint64 nowMs, BatchOutcome &outcome);
    Result applyHello(const QString &node, const protocol::AgentHello &h, qint64 ts, qint64 nowMs,
        bool configApplied);
    Result applyHeartbeat(const QString &node, const protocol::AgentHeartbeat &h, qint64 ts);
    Result applyRuns(const QList<const IncomingEvent *> &started,
        const QList<const IncomingEvent *> &progress, const QList<const IncomingEvent *> &finished,
        const QHash<QString, const IncomingEvent *> &progressOfFinished, qint64 nowMs);
    Result applyCommandUpdate(
        const QString &node, const protocol::CommandUpdate &u, qint64 ts, qint64 nowMs);
    Result touchJob(
        const QString &node, const QString &job, const QString &repository, qint64 nowMs);
    Result touchNode(const QString &node, qint64 seenMs, qint64 nowMs);
    Result recordRejected(const RejectedEvent &r);

    Database &m_db;
    QSet<QString> m_touchedJobs; // (node, job) rows ensured in the current batch
};

} // namespace sparky::orchestrator
