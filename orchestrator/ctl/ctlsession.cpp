#include "ctlsession.h"

#include "rpcclient.h"

#include <QEventLoop>
#include <QTimer>

namespace sparky::ctl {

using namespace Qt::StringLiterals;

CtlSession::CtlSession(BrokerSettings broker)
    : m_broker(std::move(broker))
{ }

CtlSession::~CtlSession()
{
    close();
}

Result CtlSession::connect()
{
    if (auto ok = m_broker.validate(); !ok)
        return ok.error().wrapped(u"broker"_s);
    AmqpClient::Options options;
    options.permanentRetry = std::chrono::milliseconds(0); // a CLI reports, it does not retry
    m_amqp = std::make_unique<AmqpClient>(m_broker, options);
    m_rpc = std::make_unique<RpcClient>(m_amqp.get());

    QEventLoop loop;
    std::optional<Error> failure;
    bool up = false;
    QObject ctx;
    QObject::connect(m_amqp.get(), &AmqpClient::connected, &ctx, [&] {
        up = true;
        loop.quit();
    });
    QObject::connect(m_amqp.get(), &AmqpClient::failed, &ctx, [&](const Error &e) {
        failure = e;
        loop.quit();
    });
    // A network error is retried by the client; remember it for the message.
    QObject::connect(
        m_amqp.get(), &AmqpClient::disconnected, &ctx, [&](const Error &e) { failure = e; });
    QTimer timer;
    timer.setSingleShot(true);
    QObject::connect(&timer, &QTimer::timeout, &loop, &QEventLoop::quit);
    timer.start(m_broker.connectTimeout + std::chrono::seconds(2));
    m_amqp->start();
    loop.exec();
    if (up)
        return {};
    QStringList hosts;
    for (const BrokerEndpoint &e : std::as_const(m_broker.endpoints))
        hosts << e.toString();
    const QString why = failure ? failure->toString() : u"no answer in time"_s;
    return unexpected(failure && failure->code == ErrorCode::Auth ? ErrorCode::Auth
                                                                   : ErrorCode::Network,
        u"cannot connect to the broker at %1 as '%2': %3"_s.arg(
            hosts.join(u", "_s), m_broker.user, why));
}

CallResult CtlSession::call(
    const QString &method, const QJsonObject &params, std::chrono::milliseconds timeout)
{
    CallResult r;
    RpcCall *c = m_rpc->call(method, params, timeout);
    c->setAutoDelete(false);
    if (!c->isFinished()) {
        QEventLoop loop;
        QObject::connect(c, &RpcCall::finished, &loop, &QEventLoop::quit);
        loop.exec();
    }
    r.ok = c->isOk();
    r.result = c->result();
    r.code = c->errorCode();
    r.message = c->errorString();
    r.error = c->errorData();
    if (r.code == RpcCall::kTimeout)
        r.message += u" — is sparky-orchestrator running and consuming sparky.orchestrator.rpc?"_s;
    delete c;
    return r;
}

void CtlSession::pause(int ms)
{
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
}

void CtlSession::close()
{
    m_rpc.reset();
    if (m_amqp)
        m_amqp->stop();
    m_amqp.reset();
}

} // namespace sparky::ctl
