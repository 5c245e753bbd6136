#include "rpcserver.h"

#include "commanddispatcher.h"
#include "orchestratorlogging.h"
#include "reportformatter.h"
#include "sparky/jsonfields.h"
#include "sparky/protocol.h"
#include "storequeries.h"

#include <QJsonDocument>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;
namespace j = sparky::json;
namespace proto = sparky::protocol;

struct RpcServer::Method
{
    QLatin1StringView name;
    Role minRole;
    bool mutating;
};

namespace {

QJsonObject okReply(const QJsonObject &result)
{
    return QJsonObject { { u"ok"_s, true }, { u"result"_s, result } };
}

QJsonObject errorReply(QLatin1StringView code, const QString &message)
{
    return QJsonObject { { u"ok"_s, false },
        { u"error"_s, QJsonObject { { u"code"_s, QString(code) }, { u"message"_s, message } } } };
}

QJsonObject errorReply(const Error &e)
{
    switch (e.code) {
    case ErrorCode::InvalidArgument:
    case ErrorCode::Validation:
    case ErrorCode::Parse:
        return errorReply(rpcerror::InvalidParams, e.message);
    case ErrorCode::NotFound:
        return errorReply(rpcerror::NotFound, e.message);
    case ErrorCode::Unavailable:
    case ErrorCode::Network:
    case ErrorCode::Timeout:
        return errorReply(rpcerror::Unavailable, e.message);
    default:
        return errorReply(rpcerror::Internal, e.message);
    }
}

QString compact(const QJsonObject &o, qsizetype max = 4096)
{
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact)).left(max);
}

} // namespace

static const RpcServer::Method kMethods[] = {
    { "fleet.summary"_L1, Role::Viewer, false },
    { "runs.query"_L1, Role::Viewer, false },
    { "run.get"_L1, Role::Viewer, false },
    { "node.get"_L1, Role::Viewer, false },
    { "commands.query"_L1, Role::Viewer, false },
    { "backup.start"_L1, Role::Operator, true },
    { "backup.cancel"_L1, Role::Operator, true },
    { "report.get"_L1, Role::Viewer, false },
    { "report.export"_L1, Role::Viewer, false },
};

namespace {
const RpcServer::Method *findMethod(QStringView name)
{
    for (const RpcServer::Method &m : kMethods)
        if (m.name == name)
            return &m;
    return nullptr;
}
} // namespace

RpcServer::RpcServer(AmqpClient *client, Database *database, CommandDispatcher *commands,
    RoleMap roles, RpcSettings settings, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_db(database)
    , m_commands(commands)
    , m_roles(std::move(roles))
    , m_settings(std::move(settings))
{
    connect(m_client, &AmqpClient::delivered, this, &RpcServer::onDelivered);
}

RpcServer::~RpcServer() = default;

void RpcServer::start()
{
    m_stopped = false;
    m_client->consume(ConsumerOptions { m_settings.queue, m_settings.prefetch, false });
}

void RpcServer::onDelivered(const Delivery &d)
{
    if (m_stopped || d.queue != m_settings.queue)
        return;
    if (d.properties.replyTo.isEmpty()) {
        // Nobody to answer: dead-letter it so it is at least visible.
        qCWarning(lcRpc).noquote() << "RPC request" << d.properties.messageId << "from"
                                   << d.properties.userId << "has no reply_to; rejected";
        m_client->reject(d, false);
        return;
    }
    auto request = parseEnvelope(d.body);
    QJsonObject body;
    if (!request)
        body = errorReply(
            rpcerror::BadRequest, u"not a sparky envelope: "_s + request.error().message);
    else
        body = handle(d.properties.userId, request->id, request->type, request->body);
    reply(d, body);
    m_client->ack(d);
}

void RpcServer::reply(const Delivery &request, const QJsonObject &body)
{
    Envelope e
        = Envelope::make(QString(proto::type::RpcReply), QString(proto::kOrchestratorNode), body);
    OutgoingMessage m;
    m.exchange = QString();
    m.routingKey = request.properties.replyTo;
    m.body = serializeEnvelope(e);
    m.properties = propertiesFor(e, m_client->user());
    m.properties.correlationId = request.properties.correlationId;
    m.properties.persistent = false;
    (void)m_client->publish(std::move(m));
}

QJsonObject RpcServer::handle(
    const QString &user, const QString &requestId, const QString &method, const QJsonObject &params)
{
    ++m_handled;
    QJsonObject answer;
    const Method *m = findMethod(method);
    const Role role = m_roles.roleOf(user);
    if (user.isEmpty()) {
        answer = errorReply(rpcerror::Unauthenticated,
            u"the request carries no AMQP user_id; the broker-validated user is required"_s);
    } else if (!m) {
        QStringList names;
        for (const Method &known : kMethods)
            names.append(QString(known.name));
        answer = errorReply(rpcerror::UnknownMethod,
            u"unknown method '%1' (known: %2)"_s.arg(method.left(64), names.join(u", "_s)));
    }
    if (!answer.isEmpty()) {
        qCInfo(lcRpc).noquote()
            << "RPC" << method.left(64) << "from" << user
            << "refused:" << answer.value("error"_L1).toObject().value("message"_L1).toString();
        Q_EMIT requestHandled(method, user, false);
        return answer;
    }

    const bool exportToExioma
        = m->name == "report.export"_L1 && params.value("target"_L1).toString() == u"exioma";
    const bool mutating = m->mutating || exportToExioma;
    const Role needed = exportToExioma ? Role::Operator : m->minRole;

    // A redelivered state-changing request gets its first answer again.
    if (mutating && !requestId.isEmpty()) {
        auto seen
            = m_db->exec(u"SELECT ok, result, error FROM audit_log WHERE id = ?"_s, { requestId });
        if (seen && seen->next()) {
            const bool ok = seen->value(0).toInt() != 0;
            const QJsonObject stored = QJsonDocument::fromJson(
                (ok ? seen->value(1) : seen->value(2)).toString().toUtf8())
                                           .object();
            qCInfo(lcRpc).noquote()
                << "RPC" << method << "request" << requestId << "seen before; same answer";
            return ok ? okReply(stored)
                      : QJsonObject { { u"ok"_s, false }, { u"error"_s, stored } };
        }
    }

    if (role < needed) {
        answer = errorReply(rpcerror::Forbidden,
            u"user '%1' (role %2) may not call %3: it needs the %4 role"_s.arg(
                user, roleName(role), method, roleName(needed)));
    } else {
        answer = dispatch(*m, user, params);
    }
    const bool ok = answer.value("ok"_L1).toBool();
    if (mutating) {
        auto a = m_db->exec(
            u"INSERT INTO audit_log (id, ts, actor, role, method, params, ok, result, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"_s,
            { requestId.isEmpty() ? newMessageId() : requestId, QDateTime::currentMSecsSinceEpoch(),
                user, roleName(role), method, compact(params), ok ? 1 : 0,
                ok ? QVariant(compact(answer.value("result"_L1).toObject(), 65536))
                   : QVariant(QMetaType::fromType<QString>()),
                ok ? QVariant(QMetaType::fromType<QString>())
                   : QVariant(compact(answer.value("error"_L1).toObject())) });
        if (!a)
            qCWarning(lcRpc).noquote() << "could not write the audit log for" << method << "by"
                                       << user << ":" << a.error().toString();
        qCInfo(lcRpc).noquote()
            << "RPC" << method << "by" << user << "(" << roleName(role) << ")"
            << (ok ? "done" : "refused:")
            << (ok ? QString()
                   : answer.value("error"_L1).toObject().value("message"_L1).toString());
        if (ok)
            Q_EMIT stateChanged();
    }
    Q_EMIT requestHandled(method, user, ok);
    return answer;
}

ReportOptions RpcServer::reportOptions(const QJsonObject &params, Error *error) const
{
    ReportOptions o;
    o.offlineAfter = m_settings.offlineAfter;
    o.window = m_settings.reportWindow;
    auto window = j::optionalInteger(params, "window_seconds"_L1, 60, 400LL * 86400, "params"_L1);
    if (!window) {
        *error = window.error();
        return o;
    }
    if (window->has_value())
        o.window = std::chrono::seconds(**window);
    auto node = j::optionalString(params, "node"_L1, "params"_L1, 64);
    if (!node) {
        *error = node.error();
        return o;
    }
    o.node = node->value_or(QString());
    if (!o.node.isEmpty() && !isValidNodeId(o.node))
        *error = Error(
            ErrorCode::InvalidArgument, u"params.node: '%1' is not a valid node id"_s.arg(o.node));
    return o;
}

QJsonObject RpcServer::dispatch(const Method &m, const QString &user, const QJsonObject &params)
{
    StoreQueries queries(*m_db);
    const QString name = QString(m.name);
    auto nodeAndRequired = [&](QLatin1StringView key) -> Expected<QString> {
        auto v = j::requireString(params, key, "params"_L1, 64);
        if (!v)
            return v.error();
        if (!isValidNodeId(*v))
            return unexpected(ErrorCode::InvalidArgument,
                u"params.%1: '%2' is not a valid node id"_s.arg(key, *v));
        return *v;
    };

    if (name == u"runs.query") {
        auto f = RunFilter::fromJson(params);
        if (!f)
            return errorReply(f.error());
        auto r = queries.runs(*f);
        return r ? okReply(*r) : errorReply(r.error());
    }
    if (name == u"run.get") {
        if (auto ok = j::rejectUnknownKeys(params, { "node"_L1, "run_id"_L1 }, "params"_L1); !ok)
            return errorReply(ok.error());
        auto node = nodeAndRequired("node"_L1);
        if (!node)
            return errorReply(node.error());
        auto runId = j::requireString(params, "run_id"_L1, "params"_L1, 64);
        if (!runId)
            return errorReply(runId.error());
        auto r = queries.run(*node, *runId);
        return r ? okReply(*r) : errorReply(r.error());
    }
    if (name == u"node.get") {
        if (auto ok = j::rejectUnknownKeys(params, { "node"_L1 }, "params"_L1); !ok)
            return errorReply(ok.error());
        auto node = nodeAndRequired("node"_L1);
        if (!node)
            return errorReply(node.error());
        auto r = queries.node(*node, QDateTime::currentDateTimeUtc(), m_settings.offlineAfter);
        return r ? okReply(*r) : errorReply(r.error());
    }
    if (name == u"commands.query") {
        auto f = CommandFilter::fromJson(params);
        if (!f)
            return errorReply(f.error());
        auto r = queries.commands(*f);
        return r ? okReply(*r) : errorReply(r.error());
    }
    if (name == u"fleet.summary" || name == u"report.get" || name == u"report.export") {
        const QList<QLatin1StringView> allowed = name == u"report.export"
            ? QList<QLatin1StringView> { "node"_L1, "window_seconds"_L1, "format"_L1, "target"_L1 }
            : QList<QLatin1StringView> { "node"_L1, "window_seconds"_L1 };
        for (auto it = params.constBegin(); it != params.constEnd(); ++it)
            if (!allowed.contains(QLatin1StringView(it.key().toLatin1())))
                return errorReply(
                    rpcerror::InvalidParams, u"params.%1: unknown field"_s.arg(it.key().left(64)));
        Error error(ErrorCode::None, {});
        ReportOptions o = reportOptions(params, &error);
        if (error.code != ErrorCode::None)
            return errorReply(error);
        if (name == u"fleet.summary")
            o.trends = false;
        ReportBuilder builder(*m_db);
        auto report = builder.build(o);
        if (!report)
            return errorReply(report.error());
        if (name == u"fleet.summary")
            return okReply(QJsonObject { { u"generated_at"_s, report->value("generated_at"_L1) },
                { u"fleet"_s, report->value("fleet"_L1) },
                { u"nodes"_s, report->value("nodes"_L1) },
                { u"rpo_breaches"_s, report->value("rpo_breaches"_L1) } });
        if (name == u"report.get")
            return okReply(*report);
        const QString target = params.value("target"_L1).toString(u"response"_s);
        if (target == u"exioma") {
            if (!m_export)
                return errorReply(rpcerror::Unavailable, u"no Exioma export is configured"_s);
            auto id = m_export(*report);
            if (!id)
                return errorReply(id.error());
            return okReply(QJsonObject { { u"target"_s, target }, { u"export_id"_s, *id } });
        }
        if (target != u"response")
            return errorReply(
                rpcerror::InvalidParams, u"params.target: expected \"response\" or \"exioma\""_s);
        auto format = ReportFormatter::parseFormat(params.value("format"_L1).toString(u"json"_s));
        if (!format)
            return errorReply(format.error());
        const bool csv = *format == ReportFormatter::Format::Csv;
        return okReply(QJsonObject { { u"format"_s, csv ? u"csv"_s : u"json"_s },
            { u"content_type"_s, csv ? u"text/csv"_s : u"application/json"_s },
            { u"content"_s,
                QString::fromUtf8(ReportFormatter::render(*report,
                    csv ? ReportFormatter::Format::Csv : ReportFormatter::Format::Json)) } });
    }
    if (name == u"backup.start" || name == u"backup.cancel") {
        if (!m_commands)
            return errorReply(
                rpcerror::Unavailable, u"commands are not available (no signing key configured)"_s);
        const bool start = name == u"backup.start";
        // Bodies as the agent's command handler accepts them: backup.run {job},
        // backup.cancel {run_id}.
        if (auto ok = j::rejectUnknownKeys(params,
                { "node"_L1, start ? "job"_L1 : "run_id"_L1, "lifetime_seconds"_L1 }, "params"_L1);
            !ok)
            return errorReply(ok.error());
        auto node = nodeAndRequired("node"_L1);
        if (!node)
            return errorReply(node.error());
        const QLatin1StringView key = start ? "job"_L1 : "run_id"_L1;
        auto value = j::requireString(params, key, "params"_L1, start ? 128 : 64);
        if (!value)
            return errorReply(value.error());
        const QJsonObject body { { QString(key), *value } };
        auto lifetime
            = j::optionalInteger(params, "lifetime_seconds"_L1, 1, 7LL * 86400, "params"_L1);
        if (!lifetime)
            return errorReply(lifetime.error());
        CommandRequest req;
        req.node = *node;
        req.type = start ? QString(proto::type::BackupRun) : QString(proto::type::BackupCancel);
        req.params = body;
        req.lifetime = std::chrono::seconds(lifetime->value_or(m_settings.commandLifetime.count()));
        req.issuedBy = user;
        auto rec = m_commands->issue(req);
        if (!rec)
            return errorReply(rec.error());
        return okReply(QJsonObject { { u"command"_s,
            QJsonObject { { u"id"_s, rec->id }, { u"node"_s, rec->node }, { u"type"_s, rec->type },
                { u"state"_s, rec->state }, { u"issued_at"_s, formatTimestamp(rec->issuedAt) },
                { u"expires_at"_s, formatTimestamp(rec->expiresAt) } } } });
    }
    return errorReply(rpcerror::UnknownMethod, u"method '%1' has no handler"_s.arg(name));
}

} // namespace sparky::orchestrator
