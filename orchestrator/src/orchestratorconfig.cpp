#include "orchestratorconfig.h"

#include <QFileInfo>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

namespace {

Expected<OrchestratorConfig> fromDocument(const config::Document &doc, bool requireBroker)
{
    config::Errors errors;
    const config::Node root = doc.root(&errors);
    OrchestratorConfig c;
    c.file = doc.file();
    if (!root.isMap()) {
        root.error(u"expected a map of sections"_s);
        return errors.toResult().error();
    }
    root.allowKeys({ "broker", "store", "ingest", "commands", "rpc", "nodes", "duties", "retention",
        "report", "exioma", "metrics", "management" });

    const config::Node broker = root.child(u"broker"_s);
    if (broker.isDefined() || requireBroker) {
        c.broker = BrokerSettings::fromConfig(broker);
        c.hasBroker = broker.isDefined();
        if (c.broker.connectionName.isEmpty())
            c.broker.connectionName = u"sparky-orchestrator"_s;
    }
    c.store = StoreSettings::fromConfig(root.child(u"store"_s));

    if (const config::Node n = root.child(u"ingest"_s); n.isDefined()) {
        n.allowKeys({ "batch_size", "batch_wait_ms", "prefetch" });
        c.ingest.batchSize = int(n.integer(u"batch_size"_s, c.ingest.batchSize, 1, 5000));
        c.ingest.batchWait = std::chrono::milliseconds(n.integer(u"batch_wait_ms"_s, 50, 1, 10000));
        c.ingest.prefetch = quint16(n.integer(u"prefetch"_s, c.ingest.prefetch, 1, 65535));
    }
    if (const config::Node n = root.child(u"commands"_s); n.isDefined()) {
        n.allowKeys({ "signing_key", "default_lifetime", "max_lifetime" });
        c.commands.keyFile = n.string(u"signing_key"_s);
        c.commands.defaultLifetime = n.duration(u"default_lifetime"_s, c.commands.defaultLifetime);
        c.commands.maxLifetime = n.duration(u"max_lifetime"_s, c.commands.maxLifetime);
        if (c.commands.defaultLifetime > c.commands.maxLifetime)
            n.child(u"default_lifetime"_s).error(u"longer than max_lifetime"_s);
    }
    if (const config::Node n = root.child(u"rpc"_s); n.isDefined()) {
        n.allowKeys({ "prefetch", "roles", "browse_role", "query_timeout", "query_timeout_max" });
        c.rpc.prefetch = quint16(n.integer(u"prefetch"_s, c.rpc.prefetch, 1, 1000));
        c.roles = RoleMap::fromConfig(n.child(u"roles"_s));
        if (const config::Node b = n.child(u"browse_role"_s); b.isDefined()) {
            const auto role = roleFromName(b.toString().value_or(QString()));
            if (!role || *role == Role::None)
                b.error(u"expected viewer, operator or admin"_s);
            else
                c.rpc.browseRole = *role;
        }
        const auto timeout = n.duration(u"query_timeout"_s, std::chrono::seconds(30));
        const auto timeoutMax = n.duration(u"query_timeout_max"_s, std::chrono::seconds(120));
        if (timeout.count() < 1)
            n.child(u"query_timeout"_s).error(u"must be at least 1s"_s);
        else if (timeout > timeoutMax)
            n.child(u"query_timeout"_s).error(u"longer than query_timeout_max"_s);
        else if (timeoutMax > std::chrono::seconds(3600))
            n.child(u"query_timeout_max"_s).error(u"at most 1h"_s);
        c.rpc.queryTimeout = timeout;
        c.rpc.maxQueryTimeout = timeoutMax;
    }
    if (const config::Node n = root.child(u"nodes"_s); n.isDefined()) {
        n.allowKeys({ "offline_after" });
        c.offlineAfter = n.duration(u"offline_after"_s, c.offlineAfter);
    }
    if (const config::Node n = root.child(u"duties"_s); n.isDefined()) {
        n.allowKeys({ "interval" });
        c.dutyInterval = n.duration(u"interval"_s, c.dutyInterval);
        if (c.dutyInterval.count() < 1)
            n.child(u"interval"_s).error(u"must be at least 1s"_s);
    }
    if (const config::Node n = root.child(u"retention"_s); n.isDefined()) {
        n.allowKeys({ "runs", "message_ids", "dead_letters" });
        c.retainRuns = n.duration(u"runs"_s, c.retainRuns);
        c.retainMessageIds = n.duration(u"message_ids"_s, c.retainMessageIds);
        c.retainDeadLetters = n.duration(u"dead_letters"_s, c.retainDeadLetters);
    }
    if (const config::Node n = root.child(u"report"_s); n.isDefined()) {
        n.allowKeys({ "window", "interval" });
        c.reportWindow = n.duration(u"window"_s, c.reportWindow);
        c.reportInterval = n.duration(u"interval"_s, c.reportInterval);
    }
    if (const config::Node n = root.child(u"metrics"_s); n.isDefined()) {
        n.allowKeys({ "listen" });
        c.metricsListen = n.string(u"listen"_s);
    }
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
    if (const config::Node n = root.child(u"exioma"_s); n.isDefined()) {
        n.allowKeys(
            { "url", "token_file", "ca_file", "interval", "timeout", "retry_min", "retry_max" });
        ExiomaSettings e;
        e.url = QUrl(n.requiredString(u"url"_s));
        e.tokenFile = n.requiredString(u"token_file"_s);
        e.caFile = n.string(u"ca_file"_s);
        e.interval = n.duration(u"interval"_s, e.interval);
        e.timeout = n.duration(u"timeout"_s, e.timeout);
        e.retryMin = n.duration(
            u"retry_min"_s, std::chrono::duration_cast<std::chrono::seconds>(e.retryMin));
        e.retryMax = n.duration(
            u"retry_max"_s, std::chrono::duration_cast<std::chrono::seconds>(e.retryMax));
        if (auto ok = e.validate(); !ok)
            n.error(ok.error().message);
        c.exioma = e;
    }
    if (const config::Node n = root.child(u"management"_s); n.isDefined()) {
        n.allowKeys({ "url", "user", "password_file", "ca_file", "vhost", "timeout" });
        ManagementSettings m;
        m.baseUrl = QUrl(n.requiredString(u"url"_s));
        m.user = n.string(u"user"_s, u"sparky-admin"_s);
        m.passwordFile = n.requiredString(u"password_file"_s);
        m.caFile = n.string(u"ca_file"_s);
        m.vhost = n.string(u"vhost"_s, m.vhost);
        m.timeout
            = n.duration(u"timeout"_s, std::chrono::duration_cast<std::chrono::seconds>(m.timeout));
        if (auto ok = m.validate(); !ok)
            n.error(ok.error().message);
        c.management = m;
    }
#else
    for (const char *edge : { "exioma", "management" })
        if (root.child(QString::fromLatin1(edge)).isDefined())
            root.child(QString::fromLatin1(edge))
                .error(u"this build has no orchestrator edge modules"_s);
#endif
    c.rpc.offlineAfter = c.offlineAfter;
    c.rpc.reportWindow = c.reportWindow;
    if (auto ok = errors.toResult(); !ok)
        return ok.error();
    return c;
}

} // namespace

Expected<OrchestratorConfig> OrchestratorConfig::load(const QString &path, bool requireBroker)
{
    auto doc = config::Document::loadFile(path);
    if (!doc)
        return doc.error();
    return fromDocument(*doc, requireBroker);
}

Expected<OrchestratorConfig> OrchestratorConfig::parse(
    const QByteArray &yaml, const QString &name, bool requireBroker)
{
    auto doc = config::Document::loadString(yaml, name);
    if (!doc)
        return doc.error();
    return fromDocument(*doc, requireBroker);
}

} // namespace sparky::orchestrator
