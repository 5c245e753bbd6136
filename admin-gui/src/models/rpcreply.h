#pragma once

// The outcome of one RPC call as the console's models see it: the orchestrator's result, or
// its error (code and message, docs/protocol.md "Errors") — or a local one (timeout,
// transport, bad_reply). A plain value.

#include <QJsonObject>
#include <QString>

namespace sparky::admin {

struct RpcReply
{
    QString method;
    QJsonObject params;
    bool ok = false;
    QJsonObject result;
    QString errorCode; // empty when ok
    QString errorMessage;
    QJsonObject errorData; // the whole error object (command_id, node, last_seen …)

    // For the status bar: "backup.start: Not allowed — user 'alice' (role viewer) may not
    // call backup.start: it needs the operator role". Empty when ok.
    QString describe() const;
    // The short headline for a code: "Not allowed", "Node offline", "Timed out" …
    static QString headline(const QString &code);

    static RpcReply success(const QString &method, const QJsonObject &result);
    static RpcReply failure(const QString &method, const QString &code, const QString &message);
};

} // namespace sparky::admin
