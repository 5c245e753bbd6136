#include "fakeinvoker.h"

#include <QTimer>

namespace sparky::admin::test {

using namespace Qt::StringLiterals;

FakeInvoker::FakeInvoker(QObject *parent)
    : RpcInvoker(parent)
{ }

FakeInvoker::~FakeInvoker() = default;

void FakeInvoker::setHandler(const QString &method, Handler handler)
{
    m_handlers.insert(method, std::move(handler));
}

void FakeInvoker::setResult(const QString &method, const QJsonObject &result)
{
    setHandler(method,
        [method, result](const QJsonObject &) { return RpcReply::success(method, result); });
}

void FakeInvoker::setError(const QString &method, const QString &code, const QString &message)
{
    setHandler(method, [method, code, message](const QJsonObject &) {
        return RpcReply::failure(method, code, message);
    });
}

QList<FakeInvoker::Call> FakeInvoker::callsTo(const QString &method) const
{
    QList<Call> out;
    for (const Call &c : m_calls)
        if (c.method == method)
            out.append(c);
    return out;
}

void FakeInvoker::invoke(const QString &method, const QJsonObject &params, QObject *context,
    Callback done, std::chrono::milliseconds timeout)
{
    m_calls.append(Call { method, params, timeout });
    RpcReply reply = m_handlers.contains(method)
        ? m_handlers.value(method)(params)
        : RpcReply::failure(method, u"unknown_method"_s,
            u"unknown method '%1' (the test scripted no answer)"_s.arg(method));
    reply.method = method;
    reply.params = params;
    Held held { QPointer<QObject>(context), std::move(done), reply };
    if (m_holding) {
        m_held.append(std::move(held));
        return;
    }
    QTimer::singleShot(0, this, [this, held = std::move(held)] { deliver(held); });
}

int FakeInvoker::release()
{
    const QList<Held> held = std::exchange(m_held, {});
    for (const Held &h : held)
        deliver(h);
    return int(held.size());
}

void FakeInvoker::deliver(const Held &held)
{
    if (held.context)
        held.done(held.reply);
    Q_EMIT callFinished(held.reply);
}

} // namespace sparky::admin::test
