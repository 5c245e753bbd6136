#include "orchestratorside.h"

#include <QSignalSpy>
#include <QTest>

namespace sparky::agent::test {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;
using CmdState = proto::CommandUpdate::State;

OrchestratorSide::OrchestratorSide(
    std::shared_ptr<sparky::test::TestBroker> broker, QString node, QObject *parent)
    : QObject(parent)
    , m_broker(std::move(broker))
    , m_node(std::move(node))
{ }

OrchestratorSide::~OrchestratorSide()
{
    stop();
}

Result OrchestratorSide::start()
{
    m_eventsIn = std::make_unique<AmqpClient>(m_broker->orchestrator());
    connect(m_eventsIn.get(), &AmqpClient::delivered, this, [this](const Delivery &d) {
        m_eventsIn->ack(d);
        if (auto e = parseEnvelope(d.body); e && e->node == m_node && d.properties.userId == m_node)
            m_events << *e;
    });
    m_eventsIn->consume(ConsumerOptions { QString(proto::kEventsQueue), 200 });
    m_commandsOut = std::make_unique<AmqpClient>(m_broker->orchestrator());
    QSignalSpy eventsUp(m_eventsIn.get(), &AmqpClient::connected);
    QSignalSpy commandsUp(m_commandsOut.get(), &AmqpClient::connected);
    m_eventsIn->start();
    m_commandsOut->start();
    if (!QTest::qWaitFor([&] { return eventsUp.count() > 0 && commandsUp.count() > 0; }, 20000))
        return unexpected(ErrorCode::Timeout, u"the orchestrator's test clients did not connect"_s);
    return {};
}

void OrchestratorSide::stop()
{
    if (m_commandsOut)
        m_commandsOut->stop();
    if (m_eventsIn)
        m_eventsIn->stop();
}

Envelope OrchestratorSide::signedCommand(const QString &type, const QJsonObject &body,
    const SigningKey &key, qint64 issuedAgo, std::chrono::seconds lifetime,
    const QString &target) const
{
    Envelope e = Envelope::make(type, target.isEmpty() ? m_node : target, body);
    e.ts = QDateTime::currentDateTimeUtc().addSecs(-issuedAgo);
    (void)signCommand(e, key, lifetime);
    return e;
}

quint64 OrchestratorSide::publish(const Envelope &command, bool brokerExpiry)
{
    OutgoingMessage m;
    m.exchange = QString(proto::kCommandsExchange);
    m.routingKey = m_node;
    m.body = serializeEnvelope(command);
    m.properties = propertiesFor(command, m_broker->orchestrator().user);
    if (!brokerExpiry)
        m.properties.expirationMs.reset();
    m.mandatory = true;
    return m_commandsOut->publish(std::move(m));
}

QList<proto::CommandUpdate> OrchestratorSide::updatesFor(const QString &commandId) const
{
    QList<proto::CommandUpdate> out;
    for (const Envelope &e : m_events)
        if (e.type == proto::type::CommandUpdate)
            if (auto u = proto::CommandUpdate::fromJson(e.body); u && u->commandId == commandId)
                out << *u;
    return out;
}

std::optional<proto::RunFinished> OrchestratorSide::finishedEvent(const QString &runId) const
{
    for (const Envelope &e : m_events)
        if (e.type == proto::type::RunFinished)
            if (auto r = proto::RunFinished::fromJson(e.body); r && r->runId == runId)
                return *r;
    return std::nullopt;
}

std::optional<proto::CommandUpdate> OrchestratorSide::waitForFinalUpdate(
    const QString &commandId, int timeoutMs)
{
    std::optional<proto::CommandUpdate> found;
    (void)QTest::qWaitFor([&] {
        for (const proto::CommandUpdate &u : updatesFor(commandId))
            if (u.state == CmdState::Succeeded || u.state == CmdState::Failed
                || u.state == CmdState::Rejected || u.state == CmdState::Expired) {
                found = u;
                return true;
            }
        return false;
    }, timeoutMs);
    return found;
}

std::optional<proto::RunFinished> OrchestratorSide::waitForFinished(const QString &runId, int timeoutMs)
{
    std::optional<proto::RunFinished> found;
    (void)QTest::qWaitFor([&] {
        found = finishedEvent(runId);
        return found.has_value();
    }, timeoutMs);
    return found;
}

} // namespace sparky::agent::test
