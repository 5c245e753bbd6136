#include "rpcreply.h"

namespace sparky::admin {

using namespace Qt::StringLiterals;

QString RpcReply::headline(const QString &code)
{
    if (code == u"forbidden")
        return u"Not allowed"_s;
    if (code == u"unauthenticated")
        return u"Not authenticated"_s;
    if (code == u"node_offline")
        return u"Node offline"_s;
    if (code == u"timeout")
        return u"Timed out (no answer from the orchestrator; is it running?)"_s;
    if (code == u"agent_timeout")
        return u"The agent did not answer in time"_s;
    if (code == u"agent_rejected")
        return u"Refused by the agent"_s;
    if (code == u"command_failed")
        return u"Command failed"_s;
    if (code == u"command_expired")
        return u"Command expired"_s;
    if (code == u"transport")
        return u"Not sent (broker connection)"_s;
    if (code == u"bad_reply")
        return u"Unreadable reply"_s;
    if (code == u"invalid_params")
        return u"Invalid request"_s;
    if (code == u"bad_request")
        return u"Bad request"_s;
    if (code == u"not_found")
        return u"Not found"_s;
    if (code == u"unavailable")
        return u"Unavailable"_s;
    if (code == u"unknown_method")
        return u"Not supported by this orchestrator"_s;
    if (code == u"internal")
        return u"Orchestrator error"_s;
    return code.isEmpty() ? u"Error"_s : code;
}

QString RpcReply::describe() const
{
    if (ok)
        return {};
    QString text = method + u": "_s + headline(errorCode);
    if (!errorMessage.isEmpty())
        text += u" — "_s + errorMessage;
    return text;
}

RpcReply RpcReply::success(const QString &method, const QJsonObject &result)
{
    RpcReply r;
    r.method = method;
    r.ok = true;
    r.result = result;
    return r;
}

RpcReply RpcReply::failure(const QString &method, const QString &code, const QString &message)
{
    RpcReply r;
    r.method = method;
    r.errorCode = code;
    r.errorMessage = message;
    r.errorData = QJsonObject { { u"code"_s, code }, { u"message"_s, message } };
    return r;
}

} // namespace sparky::admin
