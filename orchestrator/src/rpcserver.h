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
// Every state-changing call (allowed or not) is written to audit_log under the request's
// message id; a redelivered request finds its row and gets the same answer again instead
// of acting twice. Requests are acked after their reply is handed to the client.
//
// Threading: lives on the thread of its Database and of the AmqpClient's owner.

#include "database.h"
#include "reportbuilder.h"
#include "rolemap.h"
#include "sparky/amqpclient.h"

#include <QJsonObject>
#include <QObject>
#include <functional>

namespace sparky::orchestrator {

class CommandDispatcher;

struct RpcSettings
{
    QString queue = QStringLiteral("sparky.orchestrator.rpc");
    quint16 prefetch = 32;
    std::chrono::seconds offlineAfter { 300 };
    std::chrono::seconds reportWindow { 7 * 24 * 3600 };
    std::chrono::seconds commandLifetime { 0 }; // 0 = the dispatcher's default
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
    void stop() { m_stopped = true; }
    void setRoles(RoleMap roles) { m_roles = std::move(roles); }

    // report.export with target "exioma" hands the report here (the daemon's exporter);
    // returns the export id. Unset: such calls answer "unavailable".
    using ExportHandler = std::function<Expected<QString>(const QJsonObject &report)>;
    void setExportHandler(ExportHandler handler) { m_export = std::move(handler); }

    // The whole dispatch without the broker (tests, the CLI): the reply body for a request.
    QJsonObject handle(const QString &user, const QString &requestId, const QString &method,
        const QJsonObject &params);

    quint64 handled() const { return m_handled; }

    struct Method; // the method table (rpcserver.cpp)

Q_SIGNALS:
    void requestHandled(const QString &method, const QString &user, bool ok);
    void stateChanged(); // a call changed state (commands issued, exports queued)

private:
    void onDelivered(const Delivery &delivery);
    void reply(const Delivery &request, const QJsonObject &body);
    QJsonObject dispatch(const Method &method, const QString &user, const QJsonObject &params);
    ReportOptions reportOptions(const QJsonObject &params, Error *error) const;

    AmqpClient *m_client = nullptr;
    Database *m_db = nullptr;
    CommandDispatcher *m_commands = nullptr;
    RoleMap m_roles;
    RpcSettings m_settings;
    ExportHandler m_export;
    quint64 m_handled = 0;
    bool m_stopped = false;
};

} // namespace sparky::orchestrator
