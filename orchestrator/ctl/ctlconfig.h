#pragma once

// Configuration of sparky-admin-cli (docs/operations.md "The command line"):
//
//   broker:                          # sparky/brokersettings.h; a user with an RPC role,
//     hosts: [mq1.example.net:5671]  # e.g. sparky-operator (write sparky.rpc, reply-to)
//     vhost: sparky
//     user: sparky-operator
//     token_file: ~/.config/sparky/operator.token   # 0600, read at connect time
//     tls: {ca_file: /etc/sparky/ca.pem}
//   rpc:
//     timeout: 30s                   # per call; also how long the agent may take to answer
//
// Found at -c FILE, else $SPARKY_CTL_CONFIG, else $XDG_CONFIG_HOME/sparky/ctl.yaml
// (~/.config/sparky/ctl.yaml), else /etc/sparky/ctl.yaml. Every problem is reported at once
// with file:line:col and the field. Plain value type.

#include "sparky/brokersettings.h"
#include "sparky/error.h"

#include <QString>
#include <QStringList>
#include <chrono>

namespace sparky::ctl {

struct CtlConfig
{
    QString file;
    BrokerSettings broker;
    std::chrono::milliseconds timeout { 30000 };

    // The file to read: `explicitPath`, or the first that exists of defaultPaths().
    static Expected<QString> locate(const QString &explicitPath);
    static QStringList defaultPaths();
    static Expected<CtlConfig> load(const QString &path);
    static Expected<CtlConfig> parse(const QByteArray &yaml, const QString &name);
};

} // namespace sparky::ctl
