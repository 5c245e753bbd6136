#include "rpccall.h"

namespace sparky {

using namespace Qt::StringLiterals;

RpcCall::RpcCall(QString method, QJsonObject params, QString correlationId,
    std::chrono::milliseconds timeout, QObject *parent)
    : QObject(parent)
    , m_method(std::move(method))
    , m_params(std::move(params))
    , m_correlationId(std::move(correlationId))
{
    m_clock.start();
    m_timeout.setSingleShot(true);
    connect(&m_timeout, &QTimer::timeout, this, [this, timeout] {
        finishError(
            QString(kTimeout), u"no reply to %1 within %2 ms"_s.arg(m_method).arg(timeout.count()));
    });
    m_timeout.start(timeout);
}

RpcCall::~RpcCall() = default;

void RpcCall::finishOk(const QJsonObject &result)
{
    if (m_finished)
        return;
    m_ok = true;
    m_result = result;
    emitFinished();
}

void RpcCall::finishError(const QString &code, const QString &message, const QJsonObject &data)
{
    if (m_finished)
        return;
    m_ok = false;
    m_errorCode = code;
    m_errorString = message;
    m_errorData = data;
    if (m_errorData.isEmpty())
        m_errorData = QJsonObject { { u"code"_s, code }, { u"message"_s, message } };
    emitFinished();
}

void RpcCall::emitFinished()
{
    m_finished = true;
    m_elapsed = m_clock.elapsed();
    m_timeout.stop();
    Q_EMIT finished(this);
    if (m_autoDelete)
        deleteLater();
}

} // namespace sparky
