#include "sparky/brokersettings.h"

#include "sparky/logging.h"
#include "sparky/secrets.h"

#include <QFileInfo>

namespace sparky {

using namespace Qt::StringLiterals;

namespace {

std::optional<BrokerEndpoint> parseEndpoint(const QString &text)
{
    BrokerEndpoint ep;
    QString host = text.trimmed();
    if (host.isEmpty())
        return std::nullopt;
    const qsizetype colon = host.lastIndexOf(u':');
    if (colon > 0 && !host.endsWith(u']')) {
        bool ok = false;
        const uint port = host.mid(colon + 1).toUInt(&ok);
        if (!ok || port == 0 || port > 65535)
            return std::nullopt;
        ep.port = quint16(port);
        host = host.left(colon);
    }
    if (host.startsWith(u'[') && host.endsWith(u']'))
        host = host.mid(1, host.size() - 2);
    ep.host = host;
    return ep;
}

} // namespace

BrokerSettings BrokerSettings::fromConfig(const config::Node &broker, const QString &defaultUser)
{
    BrokerSettings s;
    if (!broker.isDefined()) {
        broker.error(u"required section is missing"_s);
        return s;
    }
    broker.allowKeys({"hosts", "vhost", "user", "token_file", "tls", "heartbeat",
                      "connect_timeout", "rpc_timeout", "reconnect_min", "reconnect_max",
                      "connection_name"});
    const QStringList hosts = broker.stringList(u"hosts"_s);
    if (hosts.isEmpty())
        broker.child(u"hosts"_s).error(u"at least one broker address (host:port) is required"_s);
    for (const QString &h : hosts) {
        if (auto ep = parseEndpoint(h))
            s.endpoints.append(*ep);
        else
            broker.child(u"hosts"_s).error(u"'%1' is not host or host:port"_s.arg(h));
    }
    s.vhost = broker.string(u"vhost"_s, s.vhost);
    s.user = broker.string(u"user"_s);
    s.tokenFile = broker.string(u"token_file"_s);
    s.connectionName = broker.string(u"connection_name"_s);
    s.heartbeat = broker.duration(u"heartbeat"_s, s.heartbeat);
    s.connectTimeout = broker.duration(u"connect_timeout"_s,
                                       std::chrono::duration_cast<std::chrono::seconds>(s.connectTimeout));
    s.rpcTimeout = broker.duration(u"rpc_timeout"_s,
                                   std::chrono::duration_cast<std::chrono::seconds>(s.rpcTimeout));
    s.reconnectMax = broker.duration(u"reconnect_max"_s,
                                     std::chrono::duration_cast<std::chrono::seconds>(s.reconnectMax));

    const config::Node tls = broker.child(u"tls"_s);
    if (tls.isDefined()) {
        tls.allowKeys({"ca_file", "cert_file", "key_file", "insecure_skip_verify"});
        s.caFile = tls.string(u"ca_file"_s);
        s.certFile = tls.string(u"cert_file"_s);
        s.keyFile = tls.string(u"key_file"_s);
        const bool insecure = tls.boolean(u"insecure_skip_verify"_s, false);
        s.verifyPeer = !insecure;
        s.verifyHostname = !insecure;
    }
    if (s.caFile.isEmpty() && s.verifyPeer)
        broker.child(u"tls"_s).child(u"ca_file"_s).error(
            u"a CA certificate is required to verify the broker"_s);
    if (s.certFile.isEmpty() != s.keyFile.isEmpty())
        broker.child(u"tls"_s).error(u"cert_file and key_file go together"_s);
    if (s.user.isEmpty() && s.certFile.isEmpty())
        s.user = defaultUser;
    if (s.user.isEmpty() && s.certFile.isEmpty())
        broker.child(u"user"_s).error(u"a user (with token_file) or a client certificate is required"_s);
    if (!s.user.isEmpty() && s.tokenFile.isEmpty() && s.certFile.isEmpty())
        broker.child(u"token_file"_s).error(u"user '%1' needs a token_file"_s.arg(s.user));
    return s;
}

Result BrokerSettings::validate() const
{
    if (endpoints.isEmpty())
        return unexpected(ErrorCode::Config, u"no broker address configured"_s);
    if (!verifyPeer || !verifyHostname)
        qCWarning(lcAmqp).noquote()
            << "TLS VERIFICATION IS DISABLED (insecure_skip_verify): anyone on the path can"
               " impersonate the broker. Never use this outside a development machine.";
    auto readable = [](const QString &what, const QString &path) -> Result {
        if (path.isEmpty())
            return {};
        const QFileInfo fi(path);
        if (!fi.exists())
            return unexpected(ErrorCode::Config, u"%1 %2 does not exist"_s.arg(what, path));
        if (!fi.isReadable())
            return unexpected(ErrorCode::Config, u"%1 %2 is not readable"_s.arg(what, path));
        return {};
    };
    if (verifyPeer && caFile.isEmpty())
        return unexpected(ErrorCode::Config, u"tls.ca_file is required to verify the broker"_s);
    if (auto r = readable(u"CA file"_s, caFile); !r)
        return r;
    if (auto r = readable(u"client certificate"_s, certFile); !r)
        return r;
    if (!keyFile.isEmpty())
        if (auto r = checkSecretFileMode(keyFile); !r)
            return r.error().wrapped(u"client key"_s);
    if (!tokenFile.isEmpty())
        if (auto r = checkSecretFileMode(tokenFile); !r)
            return r.error().wrapped(u"broker token"_s);
    if (!usesExternalAuth() && user.isEmpty())
        return unexpected(ErrorCode::Config, u"no broker user configured"_s);
    return {};
}

} // namespace sparky
