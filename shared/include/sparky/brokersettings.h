#pragma once

// How a sparky process reaches RabbitMQ. Parsed from the `broker:` section of any sparky
// YAML config (agent, orchestrator, CLI):
//
//   broker:
//     hosts: [mq1.example.net:5671, mq2.example.net:5671]   # tried in order, then round robin
//     vhost: sparky
//     user: web-01                      # a node's user is its node id
//     token_file: /etc/sparky/token     # SPARKY_API_TOKEN, mode 0600
//     tls:
//       ca_file: /etc/sparky/ca.pem
//       cert_file: /etc/sparky/node.pem # optional client certificate (SASL EXTERNAL)
//       key_file: /etc/sparky/node.key
//       insecure_skip_verify: false     # dev only; logged loudly when true
//     heartbeat: 30s

#include "sparky/config.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <chrono>

namespace sparky {

struct BrokerEndpoint
{
    QString host;
    quint16 port = 5671;
    QString toString() const { return host + u':' + QString::number(port); }
};

struct BrokerSettings
{
    QList<BrokerEndpoint> endpoints;
    QString vhost = QStringLiteral("sparky");
    QString user;
    QString tokenFile;   // path; the secret itself is read at connect time
    // The secret itself, for callers that hold it in memory instead of a file (the admin GUI
    // reads it from the desktop keychain). Used instead of tokenFile when set; never logged.
    QByteArray token;
    QString caFile;
    QString certFile;    // with keyFile and no token: SASL EXTERNAL
    QString keyFile;
    bool verifyPeer = true;
    bool verifyHostname = true;
    std::chrono::seconds heartbeat{30};
    std::chrono::milliseconds connectTimeout{10000};
    std::chrono::milliseconds rpcTimeout{15000};   // rabbitmq-c's is infinite unless set
    std::chrono::milliseconds reconnectMin{250};
    std::chrono::milliseconds reconnectMax{30000};
    quint32 frameMax = 131072;
    QString connectionName; // shown in the management UI

    bool usesExternalAuth() const
    {
        return tokenFile.isEmpty() && token.isEmpty() && !certFile.isEmpty();
    }

    // Reads the `broker:` node; problems go to the node's error collector. `defaultUser` is
    // the user when the node names none and no client certificate is configured (an agent
    // logs in as its node id).
    static BrokerSettings fromConfig(const config::Node &broker, const QString &defaultUser = {});
    // Static checks (files exist and are safe, endpoints present); names what is wrong.
    Result validate() const;
};

} // namespace sparky
