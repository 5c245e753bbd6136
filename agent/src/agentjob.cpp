#include "agentjob.h"

#include <QTimer>

namespace sparky::agent {

using namespace Qt::StringLiterals;

AgentJob::AgentJob(QString type, QObject *parent)
    : QObject(parent)
    , m_type(std::move(type))
{ }

AgentJob::~AgentJob() = default;

void AgentJob::start()
{
    if (m_started)
        return;
    m_started = true;
    // Never run inside the caller's start(): a synchronous failure is still a signal later.
    QTimer::singleShot(0, this, [this] {
        if (!m_done)
            run();
    });
}

void AgentJob::cancel(const QString &reason)
{
    if (m_done)
        return;
    abort(reason.isEmpty() ? u"cancelled"_s : reason);
}

void AgentJob::abort(const QString &reason)
{
    fail(Error(ErrorCode::Cancelled, reason));
}

void AgentJob::succeed(QJsonObject result)
{
    if (m_done)
        return;
    m_done = true;
    m_result = std::move(result);
    emitLater();
}

void AgentJob::fail(Error error)
{
    if (m_done)
        return;
    m_done = true;
    m_error = std::move(error);
    emitLater();
}

void AgentJob::emitLater()
{
    QTimer::singleShot(0, this, [this] {
        if (m_finished)
            return;
        m_finished = true;
        Q_EMIT finished(this);
    });
}

} // namespace sparky::agent
