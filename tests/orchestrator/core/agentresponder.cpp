#include "agentresponder.h"

#include "eventfactory.h"

#include <QSignalSpy>
#include <QTest>
#include <QTimer>

namespace sparky::test {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;
using State = proto::CommandUpdate::State;

AgentResponder::AgentResponder(BrokerSettings node, VerifyKey orchestratorKey, QObject *parent)
    : QObject(parent)
    , m_node(node.user)
    , m_key(std::move(orchestratorKey))
    , m_client(std::make_unique<AmqpClient>(std::move(node)))
{
    connect(m_client.get(), &AmqpClient::delivered, this, &AgentResponder::onDelivered);
}

AgentResponder::~AgentResponder()
{
    stop();
}

Result AgentResponder::start()
{
    QSignalSpy up(m_client.get(), &AmqpClient::connected);
    m_client->consume(ConsumerOptions { proto::agentQueue(m_node), 10, false });
    m_client->start();
    if (!up.wait(15000) && up.isEmpty())
        return unexpected(ErrorCode::Network, u"responder %1 could not connect"_s.arg(m_node));
    return {};
}

void AgentResponder::stop()
{
    if (m_client)
        m_client->stop();
}

void AgentResponder::script(const QString &commandType, const Reply &reply)
{
    m_script.insert(commandType, reply);
}

Result AgentResponder::announce(const QDateTime &at)
{
    const QDateTime ts = at.isValid() ? at : QDateTime::currentDateTimeUtc();
    proto::JobInfo job;
    job.name = u"home"_s;
    job.repository = u"ssh://borg@repo-01/./"_s + m_node;
    job.schedule = u"0 2 * * *"_s;
    proto::AgentHeartbeat hb;
    hb.version = u"0.1.0"_s;
    hb.configDigest = u"sha256:abc"_s;
    hb.uptimeSeconds = 60;
    Envelope heartbeat = Envelope::make(QString(proto::type::AgentHeartbeat), m_node, hb.toJson());
    heartbeat.ts = ts;
    int confirmed = 0;
    QList<Error> failures;
    QObject ctx;
    connect(m_client.get(), &AmqpClient::confirmed, &ctx,
        [&](const QList<quint64> &t) { confirmed += int(t.size()); });
    connect(m_client.get(), &AmqpClient::publishFailed, &ctx,
        [&](quint64, const Error &e) { failures.append(e); });
    m_client->publish(eventMessage(helloEnvelope(m_node, { job }, ts), m_node));
    m_client->publish(eventMessage(heartbeat, m_node));
    if (!QTest::qWaitFor([&] { return confirmed >= 2 || !failures.isEmpty(); }, 15000))
        return unexpected(ErrorCode::Timeout, u"no confirm for the announcement"_s);
    if (!failures.isEmpty())
        return failures.first();
    return {};
}

void AgentResponder::onDelivered(const Delivery &d)
{
    if (d.queue != proto::agentQueue(m_node))
        return;
    auto command = parseEnvelope(d.body);
    if (!command) {
        m_failures << u"not an envelope: "_s + command.error().toString();
        m_client->reject(d, false);
        return;
    }
    CommandCheck check;
    check.node = m_node;
    check.now = QDateTime::currentDateTimeUtc();
    if (auto ok = verifyCommand(*command, m_key, check); !ok) {
        m_failures << command->id + u": "_s + ok.error().toString();
        m_client->reject(d, false);
        return;
    }
    m_client->ack(d); // at once, as the agent does
    m_received.append(*command);
    Q_EMIT commandReceived(*command);
    answer(*command, m_script.value(command->type));
}

void AgentResponder::publish(const Envelope &event)
{
    ++m_published;
    m_client->publish(eventMessage(event, m_node));
}

void AgentResponder::update(const Envelope &command, State state, const QString &error,
    const QString &runId, const QJsonObject &result)
{
    proto::CommandUpdate u;
    u.commandId = command.id;
    u.commandType = command.type;
    u.state = state;
    u.error = error;
    u.runId = runId;
    u.result = result;
    publish(Envelope::make(QString(proto::type::CommandUpdate), m_node, u.toJson()));
}

void AgentResponder::answer(const Envelope &c, const Reply &r)
{
    using Kind = Reply::Kind;
    switch (r.kind) {
    case Kind::Ignore:
        return;
    case Kind::Succeed:
        update(c, State::Succeeded, {}, {}, r.result);
        return;
    case Kind::Reject:
        update(c, State::Rejected, r.error);
        return;
    case Kind::Fail:
        update(c, State::Failed, r.error);
        return;
    case Kind::Run:
        break;
    }
    // A run, as the daemon reports one: running (with the run id), run.started, progress,
    // run.finished, then the command's final state.
    const QString runId = u"r-%1-%2"_s.arg(m_node).arg(++m_runs);
    const QString job = c.body.value("job"_L1).toString();
    const QDateTime t0 = QDateTime::currentDateTimeUtc();
    update(c, State::Running, {}, runId);
    proto::RunStarted s;
    s.runId = runId;
    s.job = job;
    s.kind = r.runKind;
    s.repository = u"ssh://borg@repo-01/./"_s + m_node;
    s.trigger = u"command"_s;
    s.commandId = c.id;
    s.startedAt = t0;
    publish(Envelope::make(QString(proto::type::RunStarted), m_node, s.toJson()));
    int at = 0;
    for (int i = 0; i < r.progressEvents; ++i) {
        at += int(r.step.count());
        QTimer::singleShot(at, this, [this, runId, job, i] {
            proto::RunProgress p;
            p.runId = runId;
            p.job = job;
            p.step = u"extract"_s;
            p.files = 10 * (i + 1);
            p.originalSize = 4096 * (i + 1);
            p.currentPath = u"srv/www/file-%1.html"_s.arg(i);
            publish(Envelope::make(QString(proto::type::RunProgress), m_node, p.toJson()));
        });
    }
    at += int(r.step.count());
    QTimer::singleShot(at, this, [this, c, r, runId, job, s, t0] {
        proto::RunFinished f;
        f.runId = runId;
        f.job = job;
        f.kind = r.runKind;
        f.repository = s.repository;
        f.trigger = s.trigger;
        f.commandId = c.id;
        f.status = r.runStatus;
        f.startedAt = t0;
        f.finishedAt = QDateTime::currentDateTimeUtc();
        proto::StepResult step;
        step.name = u"extract"_s;
        step.status = r.runStatus;
        step.startedAt = t0;
        step.finishedAt = f.finishedAt;
        step.exitCode = r.runStatus == proto::Status::Success ? 0
            : r.runStatus == proto::Status::Warning           ? 1
                                                              : 2;
        const bool good
            = r.runStatus == proto::Status::Success || r.runStatus == proto::Status::Warning;
        if (!good) {
            step.error = r.error;
            f.failedStep = step.name;
            f.error = r.error;
        }
        f.steps = { step };
        f.details = r.details;
        publish(Envelope::make(QString(proto::type::RunFinished), m_node, f.toJson()));
        update(c, good ? State::Succeeded : State::Failed, good ? QString() : r.error, runId,
            QJsonObject { { u"status"_s, proto::statusName(r.runStatus) } });
    });
}

} // namespace sparky::test
