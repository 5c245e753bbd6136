#include "brokermanagement.h"

#include "edgelogging.h"
#include "httpsclient_p.h"
#include "sparky/envelope.h"
#include "sparky/protocol.h"
#include "sparky/secrets.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPointer>
#include <QRandomGenerator>
#include <QThread>
#include <QTimer>
#include <array>
#include <future>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

namespace {

QString pct(const QString &segment)
{
    return QString::fromLatin1(QUrl::toPercentEncoding(segment));
}

// The permission model, shared with broker-config/bin/sparky-node.
QString configurePattern()
{
    return u"^$"_s;
}
QString writePattern()
{
    return u"^sparky\\.events$"_s;
}
QString readPattern(const QString &node)
{
    return u"^sparky\\.agent\\.%1$"_s.arg(node);
}
QString topicWritePattern(const QString &node)
{
    return u"^%1\\."_s.arg(node);
}
QString topicReadPattern()
{
    return u"^$"_s;
}

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

} // namespace

struct BrokerManagement::Response
{
    int status = 0;
    QByteArray body;
};

// Owns a thread with the QNetworkAccessManager. Requests are posted to it; the caller
// blocks on a future that the reply (or the timeout) fulfils. No event loop runs in the
// caller's thread.
class BrokerManagement::Worker
{
public:
    Worker()
    {
        m_thread.setObjectName(u"sparky-broker-mgmt"_s);
        m_context = new QObject; // lives in m_thread from here on
        m_context->moveToThread(&m_thread);
        m_thread.start();
        QMetaObject::invokeMethod(
            m_context, [this] { m_network = new QNetworkAccessManager(m_context); },
            Qt::BlockingQueuedConnection);
    }

    ~Worker()
    {
        // Deferred deletes still pending when the thread ends are run by it, in it.
        m_context->deleteLater();
        m_thread.quit();
        m_thread.wait();
    }

    Expected<Response> run(const QNetworkRequest &request, const QByteArray &method,
        const QByteArray &body, std::chrono::milliseconds timeout, const QString &what)
    {
        if (QThread::currentThread() == &m_thread)
            return unexpected(
                ErrorCode::Internal, u"BrokerManagement called from its own worker"_s);
        auto promise = std::make_shared<std::promise<Expected<Response>>>();
        std::future<Expected<Response>> result = promise->get_future();
        QMetaObject::invokeMethod(
            m_context,
            [this, promise, request, method, body, timeout, what] {
                QNetworkReply *reply = m_network->sendCustomRequest(request, method, body);
                auto *timer = new QTimer(reply);
                timer->setSingleShot(true);
                auto timedOut = std::make_shared<bool>(false);
                auto sslErrors = std::make_shared<QList<QSslError>>();
                QObject::connect(timer, &QTimer::timeout, reply, [reply, timedOut] {
                    *timedOut = true;
                    reply->abort();
                });
                QObject::connect(reply, &QNetworkReply::sslErrors, reply,
                    [sslErrors](const QList<QSslError> &e) { *sslErrors += e; });
                QObject::connect(reply, &QNetworkReply::finished, reply,
                    [reply, promise, timedOut, sslErrors, what] {
                        reply->deleteLater();
                        const QVariant status
                            = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
                        if (status.isValid() && status.toInt() > 0 && !*timedOut) {
                            promise->set_value(Response { status.toInt(), reply->readAll() });
                            return;
                        }
                        promise->set_value(
                            detail::transportError(*reply, *sslErrors, what, *timedOut));
                    });
                timer->start(timeout);
            },
            Qt::QueuedConnection);
        // The worker's timer ends every request; the margin only guards against a wedged
        // worker thread.
        if (result.wait_for(timeout + std::chrono::seconds(10)) != std::future_status::ready)
            return unexpected(ErrorCode::Timeout, u"%1: no answer in time"_s.arg(what));
        return result.get();
    }

private:
    QThread m_thread;
    QObject *m_context = nullptr;
    QNetworkAccessManager *m_network = nullptr; // child of m_context, used only in m_thread
};

Result ManagementSettings::validate() const
{
    if (!baseUrl.isValid() || baseUrl.scheme() != "https"_L1 || baseUrl.host().isEmpty())
        return unexpected(ErrorCode::Config,
            u"management URL must be https://HOST:PORT, got '%1'"_s.arg(
                baseUrl.toDisplayString(QUrl::RemoveUserInfo)));
    if (user.isEmpty())
        return unexpected(ErrorCode::Config, u"management user is empty"_s);
    if (passwordFile.isEmpty())
        return unexpected(ErrorCode::Config, u"management password file is not set"_s);
    if (vhost.isEmpty())
        return unexpected(ErrorCode::Config, u"vhost is empty"_s);
    if (timeout.count() <= 0)
        return unexpected(ErrorCode::Config, u"management timeout must be positive"_s);
    return {};
}

BrokerManagement::BrokerManagement(ManagementSettings settings)
    : m_settings(std::move(settings))
    , m_worker(std::make_unique<Worker>())
{ }

BrokerManagement::~BrokerManagement() = default;

QByteArray BrokerManagement::newToken()
{
    std::array<quint32, 8> words {};
    QRandomGenerator::system()->fillRange(words.data(), qsizetype(words.size()));
    const QByteArray raw(reinterpret_cast<const char *>(words.data()), qsizetype(sizeof(words)));
    return raw.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

bool BrokerManagement::isReservedUser(const QString &name)
{
    static const QStringList reserved { u"sparky-admin"_s, u"sparky-orchestrator"_s,
        u"sparky-operator"_s, u"guest"_s };
    return reserved.contains(name);
}

QString BrokerManagement::vhostPath() const
{
    return pct(m_settings.vhost);
}

Result BrokerManagement::checkNode(const QString &node) const
{
    if (!isValidNodeId(node))
        return unexpected(ErrorCode::InvalidArgument,
            u"bad node id '%1' (must match ^[a-z0-9][a-z0-9-]{0,62}$)"_s.arg(node));
    if (isReservedUser(node))
        return unexpected(ErrorCode::InvalidArgument, u"'%1' is a reserved user name"_s.arg(node));
    return {};
}

Expected<BrokerManagement::Response> BrokerManagement::call(
    const QByteArray &method, const QString &path, const QByteArray &body)
{
    if (auto ok = m_settings.validate(); !ok)
        return ok.error();
    auto password = readSecretFile(m_settings.passwordFile);
    if (!password)
        return password.error().wrapped(u"management password file"_s);

    QString pathPart = path;
    QString query;
    if (const qsizetype q = path.indexOf(u'?'); q >= 0) {
        pathPart = path.left(q);
        query = path.mid(q + 1);
    }
    QUrl url = m_settings.baseUrl;
    QString basePath = url.path(QUrl::FullyEncoded);
    while (basePath.endsWith(u'/'))
        basePath.chop(1);
    url.setPath(basePath + u"/api"_s + pathPart, QUrl::StrictMode);
    if (!query.isEmpty())
        url.setQuery(query, QUrl::StrictMode);

    auto tls = detail::clientTlsConfiguration(m_settings.caFile);
    if (!tls)
        return tls.error();
    QNetworkRequest request(url);
    request.setSslConfiguration(*tls);
    request.setAttribute(
        QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    const QByteArray credentials = m_settings.user.toUtf8() + ':' + *password;
    request.setRawHeader("Authorization", "Basic " + credentials.toBase64());
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
    request.setRawHeader("Accept", "application/json");
    if (method == "DELETE")
        request.setRawHeader(
            "X-Reason", "sparky node enrollment changed (token rotated or node removed)");

    const QString what = u"RabbitMQ management %1 %2"_s.arg(
        QString::fromLatin1(method), url.toDisplayString(QUrl::RemoveUserInfo));
    return m_worker->run(request, method, body, m_settings.timeout, what);
}

Expected<BrokerManagement::Response> BrokerManagement::expect(
    const QString &what, const QByteArray &method, const QString &path, const QByteArray &body)
{
    auto r = call(method, path, body);
    if (!r)
        return r.error().wrapped(what);
    if (r->status >= 200 && r->status < 300)
        return r;
    const QString message = u"%1: HTTP %2 from %3 %4"_s.arg(what).arg(r->status).arg(
                                QString::fromLatin1(method), path)
        + (r->body.isEmpty() ? QString() : u": "_s + detail::bodyExcerpt(r->body));
    ErrorCode code = ErrorCode::Rejected;
    switch (r->status) {
    case 400:
        code = ErrorCode::Validation;
        break;
    case 401:
        code = ErrorCode::Auth;
        break;
    case 403:
        code = ErrorCode::AccessRefused;
        break;
    case 404:
        code = ErrorCode::NotFound;
        break;
    case 409:
        code = ErrorCode::Conflict;
        break;
    default:
        if (r->status >= 500)
            code = ErrorCode::Unavailable;
    }
    if (r->status == 401)
        return unexpected(
            code, message + u" (check user '%1' and its password file)"_s.arg(m_settings.user));
    return unexpected(code, message);
}

Expected<bool> BrokerManagement::userExists(const QString &node)
{
    auto r = call("GET", u"/users/"_s + pct(node));
    if (!r)
        return r.error().wrapped(u"looking up user %1"_s.arg(node));
    if (r->status == 200)
        return true;
    if (r->status == 404)
        return false;
    return unexpected(r->status == 401 ? ErrorCode::Auth : ErrorCode::Rejected,
        u"looking up user %1: HTTP %2: %3"_s.arg(node).arg(r->status).arg(
            detail::bodyExcerpt(r->body)));
}

Result BrokerManagement::applyModel(const QString &node, const QByteArray *password)
{
    const QString vh = vhostPath();
    const QString queue = protocol::agentQueue(node);
    // Queue and binding first: a node that can log in always finds its queue.
    const QJsonObject queueDef {
        { u"durable"_s, true },
        { u"auto_delete"_s, false },
        { u"arguments"_s,
            QJsonObject {
                { u"x-queue-type"_s, u"classic"_s }, { u"x-single-active-consumer"_s, true } } },
    };
    if (auto r = expect(u"declaring queue %1"_s.arg(queue), "PUT",
            u"/queues/%1/%2"_s.arg(vh, pct(queue)), json(queueDef));
        !r)
        return r.error();
    const QJsonObject binding { { u"routing_key"_s, node }, { u"arguments"_s, QJsonObject {} } };
    if (auto r
        = expect(u"binding %1 to %2"_s.arg(queue, QString(protocol::kCommandsExchange)), "POST",
            u"/bindings/%1/e/%2/q/%3"_s.arg(
                vh, pct(QString(protocol::kCommandsExchange)), pct(queue)),
            json(binding));
        !r)
        return r.error();
    if (password) {
        const QJsonObject user { { u"password"_s, QString::fromLatin1(*password) },
            { u"tags"_s, u""_s } };
        if (auto r
            = expect(u"creating user %1"_s.arg(node), "PUT", u"/users/"_s + pct(node), json(user));
            !r)
            return r.error();
    }
    const QJsonObject permissions {
        { u"configure"_s, configurePattern() },
        { u"write"_s, writePattern() },
        { u"read"_s, readPattern(node) },
    };
    if (auto r = expect(u"setting permissions of %1"_s.arg(node), "PUT",
            u"/permissions/%1/%2"_s.arg(vh, pct(node)), json(permissions));
        !r)
        return r.error();
    const QJsonObject topic {
        { u"exchange"_s, QString(protocol::kEventsExchange) },
        { u"write"_s, topicWritePattern(node) },
        { u"read"_s, topicReadPattern() },
    };
    if (auto r = expect(u"setting topic permissions of %1"_s.arg(node), "PUT",
            u"/topic-permissions/%1/%2"_s.arg(vh, pct(node)), json(topic));
        !r)
        return r.error();
    return {};
}

Expected<QByteArray> BrokerManagement::addNode(const QString &node, IfExists ifExists)
{
    if (auto ok = checkNode(node); !ok)
        return ok.error();
    auto exists = userExists(node);
    if (!exists)
        return exists.error();
    const QByteArray token = newToken();
    if (*exists) {
        if (ifExists == IfExists::Refuse)
            return unexpected(ErrorCode::Conflict,
                u"node %1 is already enrolled (rotate its token, or remove it first)"_s.arg(node));
        if (auto ok = applyModel(node, &token); !ok)
            return ok.error().wrapped(u"re-enrolling %1"_s.arg(node));
        if (auto ok = closeConnections(node); !ok)
            return ok.error();
        qCInfo(lcEnrollment).noquote() << u"node %1 re-enrolled with a new token"_s.arg(node);
        return token;
    }
    if (auto ok = applyModel(node, &token); !ok) {
        qCWarning(lcEnrollment).noquote()
            << u"enrollment of %1 failed (%2); rolling back"_s.arg(node, ok.error().toString());
        (void)call("DELETE", u"/users/"_s + pct(node));
        (void)call("DELETE", u"/queues/%1/%2"_s.arg(vhostPath(), pct(protocol::agentQueue(node))));
        return ok.error().wrapped(u"enrolling %1"_s.arg(node));
    }
    qCInfo(lcEnrollment).noquote() << u"node %1 enrolled"_s.arg(node);
    return token;
}

Expected<QByteArray> BrokerManagement::rotateToken(const QString &node)
{
    if (auto ok = checkNode(node); !ok)
        return ok.error();
    auto exists = userExists(node);
    if (!exists)
        return exists.error();
    if (!*exists)
        return unexpected(ErrorCode::NotFound, u"node %1 is not enrolled"_s.arg(node));
    const QByteArray token = newToken();
    const QJsonObject user { { u"password"_s, QString::fromLatin1(token) }, { u"tags"_s, u""_s } };
    if (auto r = expect(
            u"setting the token of %1"_s.arg(node), "PUT", u"/users/"_s + pct(node), json(user));
        !r)
        return r.error();
    if (auto ok = closeConnections(node); !ok)
        return ok.error().wrapped(u"token of %1 rotated, but"_s.arg(node));
    qCInfo(lcEnrollment).noquote() << u"token of node %1 rotated"_s.arg(node);
    return token;
}

Result BrokerManagement::closeConnections(const QString &node)
{
    // By user name: the broker closes what its connection tracking knows, including a
    // connection opened a moment ago (the /connections listing comes from the statistics
    // database, which can lag by several seconds, so list-then-delete misses young ones).
    if (auto r = expect(u"closing the connections of %1"_s.arg(node), "DELETE",
            u"/connections/username/"_s + pct(node));
        !r)
        return r.error();
    qCInfo(lcEnrollment).noquote() << u"closed the connections of %1"_s.arg(node);
    return {};
}

Result BrokerManagement::removeNode(const QString &node)
{
    if (auto ok = checkNode(node); !ok)
        return ok.error();
    auto exists = userExists(node);
    if (!exists)
        return exists.error();
    bool found = false;
    if (*exists) {
        if (auto ok = closeConnections(node); !ok)
            return ok;
        if (auto r = expect(u"deleting user %1"_s.arg(node), "DELETE", u"/users/"_s + pct(node));
            !r)
            return r.error();
        found = true;
    }
    auto q = call("DELETE", u"/queues/%1/%2"_s.arg(vhostPath(), pct(protocol::agentQueue(node))));
    if (!q)
        return q.error().wrapped(u"deleting queue %1"_s.arg(protocol::agentQueue(node)));
    if (q->status >= 200 && q->status < 300)
        found = true;
    else if (q->status != 404)
        return unexpected(ErrorCode::Rejected,
            u"deleting queue %1: HTTP %2: %3"_s.arg(protocol::agentQueue(node))
                .arg(q->status)
                .arg(detail::bodyExcerpt(q->body)));
    if (!found)
        return unexpected(ErrorCode::NotFound, u"node %1 is not enrolled"_s.arg(node));
    qCInfo(lcEnrollment).noquote() << u"node %1 removed"_s.arg(node);
    return {};
}

Expected<QStringList> BrokerManagement::listNodes()
{
    auto r = expect(u"listing permissions of vhost %1"_s.arg(m_settings.vhost), "GET",
        u"/vhosts/%1/permissions"_s.arg(vhostPath()));
    if (!r)
        return r.error();
    const QJsonDocument doc = QJsonDocument::fromJson(r->body);
    if (!doc.isArray())
        return unexpected(
            ErrorCode::Parse, u"listing permissions: the broker sent no JSON array"_s);
    QStringList nodes;
    for (const QJsonValue &v : doc.array()) {
        const QJsonObject p = v.toObject();
        const QString user = p.value(u"user"_s).toString();
        if (isValidNodeId(user) && !isReservedUser(user)
            && p.value(u"read"_s).toString() == readPattern(user))
            nodes.append(user);
    }
    nodes.sort();
    return nodes;
}

Expected<NodeStatus> BrokerManagement::nodeStatus(const QString &node)
{
    if (auto ok = checkNode(node); !ok)
        return ok.error();
    NodeStatus s;
    s.node = node;
    const QString vh = vhostPath();
    const QString queue = protocol::agentQueue(node);

    auto exists = userExists(node);
    if (!exists)
        return exists.error();
    s.userExists = *exists;
    if (!s.userExists) {
        s.problems.append(u"user %1 does not exist"_s.arg(node));
    } else {
        auto perm = call("GET", u"/permissions/%1/%2"_s.arg(vh, pct(node)));
        if (!perm)
            return perm.error();
        if (perm->status == 404) {
            s.problems.append(u"no permissions in vhost %1"_s.arg(m_settings.vhost));
        } else {
            const QJsonObject p = QJsonDocument::fromJson(perm->body).object();
            const auto check = [&](const QString &key, const QString &want) {
                const QString got = p.value(key).toString();
                if (got != want)
                    s.problems.append(
                        u"%1 permission is '%2', expected '%3'"_s.arg(key, got, want));
            };
            check(u"configure"_s, configurePattern());
            check(u"write"_s, writePattern());
            check(u"read"_s, readPattern(node));
        }
        auto topic = call("GET", u"/topic-permissions/%1/%2"_s.arg(vh, pct(node)));
        if (!topic)
            return topic.error();
        bool topicOk = false;
        int topicCount = 0;
        if (topic->status == 200) {
            for (const QJsonValue &v : QJsonDocument::fromJson(topic->body).array()) {
                const QJsonObject t = v.toObject();
                ++topicCount;
                if (t.value(u"exchange"_s).toString() == QString(protocol::kEventsExchange)
                    && t.value(u"write"_s).toString() == topicWritePattern(node)
                    && t.value(u"read"_s).toString() == topicReadPattern())
                    topicOk = true;
            }
        }
        if (!topicOk || topicCount != 1)
            s.problems.append(u"topic permission on %1 is not write '%2' read '%3' only"_s.arg(
                QString(protocol::kEventsExchange), topicWritePattern(node), topicReadPattern()));
        auto conns = expect(u"listing connections of %1"_s.arg(node), "GET",
            u"/connections/username/"_s + pct(node));
        if (!conns)
            return conns.error();
        s.connections = int(QJsonDocument::fromJson(conns->body).array().size());
    }

    auto q = call("GET", u"/queues/%1/%2"_s.arg(vh, pct(queue)));
    if (!q)
        return q.error();
    if (q->status == 200) {
        s.queueExists = true;
        const QJsonObject o = QJsonDocument::fromJson(q->body).object();
        const QJsonObject args = o.value(u"arguments"_s).toObject();
        if (!o.value(u"durable"_s).toBool())
            s.problems.append(u"queue %1 is not durable"_s.arg(queue));
        if (o.value(u"type"_s).toString() != "classic"_L1)
            s.problems.append(u"queue %1 is of type '%2', expected classic"_s.arg(
                queue, o.value(u"type"_s).toString()));
        if (!args.value(u"x-single-active-consumer"_s).toBool())
            s.problems.append(u"queue %1 lacks x-single-active-consumer"_s.arg(queue));
        s.queueConsumers = o.value(u"consumers"_s).toInt();
        s.queueMessages = qint64(o.value(u"messages"_s).toDouble());
        auto b = expect(u"reading bindings of %1"_s.arg(queue), "GET",
            u"/queues/%1/%2/bindings"_s.arg(vh, pct(queue)));
        if (!b)
            return b.error();
        for (const QJsonValue &v : QJsonDocument::fromJson(b->body).array()) {
            const QJsonObject o2 = v.toObject();
            if (o2.value(u"source"_s).toString() == QString(protocol::kCommandsExchange)
                && o2.value(u"routing_key"_s).toString() == node)
                s.bindingExists = true;
        }
        if (!s.bindingExists)
            s.problems.append(u"queue %1 is not bound to %2 with key %3"_s.arg(
                queue, QString(protocol::kCommandsExchange), node));
    } else if (q->status == 404) {
        s.problems.append(u"queue %1 does not exist"_s.arg(queue));
    } else {
        return unexpected(ErrorCode::Rejected,
            u"reading queue %1: HTTP %2: %3"_s.arg(queue).arg(q->status).arg(
                detail::bodyExcerpt(q->body)));
    }
    return s;
}

} // namespace sparky::orchestrator
