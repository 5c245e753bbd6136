#pragma once

// Answers RPC requests from sparky.orchestrator.rpc (docs/protocol.md "RPC").
//
// A request is an envelope whose `type` is the method and whose `body` holds the params,
// published to sparky.rpc (routing key "rpc") with AMQP reply_to (direct reply-to) and
// correlation_id. The caller is identified ONLY by the broker-validated AMQP user_id; its
// role comes from the RoleMap. The reply is an `rpc.reply` envelope with body
// {"ok":true,"result":{…}} or {"ok":false,"error":{"code":…,"message":…}}, published to the
// default exchange with routing key = reply_to and the request's correlation_id.
//
// Every state-changing call and every call that issues a command to an agent (allowed or
// not) is written to audit_log under the request's message id; a redelivered request finds
// its row and gets the same answer again instead of acting twice.
//
// Methods that ask an agent something (AgentRequest): backup.start, backup.cancel,
// restore.start and drill.start answer at once with the command id; archives.list,
// archive.browse and node.ping answer with the agent's result: the command is issued and
// audited, the request is acked, and the reply follows once the command is final in the
// store (CommandWatcher — whichever replica ingested the agent's answer) or its timeout
// passed. A node known to be offline is refused at once. Other requests are answered
// synchronously and acked after their reply is handed to the client.
//
// Threading: lives on the thread of its Database and of the AmqpClient's owner.

#include "database.h"
#include "reportbuilder.h"
#include "rolemap.h"
#include "sparky/amqpclient.h"

#include <QJsonObject>
#include <QObject>
#include <chrono>
#include <functional>
#include <optional>

namespace sparky::orchestrator {

class CommandDispatcher;
class CommandWatcher;
struct AgentRequest;

struct RpcSettings
{
    QString queue = QStringLiteral("sparky.orchestrator.rpc");
    quint16 prefetch = 32;
    std::chrono::seconds offlineAfter { 300 };
    std::chrono::seconds reportWindow { 7 * 24 * 3600 };
    std::chrono::seconds commandLifetime { 0 }; // 0 = the dispatcher's default
    // archives.list and archive.browse show file names, which may be sensitive.
    Role browseRole = Role::Operator;
    std::chrono::milliseconds queryTimeout { 30000 }; // waiting methods without timeout_ms
    std::chrono::milliseconds maxQueryTimeout { 120000 };
    std::chrono::milliseconds pollInterval { 150 }; // CommandWatcher
};

// RPC error codes (error.code in a failed reply).
namespace rpcerror {
inline constexpr QLatin1StringView BadRequest { "bad_request" }; // not an envelope
inline constexpr QLatin1StringView Unauthenticated { "unauthenticated" }; // no user_id
inline constexpr QLatin1StringView Forbidden { "forbidden" }; // role too low
inline constexpr QLatin1StringView UnknownMethod { "unknown_method" };
inline constexpr QLatin1StringView InvalidParams { "invalid_params" };
inline constexpr QLatin1StringView NotFound { "not_found" };
inline constexpr QLatin1StringView Unavailable { "unavailable" }; // store or export down
inline constexpr QLatin1StringView Internal { "internal" };
// Methods that wait for an agent's answer (and the others for the offline check):
inline constexpr QLatin1StringView NodeOffline { "node_offline" }; // known offline, at once
inline constexpr QLatin1StringView AgentTimeout { "agent_timeout" }; // no final answer in time
inline constexpr QLatin1StringView AgentRejected { "agent_rejected" }; // the agent refused it
inline constexpr QLatin1StringView CommandFailed { "command_failed" }; // failed (agent or broker)
inline constexpr QLatin1StringView CommandExpired { "command_expired" }; // expired unanswered
} // namespace rpcerror

class RpcServer final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RpcServer)

public:
    // `commands` may be null (backup.start/cancel then answer "unavailable").
    RpcServer(AmqpClient *client, Database *database, CommandDispatcher *commands, RoleMap roles,
        RpcSettings settings, QObject *parent = nullptr);
    ~RpcServer() override;

    void start();
    // Stops taking requests; calls still waiting for an agent are answered "unavailable"
    // (their commands go on: the answer names them for command.get).
    void stop();
    void setRoles(RoleMap roles) { m_roles = std::move(roles); }

    // report.export with target "exioma" hands the report here (the daemon's exporter);
    // returns the export id. Unset: such calls answer "unavailable".
    using ExportHandler = std::function<Expected<QString>(const QJsonObject &report)>;
    void setExportHandler(ExportHandler handler) { m_export = std::move(handler); }

    // The whole dispatch without the broker (tests, the CLI). `done` gets the reply body —
    // at once, or later for the methods that wait for an agent (never inside this call for
    // those). `budget`: how long the caller waits at most (from the request's AMQP
    // expiration); a waiting method answers "agent_timeout" before it runs out.
    using ReplyFn = std::function<void(const QJsonObject &body)>;
    void handleAsync(const QString &user, const QString &requestId, const QString &method,
        const QJsonObject &params, ReplyFn done,
        std::optional<std::chrono::milliseconds> budget = std::nullopt);
    // The same for methods that answer at once; a waiting method returns an "internal" error
    // here (use handleAsync).
    QJsonObject handle(const QString &user, const QString &requestId, const QString &method,
        const QJsonObject &params);

    // This replica stored command updates (or changed a command): look at waiting calls now.
    void commandsChanged();
    int waitingCalls() const;

    quint64 handled() const { return m_handled; }

    struct Method; // the method table (rpcserver.cpp)

Q_SIGNALS:
    void requestHandled(const QString &method, const QString &user, bool ok);
    void stateChanged(); // a call changed state (commands issued, exports queued)

private:
    struct Call; // one request being answered (rpcserver.cpp)

    void onDelivered(const Delivery &delivery);
    void reply(const QString &replyTo, const QString &correlationId, const QJsonObject &body);
    QJsonObject dispatch(const Method &method, const QString &user, const QJsonObject &params);
    QJsonObject issueAtOnce(const AgentRequest &request, const QString &user);
    void startWaiting(const Call &call, const QJsonObject &params,
        std::optional<std::chrono::milliseconds> budget);
    void waitFor(const Call &call, const QString &commandId, std::chrono::milliseconds timeout);
    void finish(const Call &call, const QJsonObject &answer, bool writeAudit);
    ReportOptions reportOptions(const QJsonObject &params, Error *error) const;

    AmqpClient *m_client = nullptr;
    Database *m_db = nullptr;
    CommandDispatcher *m_commands = nullptr;
    CommandWatcher *m_watcher = nullptr; // child
    RoleMap m_roles;
    RpcSettings m_settings;
    ExportHandler m_export;
    quint64 m_handled = 0;
    bool m_stopped = false;
};

} // namespace sparky::orchestrator
