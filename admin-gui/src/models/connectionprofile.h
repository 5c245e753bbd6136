#pragma once

// One way to reach an orchestrator: which brokers, vhost, broker user, CA and optional
// client certificate. The token is NOT here: it lives in a SecretStore under secretKey().
// A plain value; ProfileStore persists it.

#include "sparky/brokersettings.h"
#include "sparky/error.h"

#include <QString>
#include <QStringList>

namespace sparky::admin {

struct ConnectionProfile
{
    QString name; // [A-Za-z0-9._-]{1,64}
    QStringList hosts; // "host" or "host:port" (5671 by default), tried in order
    QString vhost = QStringLiteral("sparky");
    QString user; // broker user (its role comes from the orchestrator's rpc.roles)
    QString caFile; // PEM; the broker's certificate is always verified
    QString certFile; // optional client certificate (SASL EXTERNAL when there is no user)
    QString keyFile;

    // Every problem at once, one per line, naming the field.
    Result validate() const;
    // Whether a token is needed (a user name; a client certificate alone needs none).
    bool needsToken() const { return !user.isEmpty(); }
    // The keychain entry of this profile's token.
    QString secretKey() const { return QStringLiteral("profile:") + name; }
    Expected<QList<BrokerEndpoint>> endpoints() const;
    // What AmqpClient needs; `token` is kept in memory only.
    Expected<BrokerSettings> brokerSettings(const QByteArray &token) const;

    bool operator==(const ConnectionProfile &) const = default;

    static bool isValidName(const QString &name);
};

} // namespace sparky::admin
