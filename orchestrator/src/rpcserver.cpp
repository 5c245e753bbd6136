#include "rpcserver.h"

#include "agentrequest.h"
#include "commanddispatcher.h"
#include "commandwatcher.h"
#include "orchestratorlogging.h"
#include "reportformatter.h"
#include "sparky/jsonfields.h"
#include "sparky/protocol.h"
#include "storequeries.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <algorithm>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;
namespace j = sparky::json;
namespace proto = sparky::protocol;

struct RpcServer::Method
{
    QLatin1StringView name;
    Role minRole;
    bool audited; // state-changing, or issues a command: written to audit_log
    bool waits = false; // answers with the agent's result (AgentRequest::waits)
    bool browse = false; // the role comes from rpc.browse_role
};

struct RpcServer::Call
{
    const Method *method = nullptr;
    QString name;
    QString user;
    Role role = Role::None;
    QString requestId; // the audit_log key
    QJsonObject params;
    ReplyFn done;
};

namespace {

QJsonObject okReply(const QJsonObject &result)
{
    return QJsonObject { { u"ok"_s, true }, { u"result"_s, result } };
}

// `extra`: fields beside code and message (command_id, node, last_seen) for scripts.
QJsonObject errorReply(QLatin1StringView code, const QString &message, QJsonObject extra = {})
{
    extra.insert(u"code"_s, QString(code));
    extra.insert(u"message"_s, message);
    return QJsonObject { { u"ok"_s, false }, { u"error"_s, extra } };
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

// Audit rows keep the first 4 KiB of the params.
QString auditParams(const QJsonObject &o)
{
    return j::compactText(o).left(4096);
}

} // namespace

static const RpcServer::Method kMethods[] = {
    { "fleet.summary"_L1, Role::Viewer, false },
    { "runs.query"_L1, Role::Viewer, false },
    { "run.get"_L1, Role::Viewer, false },
    { "node.get"_L1, Role::Viewer, false },
    { "commands.query"_L1, Role::Viewer, false },
    { "command.get"_L1, Role::Viewer, false },
    { "backup.start"_L1, Role::Operator, true },
    { "backup.cancel"_L1, Role::Operator, true },
    { "restore.start"_L1, Role::Operator, true },
    { "drill.start"_L1, Role::Operator, true },
    { "archives.list"_L1, Role::Operator, true, true, true },
    { "archive.browse"_L1, Role::Operator, true, true, true },
    { "node.ping"_L1, Role::Viewer, true, true },
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

namespace {

QString humanDuration(qint64 seconds)
{
    if (seconds < 120)
        return u"%1 s"_s.arg(seconds);
    if (seconds < 7200)
        return u"%1 min"_s.arg(seconds / 60);
    if (seconds < 2 * 86400)
        return u"%1 h %2 min"_s.arg(seconds / 3600).arg(seconds % 3600 / 60);
    return u"%1 d"_s.arg(seconds / 86400);
}

QJsonObject offlineReply(const QString &node, const StoreQueries::Presence &p,
    std::chrono::seconds offlineAfter, const QDateTime &now)
{
    if (!p.known)
        return errorReply(rpcerror::NodeOffline,
            u"node '%1' has never reported to the orchestrator (is it enrolled, and is its agent "
            "running?)"_s.arg(node),
            QJsonObject { { u"node"_s, node }, { u"last_seen"_s, QJsonValue::Null } });
    return errorReply(rpcerror::NodeOffline,
        u"node '%1' is offline: nothing heard from it since %2 (%3 ago; a node counts as offline "
        "after %4 without an event)"_s.arg(node, formatTimestamp(p.lastSeen),
            humanDuration(p.lastSeen.secsTo(now)), humanDuration(offlineAfter.count())),
        QJsonObject { { u"node"_s, node }, { u"last_seen"_s, formatTimestamp(p.lastSeen) } });
}

// What a waiting call answers once its command is final, timed out, or the wait was cut.
QJsonObject waitAnswer(const QString &method, const QString &node, const QString &commandId,
    const CommandWatcher::Outcome &o, std::chrono::milliseconds timeout, qint64 elapsedMs)
{
    const QJsonObject &c = o.command;
    const QString state = c.value("state"_L1).toString();
    const QString error = c.value("error"_L1).toString();
    const QJsonObject ref { { u"command_id"_s, commandId }, { u"node"_s, node },
        { u"state"_s, state.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(state) } };
    using Kind = CommandWatcher::Outcome::Kind;
    if (o.kind == Kind::Cancelled)
        return errorReply(rpcerror::Unavailable,
            u"%1; command %2 (%3 on node '%4') goes on: follow it with command.get"_s.arg(
                o.error, commandId, method, node),
            ref);
    if (o.kind == Kind::TimedOut) {
        QString where;
        if (c.isEmpty())
            where = o.error.isEmpty() ? u"its state could not be read"_s
                                      : u"its state could not be read: "_s + o.error;
        else if (state == u"pending")
            where = u"the broker has not confirmed it yet"_s;
        else if (state == u"published")
            where = u"it waits in the node's queue: the agent has not taken it (is the agent "
                    "down or stuck?)"_s;
        else
            where = u"the agent has it (%1) but has not finished"_s.arg(state);
        return errorReply(rpcerror::AgentTimeout,
            u"node '%1' did not answer %2 within %3 ms: command %4 — %5. It may still finish; "
            "see command.get"_s.arg(node, method)
                .arg(timeout.count())
                .arg(commandId, where),
            ref);
    }
    if (state == u"succeeded") {
        QJsonObject result { { u"command_id"_s, commandId }, { u"node"_s, node },
            { u"elapsed_ms"_s, elapsedMs },
            { u"result"_s,
                c.value("result"_L1).isObject() ? c.value("result"_L1) : QJsonValue(QJsonObject()) } };
        if (c.value("run_id"_L1).isString())
            result.insert(u"run_id"_s, c.value("run_id"_L1));
        return okReply(result);
    }
    const QString why = error.isEmpty() ? u"no reason given"_s : error;
    if (state == u"rejected")
        return errorReply(rpcerror::AgentRejected,
            u"node '%1' refused %2 (command %3): %4"_s.arg(node, method, commandId, why), ref);
    if (state == u"expired")
        return errorReply(rpcerror::CommandExpired,
            u"command %1 (%2 on node '%3') expired without an answer: %4"_s.arg(
                commandId, method, node, why),
            ref);
    return errorReply(rpcerror::CommandFailed,
        u"%1 on node '%2' failed (command %3): %4"_s.arg(method, node, commandId, why), ref);
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
    m_watcher = new CommandWatcher(m_db, m_settings.pollInterval, this);
    connect(m_client, &AmqpClient::delivered, this, &RpcServer::onDelivered);
}

RpcServer::~RpcServer() = default;

void RpcServer::start()
{
    m_stopped = false;
    m_client->consume(ConsumerOptions { m_settings.queue, m_settings.prefetch, false });
}

void RpcServer::stop()
{
    m_stopped = true;
    m_watcher->cancelAll(u"the orchestrator replica that took the call is stopping"_s);
}

void RpcServer::commandsChanged()
{
    m_watcher->poke();
}

int RpcServer::waitingCalls() const
{
    return m_watcher->watching();
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
    const QString replyTo = d.properties.replyTo;
    const QString correlationId = d.properties.correlationId;
    ReplyFn done = [this, replyTo, correlationId](
                       const QJsonObject &body) { reply(replyTo, correlationId, body); };
    if (!request) {
        done(errorReply(
            rpcerror::BadRequest, u"not a sparky envelope: "_s + request.error().message));
    } else {
        // The caller stops listening when its request expires: answer before that.
        std::optional<std::chrono::milliseconds> budget;
        if (d.properties.expirationMs)
            budget = std::chrono::milliseconds(std::max<qint64>(*d.properties.expirationMs - 1500, 100));
        handleAsync(d.properties.userId, request->id, request->type, request->body, std::move(done),
            budget);
    }
    // Synchronous answers are handed to the client by now; a waiting call has issued and
    // audited its command, so a redelivery would resume the same wait (never a second
    // command). Acking now keeps the RPC queue flowing while agents think.
    m_client->ack(d);
}

void RpcServer::reply(const QString &replyTo, const QString &correlationId, const QJsonObject &body)
{
    Envelope e
        = Envelope::make(QString(proto::type::RpcReply), QString(proto::kOrchestratorNode), body);
    OutgoingMessage m;
    m.exchange = QString();
    m.routingKey = replyTo;
    m.body = serializeEnvelope(e);
    if (m.body.size() > kDefaultMaxMessageBytes) {
        qCWarning(lcRpc).noquote() << "RPC reply of" << m.body.size() << "bytes is too large";
        e.body = errorReply(rpcerror::Internal,
            u"the answer is %1 bytes, over the message limit of %2"_s.arg(m.body.size())
                .arg(kDefaultMaxMessageBytes));
        m.body = serializeEnvelope(e);
    }
    m.properties = propertiesFor(e, m_client->user());
    m.properties.correlationId = correlationId;
    m.properties.persistent = false;
    (void)m_client->publish(std::move(m));
}

QJsonObject RpcServer::handle(
    const QString &user, const QString &requestId, const QString &method, const QJsonObject &params)
{
    QJsonObject answer;
    bool answered = false;
    handleAsync(user, requestId, method, params, [&](const QJsonObject &body) {
        answer = body;
        answered = true;
    });
    if (!answered)
        // The call goes on (its command is issued); its answer is dropped.
        return errorReply(rpcerror::Internal,
            u"%1 answers later; RpcServer::handle() is for methods that answer at once"_s.arg(
                method.left(64)));
    return answer;
}

void RpcServer::handleAsync(const QString &user, const QString &requestId, const QString &method,
    const QJsonObject &params, ReplyFn done, std::optional<std::chrono::milliseconds> budget)
{
    ++m_handled;
    QJsonObject answer;
    const Method *m = findMethod(method);
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
        done(answer);
        return;
    }

    Call call;
    call.method = m;
    call.name = QString(m->name);
    call.user = user;
    call.role = m_roles.roleOf(user);
    call.requestId = requestId.isEmpty() ? newMessageId() : requestId;
    call.params = params;
    call.done = std::move(done);

    const bool exportToExioma
        = m->name == "report.export"_L1 && params.value("target"_L1).toString() == u"exioma";
    const bool audited = m->audited || exportToExioma;
    const Role needed
        = exportToExioma ? Role::Operator : (m->browse ? m_settings.browseRole : m->minRole);

    // A redelivered audited request gets its first answer again; a waiting one resumes the
    // wait for the command the first delivery issued.
    if (audited && !requestId.isEmpty()) {
        auto seen
            = m_db->exec(u"SELECT ok, result, error FROM audit_log WHERE id = ?"_s, { requestId });
        if (seen && seen->next()) {
            const bool ok = seen->value(0).toInt() != 0;
            const QJsonObject stored = QJsonDocument::fromJson(
                (ok ? seen->value(1) : seen->value(2)).toString().toUtf8())
                                           .object();
            seen->finish();
            qCInfo(lcRpc).noquote()
                << "RPC" << method << "request" << requestId << "seen before; same answer";
            if (m->waits && ok && stored.value("command_id"_L1).isString()) {
                const qint64 asked = params.value("timeout_ms"_L1).toInteger(
                    m_settings.queryTimeout.count());
                std::chrono::milliseconds timeout(std::clamp<qint64>(
                    asked, 100, qint64(m_settings.maxQueryTimeout.count())));
                if (budget)
                    timeout = std::min(timeout, *budget);
                waitFor(call, stored.value("command_id"_L1).toString(), timeout);
                return;
            }
            call.done(ok ? okReply(stored)
                         : QJsonObject { { u"ok"_s, false }, { u"error"_s, stored } });
            return;
        }
    }

    if (call.role < needed) {
        finish(call,
            errorReply(rpcerror::Forbidden,
                u"user '%1' (role %2) may not call %3: it needs the %4 role"_s.arg(
                    user, roleName(call.role), method, roleName(needed))),
            audited);
        return;
    }
    if (m->waits) {
        startWaiting(call, params, budget);
        return;
    }
    finish(call, dispatch(*m, user, params), audited);
}

namespace {

QString auditText(const QJsonObject &o, qsizetype max)
{
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact)).left(max);
}

} // namespace

void RpcServer::finish(const Call &call, const QJsonObject &answer, bool writeAudit)
{
    const bool ok = answer.value("ok"_L1).toBool();
    if (writeAudit) {
        QJsonObject result = answer.value("result"_L1).toObject();
        if (call.method && call.method->waits && ok)
            // The agent's answer lives in commands.result; the audit says what was asked.
            result = QJsonObject { { u"command_id"_s, result.value("command_id"_L1) },
                { u"node"_s, result.value("node"_L1) }, { u"state"_s, u"succeeded"_s } };
        const QVariant resultText = ok ? QVariant(auditText(result, 65536))
                                       : QVariant(QMetaType::fromType<QString>());
        const QVariant errorText = ok
            ? QVariant(QMetaType::fromType<QString>())
            : QVariant(auditText(answer.value("error"_L1).toObject(), 4096));
        // A waiting call wrote its row when it issued the command: this settles it.
        auto a = m_db->exec(
            u"INSERT INTO audit_log (id, ts, actor, role, method, params, ok, result, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET ok = excluded.ok,"
            " result = excluded.result, error = excluded.error"_s,
            { call.requestId, QDateTime::currentMSecsSinceEpoch(), call.user, roleName(call.role),
                call.name, auditParams(call.params), ok ? 1 : 0, resultText, errorText });
        if (!a)
            qCWarning(lcRpc).noquote() << "could not write the audit log for" << call.name
                                       << "by" << call.user << ":" << a.error().toString();
        qCInfo(lcRpc).noquote()
            << "RPC" << call.name << "by" << call.user << "(" << roleName(call.role) << ")"
            << (ok ? "done" : "refused:")
            << (ok ? QString()
                   : answer.value("error"_L1).toObject().value("message"_L1).toString());
        if (ok)
            Q_EMIT stateChanged();
    }
    Q_EMIT requestHandled(call.name, call.user, ok);
    if (call.done)
        call.done(answer);
}

void RpcServer::startWaiting(
    const Call &call, const QJsonObject &params, std::optional<std::chrono::milliseconds> budget)
{
    if (!m_commands) {
        finish(call,
            errorReply(
                rpcerror::Unavailable, u"commands are not available (no signing key configured)"_s),
            true);
        return;
    }
    AgentRequestLimits limits;
    limits.defaultTimeout = m_settings.queryTimeout;
    limits.maxTimeout = m_settings.maxQueryTimeout;
    auto request = AgentRequest::fromRpc(call.name, params, limits);
    if (!request) {
        finish(call, errorReply(request.error()), true);
        return;
    }
    const QDateTime now = QDateTime::currentDateTimeUtc();
    auto presence = StoreQueries(*m_db).presence(request->node, now, m_settings.offlineAfter);
    if (!presence) {
        finish(call, errorReply(presence.error()), true);
        return;
    }
    if (!presence->online) {
        finish(call, offlineReply(request->node, *presence, m_settings.offlineAfter, now), true);
        return;
    }
    std::chrono::milliseconds timeout = request->timeout;
    if (budget)
        timeout = std::max(std::chrono::milliseconds(100), std::min(timeout, *budget));

    CommandRequest c;
    c.node = request->node;
    c.type = request->commandType;
    c.params = request->body;
    // Nobody wants the answer long after the wait: a short life, with room for clock skew.
    c.lifetime = std::max<std::chrono::seconds>(std::chrono::seconds(120),
        std::chrono::duration_cast<std::chrono::seconds>(timeout) + std::chrono::seconds(60));
    c.issuedBy = call.user;
    auto rec = m_commands->issue(c);
    if (!rec) {
        finish(call, errorReply(rec.error()), true);
        return;
    }
    // Audited now, as "waiting": a redelivery of this request resumes this wait.
    auto a = m_db->exec(
        u"INSERT INTO audit_log (id, ts, actor, role, method, params, ok, result, error)"
        " VALUES (?, ?, ?, ?, ?, ?, 1, ?, NULL) ON CONFLICT (id) DO NOTHING"_s,
        { call.requestId, QDateTime::currentMSecsSinceEpoch(), call.user, roleName(call.role),
            call.name, auditParams(call.params),
            auditText(QJsonObject { { u"command_id"_s, rec->id }, { u"node"_s, rec->node },
                          { u"state"_s, u"waiting"_s } },
                4096) });
    if (!a)
        qCWarning(lcRpc).noquote() << "could not write the audit log for" << call.name << "by"
                                   << call.user << ":" << a.error().toString();
    qCInfo(lcRpc).noquote() << "RPC" << call.name << "by" << call.user << "(" << roleName(call.role)
                            << "): command" << rec->id << "to" << rec->node << "; waiting up to"
                            << timeout.count() << "ms for the agent";
    Q_EMIT stateChanged();
    waitFor(call, rec->id, timeout);
}

void RpcServer::waitFor(const Call &call, const QString &commandId, std::chrono::milliseconds timeout)
{
    QElapsedTimer clock;
    clock.start();
    const QString node = call.params.value("node"_L1).toString();
    m_watcher->watch(commandId, timeout,
        [this, call, commandId, node, timeout, clock](const CommandWatcher::Outcome &o) {
            finish(call, waitAnswer(call.name, node, commandId, o, timeout, clock.elapsed()), true);
        });
}

QJsonObject RpcServer::issueAtOnce(const AgentRequest &request, const QString &user)
{
    CommandRequest c;
    c.node = request.node;
    c.type = request.commandType;
    c.params = request.body;
    c.lifetime = request.lifetime.count() > 0 ? request.lifetime : m_settings.commandLifetime;
    c.issuedBy = user;
    auto rec = m_commands->issue(c);
    if (!rec)
        return errorReply(rec.error());
    const QDateTime now = QDateTime::currentDateTimeUtc();
    auto presence = StoreQueries(*m_db).presence(request.node, now, m_settings.offlineAfter);
    QJsonObject result { { u"command_id"_s, rec->id },
        { u"command"_s,
            QJsonObject { { u"id"_s, rec->id }, { u"node"_s, rec->node }, { u"type"_s, rec->type },
                { u"state"_s, rec->state }, { u"issued_at"_s, formatTimestamp(rec->issuedAt) },
                { u"expires_at"_s, formatTimestamp(rec->expiresAt) } } } };
    if (presence) {
        result.insert(u"node_online"_s, presence->online);
        result.insert(u"node_last_seen"_s,
            presence->known ? QJsonValue(formatTimestamp(presence->lastSeen))
                            : QJsonValue(QJsonValue::Null));
        if (!presence->online) {
            const QString why = offlineReply(request.node, *presence, m_settings.offlineAfter, now)
                                    .value("error"_L1)
                                    .toObject()
                                    .value("message"_L1)
                                    .toString();
            result.insert(u"warning"_s,
                QString(why + u"; the command waits in its queue until it expires at "_s
                    + formatTimestamp(rec->expiresAt)));
        }
    }
    return okReply(result);
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
    if (name == u"command.get") {
        if (auto ok = j::rejectUnknownKeys(params, { "command_id"_L1 }, "params"_L1); !ok)
            return errorReply(ok.error());
        auto id = j::requireString(params, "command_id"_L1, "params"_L1, 64);
        if (!id)
            return errorReply(id.error());
        auto r = queries.commandWithRun(*id);
        return r ? okReply(*r) : errorReply(r.error());
    }
    if (AgentRequest::isAgentMethod(name)) {
        // backup.start, backup.cancel, restore.start, drill.start: answered at once.
        if (!m_commands)
            return errorReply(
                rpcerror::Unavailable, u"commands are not available (no signing key configured)"_s);
        auto request = AgentRequest::fromRpc(name, params);
        if (!request)
            return errorReply(request.error());
        return issueAtOnce(*request, user);
    }
    return errorReply(rpcerror::UnknownMethod, u"method '%1' has no handler"_s.arg(name));
}

} // namespace sparky::orchestrator
