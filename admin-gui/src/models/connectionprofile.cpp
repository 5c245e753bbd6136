#include "connectionprofile.h"

#include <QFileInfo>
#include <QRegularExpression>

namespace sparky::admin {

using namespace Qt::StringLiterals;

bool ConnectionProfile::isValidName(const QString &name)
{
    static const QRegularExpression re(u"^[A-Za-z0-9._-]{1,64}$"_s);
    return re.match(name).hasMatch();
}

Expected<QList<BrokerEndpoint>> ConnectionProfile::endpoints() const
{
    QList<BrokerEndpoint> out;
    for (qsizetype i = 0; i < hosts.size(); ++i) {
        const QString h = hosts.at(i).trimmed();
        BrokerEndpoint e;
        const qsizetype colon = h.lastIndexOf(u':');
        if (colon > 0 && !h.endsWith(u']')) {
            bool ok = false;
            const uint port = h.mid(colon + 1).toUInt(&ok);
            if (!ok || port == 0 || port > 65535)
                return unexpected(ErrorCode::Validation,
                    u"hosts[%1]: '%2' has no valid port (1-65535)"_s.arg(i).arg(h));
            e.host = h.left(colon);
            e.port = quint16(port);
        } else {
            e.host = h;
        }
        if (e.host.startsWith(u'[') && e.host.endsWith(u']'))
            e.host = e.host.mid(1, e.host.size() - 2);
        if (e.host.isEmpty() || e.host.contains(u' '))
            return unexpected(ErrorCode::Validation,
                u"hosts[%1]: '%2' is not a host name or address"_s.arg(i).arg(h));
        out.append(e);
    }
    if (out.isEmpty())
        return unexpected(ErrorCode::Validation, u"hosts: at least one broker address is needed"_s);
    return out;
}

Result ConnectionProfile::validate() const
{
    QStringList problems;
    if (!isValidName(name))
        problems << u"name: '%1' must be 1-64 letters, digits, '.', '_' or '-'"_s.arg(name);
    if (auto e = endpoints(); !e)
        problems << e.error().message;
    if (vhost.trimmed().isEmpty())
        problems << u"vhost: must not be empty"_s;
    if (user.isEmpty() && certFile.isEmpty())
        problems << u"user: a broker user (with a token) or a client certificate is needed"_s;
    if (caFile.isEmpty())
        problems << u"ca_file: the CA certificate is needed to verify the broker"_s;
    else if (!QFileInfo(caFile).isReadable())
        problems << u"ca_file: %1 does not exist or is not readable"_s.arg(caFile);
    if (certFile.isEmpty() != keyFile.isEmpty())
        problems
            << u"cert_file/key_file: a client certificate needs its key, and the other way round"_s;
    else if (!certFile.isEmpty() && !QFileInfo(certFile).isReadable())
        problems << u"cert_file: %1 does not exist or is not readable"_s.arg(certFile);
    if (!problems.isEmpty())
        return unexpected(ErrorCode::Validation, problems.join(u'\n'));
    return {};
}

Expected<BrokerSettings> ConnectionProfile::brokerSettings(const QByteArray &token) const
{
    if (auto ok = validate(); !ok)
        return ok.error();
    if (needsToken() && token.isEmpty())
        return unexpected(
            ErrorCode::Auth, u"profile '%1': no token for user '%2'"_s.arg(name, user));
    BrokerSettings s;
    s.endpoints = *endpoints();
    s.vhost = vhost.trimmed();
    s.user = user;
    s.token = token;
    s.caFile = caFile;
    s.certFile = certFile;
    s.keyFile = keyFile;
    s.heartbeat = std::chrono::seconds(30);
    s.reconnectMax = std::chrono::milliseconds(10000);
    s.connectionName = u"sparky-admin (%1)"_s.arg(name);
    return s;
}

} // namespace sparky::admin
