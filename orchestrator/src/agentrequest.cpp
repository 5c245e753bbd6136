#include "agentrequest.h"

#include "sparky/envelope.h"
#include "sparky/jsonfields.h"
#include "sparky/protocol.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;
namespace j = sparky::json;
namespace type = sparky::protocol::type;

namespace {

constexpr QLatin1StringView kParams { "params" };

struct MethodSpec
{
    QLatin1StringView method;
    QLatin1StringView commandType;
    bool waits;
};

constexpr MethodSpec kSpecs[] = {
    { "backup.start"_L1, type::BackupRun, false },
    { "backup.cancel"_L1, type::BackupCancel, false },
    { "restore.start"_L1, type::RestoreExtract, false },
    { "drill.start"_L1, type::DrillRun, false },
    { "archives.list"_L1, type::ArchivesList, true },
    { "archive.browse"_L1, type::ArchiveBrowse, true },
    { "node.ping"_L1, type::AgentPing, true },
};

const MethodSpec *specFor(QStringView method)
{
    for (const MethodSpec &s : kSpecs)
        if (s.method == method)
            return &s;
    return nullptr;
}

Unexpected bad(const QString &message)
{
    return unexpected(ErrorCode::InvalidArgument, message);
}

// Copies an optional string param into the body under the same name.
Result copyString(const QJsonObject &params, QLatin1StringView key, qsizetype max, QJsonObject &body)
{
    auto v = j::optionalString(params, key, kParams, max);
    if (!v)
        return v.error();
    if (v->has_value())
        body.insert(QString(key), **v);
    return {};
}

Result copyInteger(const QJsonObject &params, QLatin1StringView key, qint64 min, qint64 max,
    QJsonObject &body)
{
    auto v = j::optionalInteger(params, key, min, max, kParams);
    if (!v)
        return v.error();
    if (v->has_value())
        body.insert(QString(key), **v);
    return {};
}

Result copyBool(const QJsonObject &params, QLatin1StringView key, QJsonObject &body)
{
    if (!params.contains(key))
        return {};
    auto v = j::optionalBool(params, key, false, kParams);
    if (!v)
        return v.error();
    body.insert(QString(key), *v);
    return {};
}

Result requireInto(const QJsonObject &params, QLatin1StringView key, qsizetype max, QJsonObject &body)
{
    auto v = j::requireString(params, key, kParams, max);
    if (!v)
        return v.error();
    if (v->isEmpty())
        return bad(u"params.%1: must not be empty"_s.arg(key));
    body.insert(QString(key), *v);
    return {};
}

} // namespace

bool AgentRequest::isAgentMethod(QStringView method)
{
    return specFor(method) != nullptr;
}

bool AgentRequest::waitsForAgent(QStringView method)
{
    const MethodSpec *s = specFor(method);
    return s && s->waits;
}

Expected<AgentRequest> AgentRequest::fromRpc(
    const QString &method, const QJsonObject &params, const AgentRequestLimits &limits)
{
    const MethodSpec *spec = specFor(method);
    if (!spec)
        return bad(u"'%1' does not ask an agent for anything"_s.arg(method.left(64)));
    AgentRequest r;
    r.method = method;
    r.commandType = QString(spec->commandType);
    r.waits = spec->waits;

    // Allowed params per method; the body keeps the agent's field names.
    QList<QLatin1StringView> allowed { "node"_L1 };
    if (r.waits)
        allowed << "timeout_ms"_L1;
    else
        allowed << "lifetime_seconds"_L1;
    const QLatin1StringView m(spec->method);
    if (m == "backup.cancel"_L1)
        allowed << "run_id"_L1;
    else if (m != "node.ping"_L1)
        allowed << "job"_L1;
    if (m == "archives.list"_L1)
        allowed << "stats"_L1 << "last"_L1;
    if (m == "archive.browse"_L1)
        allowed << "archive"_L1 << "path"_L1 << "page"_L1 << "cursor"_L1 << "page_size"_L1;
    if (m == "restore.start"_L1)
        allowed << "archive"_L1 << "paths"_L1 << "target"_L1 << "strip_components"_L1
                << "database"_L1 << "create_database"_L1;
    for (auto it = params.constBegin(); it != params.constEnd(); ++it) {
        bool known = false;
        for (QLatin1StringView a : std::as_const(allowed))
            known = known || it.key() == a;
        if (!known)
            return bad(u"params.%1: unknown field (%2 takes %3)"_s.arg(it.key().left(64), method,
                [&] {
                    QStringList names;
                    for (QLatin1StringView a : std::as_const(allowed))
                        names << QString(a);
                    return names.join(u", "_s);
                }()));
    }

    auto node = j::requireString(params, "node"_L1, kParams, 64);
    if (!node)
        return node.error();
    if (!isValidNodeId(*node))
        return bad(u"params.node: '%1' is not a valid node id"_s.arg(*node));
    r.node = *node;

    QJsonObject &b = r.body;
    if (m == "backup.cancel"_L1) {
        if (auto ok = requireInto(params, "run_id"_L1, 64, b); !ok)
            return ok.error();
    } else if (m != "node.ping"_L1) {
        if (auto ok = requireInto(params, "job"_L1, 128, b); !ok)
            return ok.error();
    }
    if (m == "archives.list"_L1) {
        if (auto ok = copyBool(params, "stats"_L1, b); !ok)
            return ok.error();
        if (auto ok = copyInteger(params, "last"_L1, 1, 10000, b); !ok)
            return ok.error();
    }
    if (m == "archive.browse"_L1 || m == "restore.start"_L1) {
        if (auto ok = requireInto(params, "archive"_L1, 200, b); !ok)
            return ok.error();
    }
    if (m == "archive.browse"_L1) {
        if (auto ok = copyString(params, "path"_L1, 4096, b); !ok)
            return ok.error();
        if (auto ok = copyInteger(params, "page"_L1, 0, 1000000, b); !ok)
            return ok.error();
        if (auto ok = copyString(params, "cursor"_L1, 1024, b); !ok)
            return ok.error();
        if (auto ok = copyInteger(params, "page_size"_L1, 1, 1000, b); !ok)
            return ok.error();
        if (b.contains("page"_L1) && b.contains("cursor"_L1))
            return bad(u"params.page: give either page or cursor, not both"_s);
    }
    if (m == "restore.start"_L1) {
        if (params.contains("paths"_L1)) {
            auto paths = j::requireStringList(params, "paths"_L1, 1000, kParams, 4096);
            if (!paths)
                return paths.error();
            for (qsizetype i = 0; i < paths->size(); ++i)
                if (paths->at(i).isEmpty())
                    return bad(u"params.paths[%1]: must not be empty"_s.arg(i));
            b.insert(u"paths"_s, QJsonArray::fromStringList(*paths));
        }
        if (auto ok = copyString(params, "target"_L1, 4096, b); !ok)
            return ok.error();
        if (b.contains("target"_L1) && !b.value("target"_L1).toString().startsWith(u'/'))
            return bad(u"params.target: '%1' is not an absolute directory"_s.arg(
                b.value("target"_L1).toString().left(200)));
        if (auto ok = copyInteger(params, "strip_components"_L1, 0, 64, b); !ok)
            return ok.error();
        if (auto ok = copyString(params, "database"_L1, 63, b); !ok)
            return ok.error();
        if (auto ok = copyBool(params, "create_database"_L1, b); !ok)
            return ok.error();
        if (b.contains("create_database"_L1) && !b.contains("database"_L1))
            return bad(u"params.create_database: only with params.database"_s);
    }

    if (r.waits) {
        auto t = j::optionalInteger(
            params, "timeout_ms"_L1, 100, qint64(limits.maxTimeout.count()), kParams);
        if (!t)
            return t.error();
        r.timeout = std::chrono::milliseconds(t->value_or(limits.defaultTimeout.count()));
    } else {
        auto l = j::optionalInteger(params, "lifetime_seconds"_L1, 1, 7LL * 86400, kParams);
        if (!l)
            return l.error();
        r.lifetime = std::chrono::seconds(l->value_or(0));
    }

    const qsizetype bytes = QJsonDocument(b).toJson(QJsonDocument::Compact).size();
    if (bytes > limits.maxBodyBytes)
        return bad(u"params: the command body would be %1 bytes, over the limit of %2"_s.arg(bytes)
                .arg(limits.maxBodyBytes));
    return r;
}

} // namespace sparky::orchestrator
