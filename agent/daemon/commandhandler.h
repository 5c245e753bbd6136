#pragma once

// Decides what to do with one delivery from the node's command queue, and keeps the local
// command log (table `commands`) that makes handling idempotent. The daemon acks or rejects
// the delivery AT ONCE with the verdict (never after a long borg run), sends the report the
// verdict carries, and executes an accepted command.
//
// The verdict table (docs/agent.md, "Commands"):
//
//   case                                          broker   report            recorded
//   not a valid envelope / unsigned / forged      reject   —                 no
//   signed, but for another node, issued in the
//   future, or with an impossible lifetime        reject   —                 no
//   id already handled (broker redelivery)        ack      —                 (already)
//   expired                                       ack      command.update    expired
//                                                          Expired
//   type not in commands.allowed / not known      ack      Rejected          rejected
//   body invalid for its type                     ack      Rejected          rejected
//   otherwise                                     ack      (the daemon:      received
//                                                          Running/…)
//
// "reject" means basic.reject without requeue: the queue's dead-letter exchange takes the
// message to the orchestrator's dead-letter queue, so a forged or misrouted command is seen
// centrally. Such a message is not trusted enough to report on (its id could be anyone's).
//
// Threading: used on the StateStore's thread.

#include "sparky/envelope.h"
#include "sparky/error.h"
#include "sparky/protocol.h"
#include "sparky/signing.h"

#include <QByteArrayView>
#include <QDateTime>
#include <QList>
#include <QString>
#include <QStringList>

#include <chrono>
#include <memory>
#include <optional>

namespace sparky::agent {

class StateStore;
struct AgentConfig;

struct CommandVerdict
{
    enum class Action { Execute, Drop, DeadLetter };
    Action action = Action::DeadLetter;
    QString reason;    // why it is not executed (logged); empty for Execute
    QString refusal;   // short word for the metric: malformed, unauthenticated, misrouted,
                       // duplicate, expired, not_allowed, invalid
    std::optional<Envelope> command;              // parsed (when it could be)
    std::optional<protocol::CommandUpdate> report; // to send (Expired/Rejected)
    bool acked() const { return action != Action::DeadLetter; }
};

class CommandHandler final
{
public:
    // Command types this agent version can execute (a subset of what config may allow).
    static QStringList implementedTypes();

    explicit CommandHandler(StateStore *store);

    // Takes node, pinned orchestrator key, allowed types and clock skew from the config.
    Result setConfig(const AgentConfig &config);

    // Parses, authenticates, deduplicates, checks expiry, type and body; records the
    // command (committed) when it is to be executed or reported.
    CommandVerdict inspect(QByteArrayView body, const QDateTime &now);

    // Command log updates as a command progresses.
    Result setState(const QString &commandId, protocol::CommandUpdate::State state,
                    const QString &runId = {}, const QString &error = {});
    // Commands recorded as received but never started (the agent stopped in between).
    Expected<QList<Envelope>> receivedButNotStarted();
    // Commands recorded as running: their run was interrupted by an agent stop.
    Expected<QList<std::pair<QString, QString>>> running(); // (command id, type)
    // Forgets commands that expired more than `keep` ago (they are refused as expired anyway).
    Result prune(const QDateTime &now, std::chrono::seconds keep = std::chrono::hours(24 * 7));

    // Strict body check for backup.run, backup.cancel and agent.ping; the error names the field.
    static Result validateBody(const Envelope &command);
    // validateBody(), or for the runner's commands (AgentCommands: archives, restore, drill,
    // keys) their check against the config: the job exists, the restore target lies under
    // the restore roots, this node is a repository host …
    Result validate(const Envelope &command) const;

private:
    Result record(const Envelope &command, const QString &state, const QString &error,
                  const QDateTime &now);
    std::optional<QString> knownState(const QString &id) const;

    StateStore *m_store;
    std::shared_ptr<const AgentConfig> m_config; // a copy, for validate()
    QString m_node;
    std::optional<VerifyKey> m_key;
    QString m_keyError;
    QStringList m_allowed;
    std::chrono::seconds m_maxSkew{300};
};

} // namespace sparky::agent
