#pragma once

// What an RPC method asks of an agent: the command to issue (type and body, as the agent's
// command handler accepts them — docs/protocol.md "Commands") and how the RPC answers.
//
//   RPC method       command            answers
//   backup.start     backup.run         at once: the command id (follow with command.get)
//   backup.cancel    backup.cancel      at once
//   restore.start    restore.extract    at once
//   drill.start      drill.run          at once
//   archives.list    archives.list      with the agent's result (waits, timeout_ms)
//   archive.browse   archive.browse     with the agent's result (waits, timeout_ms)
//   node.ping        agent.ping         with the agent's result (waits, timeout_ms)
//
// fromRpc() reads the params strictly (unknown keys, types, ranges; errors name the field as
// "params.<field>") and builds the body with the agent's field names. It checks shapes and
// sizes only; the agent checks the rest against its own config (the job exists, the archive
// is the job's, the restore target is under its roots) and refuses with a reason.
//
// Plain value type.

#include "sparky/error.h"

#include <QJsonObject>
#include <QString>
#include <chrono>

namespace sparky::orchestrator {

struct AgentRequestLimits
{
    std::chrono::milliseconds defaultTimeout { 30000 }; // waiting methods without timeout_ms
    std::chrono::milliseconds maxTimeout { 120000 };
    qsizetype maxBodyBytes = 512 * 1024; // the command body as JSON (envelopes are ≤ 1 MiB)
};

struct AgentRequest
{
    QString method; // the RPC method
    QString node;
    QString commandType; // protocol::type::…
    QJsonObject body;
    bool waits = false; // the RPC answers with the agent's result
    std::chrono::milliseconds timeout { 0 }; // waits: how long the RPC waits for the agent
    std::chrono::seconds lifetime { 0 }; // at-once methods: lifetime_seconds (0 = default)

    // Whether `method` is one of the methods above.
    static bool isAgentMethod(QStringView method);
    static bool waitsForAgent(QStringView method);
    static Expected<AgentRequest> fromRpc(
        const QString &method, const QJsonObject &params, const AgentRequestLimits &limits = {});
};

} // namespace sparky::orchestrator
