#include "commandfollower.h"

#include "adminlogging.h"
#include "displayformat.h"
#include "statusstyle.h"

#include <QJsonArray>
#include <algorithm>

namespace sparky::admin {

using namespace Qt::StringLiterals;

CommandFollower::CommandFollower(RpcInvoker *invoker, QObject *parent)
    : QObject(parent)
    , m_invoker(invoker)
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &CommandFollower::poll);
}

CommandFollower::~CommandFollower() = default;

bool CommandFollower::isActive() const
{
    return m_phase == Phase::Starting || m_phase == Phase::Queued || m_phase == Phase::Running;
}

void CommandFollower::reset()
{
    ++m_generation;
    m_timer.stop();
    m_method.clear();
    m_node.clear();
    m_commandId.clear();
    m_runId.clear();
    m_command = {};
    m_run = {};
    m_warning.clear();
    m_expectedBytes = 0;
    m_cancelRequested = false;
    setPhase(Phase::Idle, {});
}

void CommandFollower::setPhase(Phase phase, const QString &text)
{
    m_phase = phase;
    m_text = text;
    Q_EMIT changed();
}

void CommandFollower::finish(bool ok, const QString &text)
{
    m_timer.stop();
    setPhase(ok ? Phase::Finished : Phase::Failed, text);
    qCInfo(lcAdmin).noquote() << "command" << m_commandId << "of" << m_method << ":" << text;
    Q_EMIT finished(ok, text);
}

void CommandFollower::start(const QString &method, const QJsonObject &params)
{
    reset();
    if (!m_invoker)
        return;
    m_method = method;
    m_node = params.value("node"_L1).toString();
    const quint64 generation = m_generation;
    setPhase(Phase::Starting, u"asking the orchestrator to issue %1 …"_s.arg(method));
    if (method == u"backup.start")
        lookUpExpectedBytes(m_node, params.value("job"_L1).toString());
    m_invoker->invoke(method, params, this, [this, generation](const RpcReply &r) {
        if (generation != m_generation)
            return;
        if (!r.ok) {
            finish(false, r.describe());
            return;
        }
        QString id = r.result.value("command_id"_L1).toString();
        if (id.isEmpty())
            id = r.result.value("command"_L1).toObject().value("id"_L1).toString();
        if (id.isEmpty()) {
            finish(false, u"%1: the orchestrator's answer names no command"_s.arg(m_method));
            return;
        }
        m_warning = r.result.value("warning"_L1).toString();
        m_commandId = id;
        m_command = r.result.value("command"_L1).toObject();
        setPhase(Phase::Queued,
            u"command %1 issued; waiting for node '%2' to take it"_s.arg(id, m_node));
        m_timer.start(m_interval);
    });
}

void CommandFollower::follow(const QString &node, const QString &commandId)
{
    reset();
    m_node = node;
    m_commandId = commandId;
    setPhase(Phase::Queued, u"following command %1"_s.arg(commandId));
    poll();
}

void CommandFollower::lookUpExpectedBytes(const QString &node, const QString &job)
{
    const quint64 generation = m_generation;
    m_invoker->invoke(u"runs.query"_s,
        { { u"node"_s, node }, { u"job"_s, job }, { u"kind"_s, u"backup"_s }, { u"limit"_s, 10 } },
        this, [this, generation](const RpcReply &r) {
            if (generation != m_generation || !r.ok)
                return; // only an estimate
            for (const QJsonValue &v : r.result.value("runs"_L1).toArray()) {
                const QJsonObject run = v.toObject();
                const QString s = run.value("status"_L1).toString();
                if ((s == u"success" || s == u"warning")
                    && run.value("original_size"_L1).isDouble()) {
                    m_expectedBytes = run.value("original_size"_L1).toInteger();
                    Q_EMIT changed();
                    return;
                }
            }
        });
}

void CommandFollower::poll()
{
    if (!m_invoker || m_commandId.isEmpty())
        return;
    const quint64 generation = m_generation;
    m_invoker->invoke(
        u"command.get"_s, { { u"command_id"_s, m_commandId } }, this,
        [this, generation](const RpcReply &r) {
            if (generation != m_generation || !isActive())
                return;
            if (!r.ok) {
                if (r.errorCode == u"not_found" || r.errorCode == u"forbidden"
                    || r.errorCode == u"unknown_method") {
                    finish(false, r.describe());
                    return;
                }
                Q_EMIT errorOccurred(r.describe()); // transient: try again
                m_timer.start(m_interval);
                return;
            }
            onCommand(r.result);
        },
        std::chrono::seconds(15));
}

void CommandFollower::onCommand(const QJsonObject &c)
{
    m_command = c;
    if (m_node.isEmpty())
        m_node = c.value("node"_L1).toString();
    const QString state = c.value("state"_L1).toString();
    if (c.value("run_id"_L1).isString())
        m_runId = c.value("run_id"_L1).toString();
    if (c.value("run"_L1).isObject())
        m_run = c.value("run"_L1).toObject();
    const QString runStatus = m_run.value("status"_L1).toString();
    const QString error = c.value("error"_L1).toString();

    if (!m_run.isEmpty() && !runStatus.isEmpty() && runStatus != u"running") {
        const bool ok = runStatus == u"success" || runStatus == u"warning";
        QString text = u"%1 run %2 on '%3' finished: %4"_s.arg(
            m_run.value("kind"_L1).toString(), m_runId, m_node, StatusStyle::label(runStatus));
        if (m_run.value("duration_seconds"_L1).isDouble())
            text += u" after "_s
                + DisplayFormat::duration(m_run.value("duration_seconds"_L1).toDouble());
        const QString runError = m_run.value("error"_L1).toString();
        if (!runError.isEmpty())
            text += u" — "_s + runError;
        finish(ok, text);
        return;
    }
    if (state == u"failed" || state == u"rejected" || state == u"expired") {
        finish(false,
            u"command %1 %2: %3"_s.arg(
                m_commandId, state, error.isEmpty() ? u"no reason given"_s : error));
        return;
    }
    if (state == u"succeeded" && m_runId.isEmpty()) {
        finish(true, u"command %1 succeeded"_s.arg(m_commandId));
        return;
    }
    if (!m_runId.isEmpty()) {
        const QJsonObject p = progress();
        QString text = u"run %1 is running"_s.arg(m_runId);
        if (!p.isEmpty()) {
            text += u": %1, %2 files"_s
                        .arg(DisplayFormat::bytes(p.value("original_size"_L1).toInteger()))
                        .arg(p.value("files"_L1).toInteger());
            if (p.value("step"_L1).isString())
                text += u" (step %1)"_s.arg(p.value("step"_L1).toString());
            if (p.value("current_path"_L1).isString())
                text += u" — "_s + p.value("current_path"_L1).toString();
        }
        setPhase(Phase::Running, text);
    } else {
        setPhase(Phase::Queued,
            u"command %1 is %2; waiting for node '%3' to start it"_s.arg(
                m_commandId, state, m_node));
    }
    m_timer.start(m_interval);
}

qint64 CommandFollower::bytesDone() const
{
    return progress().value("original_size"_L1).toInteger();
}

int CommandFollower::percent() const
{
    if (m_phase == Phase::Finished)
        return 100;
    if (m_phase != Phase::Running || m_expectedBytes <= 0)
        return -1;
    return int(std::clamp<qint64>(bytesDone() * 100 / m_expectedBytes, 0, 99));
}

void CommandFollower::cancel()
{
    if (!isActive() || !m_invoker)
        return;
    if (m_runId.isEmpty()) {
        Q_EMIT errorOccurred(
            u"cannot cancel yet: node '%1' has not started the run (command %2 is %3)"_s.arg(
                m_node, m_commandId, commandState().isEmpty() ? u"pending"_s : commandState()));
        return;
    }
    m_cancelRequested = true;
    Q_EMIT changed();
    m_invoker->invoke(u"backup.cancel"_s, { { u"node"_s, m_node }, { u"run_id"_s, m_runId } }, this,
        [this](const RpcReply &r) {
            if (!r.ok) {
                m_cancelRequested = false;
                Q_EMIT errorOccurred(r.describe());
                Q_EMIT changed();
            }
        });
}

} // namespace sparky::admin
