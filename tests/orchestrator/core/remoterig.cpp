#include "remoterig.h"

#include "orchestratorconfig.h"
#include "teststore.h"

#include <QDir>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTest>

namespace sparky::test {

using namespace Qt::StringLiterals;
using namespace sparky::orchestrator;

QString describeCall(const RpcCall &c)
{
    return c.isOk() ? QString::fromUtf8(QJsonDocument(c.result()).toJson(QJsonDocument::Compact))
                    : c.errorCode() + u": "_s + c.errorString();
}

QByteArray RemoteRig::configYaml(const Setup &s, const StoreSettings &store)
{
    const BrokerSettings b = s.broker->orchestrator();
    QByteArray yaml;
    yaml += "broker:\n  hosts: [\"" + b.endpoints.first().toString().toUtf8()
        + "\"]\n  vhost: " + b.vhost.toUtf8() + "\n  user: " + b.user.toUtf8()
        + "\n  token_file: " + b.tokenFile.toUtf8()
        + "\n  heartbeat: 10s\n  reconnect_max: 2s\n  tls:\n    ca_file: " + b.caFile.toUtf8()
        + "\n";
    yaml += storeYaml(store);
    yaml += "commands:\n  signing_key: " + s.keyFile.toUtf8() + "\n";
    yaml += "rpc:\n  roles:\n    " + s.broker->operatorUser().user.toUtf8() + ": "
        + s.role.toUtf8() + "\n";
    yaml += "duties:\n  interval: 1s\nnodes:\n  offline_after: 5m\nreport:\n  interval: 1m\n";
    return yaml;
}

Expected<std::unique_ptr<RemoteRig>> RemoteRig::create(const Setup &s)
{
    static int serial = 0;
    std::unique_ptr<RemoteRig> r(new RemoteRig);
    const QString tag = u"rig_%1_%2_%3"_s.arg(s.backend).arg(QCoreApplication::applicationPid()).arg(++serial);
    const QString dir = s.dir + u'/' + tag;
    QDir().mkpath(dir);
    auto store = storeFor(s.backend, dir, tag);
    if (!store)
        return store.error();
    r->m_store = *store;
    auto config = OrchestratorConfig::parse(configYaml(s, *store), dir + u"/orchestrator.yaml"_s);
    if (!config)
        return config.error();
    r->m_daemon = std::make_unique<OrchestratorDaemon>(*config);
    if (auto ok = r->m_daemon->start(); !ok)
        return ok.error().wrapped(u"orchestrator"_s);
    auto observer = Database::open(*store, u"rig-observer"_s, false);
    if (!observer)
        return observer.error();
    r->m_observer = std::move(*observer);

    r->m_node = s.node;
    auto nodeSettings = s.broker->node(s.node);
    if (!nodeSettings)
        return nodeSettings.error();
    r->m_agent = std::make_unique<AgentResponder>(*nodeSettings, s.publicKey);
    if (auto ok = r->m_agent->start(); !ok)
        return ok.error();
    r->m_amqp = std::make_unique<AmqpClient>(s.broker->operatorUser());
    r->m_rpc = std::make_unique<RpcClient>(r->m_amqp.get());
    QSignalSpy up(r->m_amqp.get(), &AmqpClient::connected);
    r->m_amqp->start();
    if (!up.wait(15000) && up.isEmpty())
        return unexpected(ErrorCode::Network, u"the RPC client could not connect"_s);
    if (auto ok = r->m_agent->announce(); !ok)
        return ok.error();
    RemoteRig *raw = r.get();
    if (!QTest::qWaitFor(
            [&] { return raw->count(u"SELECT COUNT(*) FROM nodes WHERE node = ?"_s, { s.node }) == 1; },
            15000))
        return unexpected(ErrorCode::Timeout, u"the orchestrator did not store the node's hello"_s);
    return r;
}

RemoteRig::~RemoteRig()
{
    m_rpc.reset();
    if (m_amqp)
        m_amqp->stop();
    if (m_agent)
        m_agent->stop();
    if (m_daemon)
        m_daemon->shutdown();
    m_daemon.reset();
    m_observer.reset();
}

std::unique_ptr<RpcCall> RemoteRig::call(
    const QString &method, const QJsonObject &params, std::chrono::milliseconds timeout)
{
    RpcCall *c = m_rpc->call(method, params, timeout);
    c->setAutoDelete(false);
    if (!QTest::qWaitFor([c] { return c->isFinished(); }, int(timeout.count()) + 5000))
        qWarning().noquote() << method << "did not finish (the RpcCall's own timeout failed?)";
    return std::unique_ptr<RpcCall>(c);
}

qint64 RemoteRig::count(const QString &sql, const QVariantList &values) const
{
    auto q = m_observer->exec(sql, values);
    return q && q->next() ? q->value(0).toLongLong() : -1;
}

QString RemoteRig::text(const QString &sql, const QVariantList &values) const
{
    auto q = m_observer->exec(sql, values);
    return q && q->next() ? q->value(0).toString() : QString();
}

} // namespace sparky::test
