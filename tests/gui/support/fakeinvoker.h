#pragma once

// An RpcInvoker for the headless model tests: answers from a script instead of the broker.
// Each method gets a handler (params → RpcReply); a method without one fails with
// "unknown_method", as the orchestrator answers. The answer comes later on the event loop —
// never inside invoke(), as RpcInvoker promises — or, while holding, only when the test
// calls release(), so tests can interleave replies with new queries. Every call is recorded.
//
// The real path (AdminSession over the broker to a real orchestrator) is tested by the
// integration suites; this fake only stands in for it where a model's own logic is tested.
//
// Threading: the test's main thread.

#include "rpcinvoker.h"

#include <QList>
#include <QPointer>
#include <functional>

namespace sparky::admin::test {

class FakeInvoker final : public RpcInvoker
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FakeInvoker)

public:
    using Handler = std::function<RpcReply(const QJsonObject &params)>;
    struct Call
    {
        QString method;
        QJsonObject params;
        std::chrono::milliseconds timeout { 0 };
    };

    explicit FakeInvoker(QObject *parent = nullptr);
    ~FakeInvoker() override;

    void setHandler(const QString &method, Handler handler);
    // Shorthands: always this result / always this error.
    void setResult(const QString &method, const QJsonObject &result);
    void setError(const QString &method, const QString &code, const QString &message);

    // While holding, replies wait for release(); release() delivers them in call order.
    void setHolding(bool holding) { m_holding = holding; }
    int release();
    int pendingReplies() const { return int(m_held.size()); }

    QList<Call> calls() const { return m_calls; }
    QList<Call> callsTo(const QString &method) const;
    int callCount(const QString &method) const { return int(callsTo(method).size()); }
    void clearCalls() { m_calls.clear(); }

    void invoke(const QString &method, const QJsonObject &params, QObject *context, Callback done,
        std::chrono::milliseconds timeout = kDefaultTimeout) override;

private:
    struct Held
    {
        QPointer<QObject> context;
        Callback done;
        RpcReply reply;
    };
    void deliver(const Held &held);

    QHash<QString, Handler> m_handlers;
    QList<Call> m_calls;
    QList<Held> m_held;
    bool m_holding = false;
};

} // namespace sparky::admin::test
