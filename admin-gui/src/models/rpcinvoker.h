#pragma once

// The seam between the console's models and the orchestrator: a model asks for a method
// with params and gets an RpcReply later, on the GUI thread — never inside invoke(), so
// the GUI thread never blocks and callers need not be re-entrant. AdminSession implements
// it with one sparky::RpcCall job per call over the broker; tests implement it with replies
// from JSON fixtures.
//
// Threading: GUI thread. The reply is dropped if `context` is destroyed first.

#include "rpcreply.h"

#include <QObject>
#include <chrono>
#include <functional>

namespace sparky::admin {

class RpcInvoker : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RpcInvoker)

public:
    using Callback = std::function<void(const RpcReply &)>;
    static constexpr std::chrono::milliseconds kDefaultTimeout { 30000 };

    explicit RpcInvoker(QObject *parent = nullptr)
        : QObject(parent)
    { }
    ~RpcInvoker() override;

    virtual void invoke(const QString &method, const QJsonObject &params, QObject *context,
        Callback done, std::chrono::milliseconds timeout = kDefaultTimeout)
        = 0;

Q_SIGNALS:
    // Every finished call, after its callback ran (the main window shows the failures).
    void callFinished(const sparky::admin::RpcReply &reply);
};

} // namespace sparky::admin
