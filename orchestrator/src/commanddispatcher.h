#pragma once

// Creates, signs, publishes and tracks commands to agents (docs/orchestrator.md "Commands").
//
// issue(): the command row is stored first (state 'pending'), then the envelope is signed
// with the orchestrator's ed25519 key (target node, issue time, expiry inside the signed
// bytes) and published `mandatory` to sparky.commands with routing key = node and an AMQP
// expiration equal to its remaining lifetime. The broker's confirm moves it to 'published';
// an unroutable return fails it with "node not enrolled"; a full node queue (reject-publish)
// fails it too. The agent's command.update events (EventStore) move it on to received,
// running and a final state. expireOverdue() (a singleton duty) marks commands that passed
// their expiry before the agent took them as 'expired'; dead-lettered commands (expired in
// the node's queue) are marked by markDeadLettered().
//
// Threading: lives on the thread of its Database and of the AmqpClient's owner; neither is
// owned.

#include "database.h"
#include "sparky/amqpclient.h"
#include "sparky/signing.h"

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QString>
#include <chrono>
#include <optional>

namespace sparky::orchestrator {

struct CommandSettings
{
    QString keyFile; // ed25519 private key, PEM, mode 0600
    std::chrono::seconds defaultLifetime { 3600 };
    std::chrono::seconds maxLifetime { 7 * 24 * 3600 };
};

struct CommandRequest
{
    QString node;
    QString type; // protocol::type::BackupRun, …
    QJsonObject params; // the envelope body
    std::chrono::seconds lifetime { 0 }; // 0 = the default
    QString issuedBy; // broker user of the RPC caller, or "cli"
    QString id; // optional: a fixed id (else a fresh one)
};

struct CommandRecord
{
    QString id;
    QString node;
    QString type;
    QString state;
    QDateTime issuedAt;
    QDateTime expiresAt;
};

// Ranks of command states: updates only move forward.
int commandStateRank(QStringView state);

class CommandDispatcher final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CommandDispatcher)

public:
    CommandDispatcher(AmqpClient *client, Database *database, SigningKey key,
        CommandSettings settings, QObject *parent = nullptr);
    ~CommandDispatcher() override;

    Expected<CommandRecord> issue(const CommandRequest &request);

    // Marks commands past their expiry that no agent took (pending/published) as expired.
    Expected<int> expireOverdue(const QDateTime &now = QDateTime::currentDateTimeUtc());

    // A command the broker dead-lettered from a node's queue: reason "expired" → expired,
    // "rejected"/"maxlen"/other → failed. Returns whether a row changed.
    Expected<bool> markDeadLettered(
        const QString &commandId, const QString &node, const QString &reason);

    int inFlight() const { return int(m_tokens.size()); }

Q_SIGNALS:
    void commandChanged(const QString &id, const QString &state);

private:
    void onConfirmed(const QList<quint64> &tokens);
    void onPublishFailed(quint64 token, const Error &error);
    Expected<bool> setState(const QString &id, const QString &state, const QString &timeColumn,
        const QString &error, int belowRank);

    AmqpClient *m_client = nullptr;
    Database *m_db = nullptr;
    SigningKey m_key;
    CommandSettings m_settings;
    QHash<quint64, std::pair<QString, QString>> m_tokens; // publish token → (command id, node)
};

} // namespace sparky::orchestrator
