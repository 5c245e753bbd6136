#pragma once

// Node enrollment through the RabbitMQ management HTTP API (HTTPS, CA verified): the
// C++ twin of broker-config/bin/sparky-node, with the same permission model.
//
// addNode(NODE) creates, in this order (rolled back if a step fails):
//   queue      sparky.agent.NODE: durable classic, x-single-active-consumer = true (the
//              broker policy sparky-agent-queues adds dead-lettering and the length limit)
//   binding    sparky.commands → sparky.agent.NODE with routing key NODE
//   user       NODE, no tags, password = a fresh token (32 bytes from the system CSPRNG,
//              base64url without padding: 43 characters)
//   permission configure ^$, write ^sparky\.events$, read ^sparky\.agent\.NODE$
//   topic      on sparky.events: write ^NODE\. , read ^$
// and returns the token once (the caller prints it or writes it 0600; it is stored nowhere).
// rotateToken() sets a new token and closes the node's open connections so the old token
// stops working at once. removeNode() closes its connections, deletes the user (with its
// permissions) and the queue (with its binding; pending commands are lost).
//
// Threading and ownership: synchronous on purpose (CLI use), without a nested event loop in
// the caller's thread. A BrokerManagement owns a private worker thread with the
// QNetworkAccessManager; each HTTP request is handed to it and the caller blocks on a future
// until the answer or `timeout` (a call makes one to five requests). So it may be called from
// any thread, including one running an event loop (which simply does not turn while the call
// blocks — call it from the daemon's event thread only if that pause is acceptable); calls
// from several threads may overlap. The destructor joins the worker thread.
// Secrets: the admin password is read from its 0600 file for every call and sent only as
// HTTP basic auth over verified TLS; neither it nor the node tokens reach a log line or an
// error message.

#include "sparky/error.h"

#include <QByteArray>
#include <QString>
#include <QStringList>
#include <QUrl>
#include <QtGlobal>
#include <chrono>
#include <memory>

namespace sparky::orchestrator {

struct ManagementSettings
{
    QUrl baseUrl; // https://host:15671 (the management listener)
    QString user; // an administrator of the vhost (sparky-admin)
    QString passwordFile; // its password, mode 0600
    QString caFile; // CA of the broker's certificate (added to the system store)
    QString vhost = QStringLiteral("sparky");
    std::chrono::milliseconds timeout { 30000 }; // per HTTP request

    Result validate() const;
};

// What the broker holds for one node, and how it differs from the model above.
struct NodeStatus
{
    QString node;
    bool userExists = false;
    bool queueExists = false;
    bool bindingExists = false;
    int connections = 0; // open connections of the user
    int queueConsumers = 0;
    qint64 queueMessages = 0; // commands waiting
    QStringList problems; // empty when user, permissions, queue and binding match
    bool matchesModel() const { return problems.isEmpty(); }
};

class BrokerManagement final
{
    Q_DISABLE_COPY_MOVE(BrokerManagement)

public:
    enum class IfExists { Refuse, RotateToken };

    explicit BrokerManagement(ManagementSettings settings);
    ~BrokerManagement(); // joins the worker thread

    // Enrolls `node` (see above) and returns its token. A node that exists already is
    // refused (ErrorCode::Conflict) unless `ifExists` is RotateToken: then permissions,
    // queue and binding are put back to the model and a new token is returned.
    Expected<QByteArray> addNode(const QString &node, IfExists ifExists = IfExists::Refuse);
    // Removes the user (and its permissions) and the queue with its binding.
    // NotFound if neither exists.
    Result removeNode(const QString &node);
    // A new token for an existing node (NotFound otherwise); its connections are closed.
    Expected<QByteArray> rotateToken(const QString &node);
    // Users of the vhost whose permissions follow the node model, sorted.
    Expected<QStringList> listNodes();
    // The node's user, permissions, queue and binding compared with the model.
    Expected<NodeStatus> nodeStatus(const QString &node);

    // A fresh token: 32 bytes from the system CSPRNG, base64url without padding.
    static QByteArray newToken();
    // Node ids that can never be nodes: the service users of broker-config.
    static bool isReservedUser(const QString &name);

    const ManagementSettings &settings() const { return m_settings; }

private:
    struct Response;
    class Worker;
    Expected<Response> call(
        const QByteArray &method, const QString &path, const QByteArray &body = {});
    Expected<Response> expect(const QString &what, const QByteArray &method, const QString &path,
        const QByteArray &body = {});
    Result checkNode(const QString &node) const;
    Expected<bool> userExists(const QString &node);
    Result applyModel(const QString &node, const QByteArray *password);
    Result closeConnections(const QString &node);
    QString vhostPath() const;

    ManagementSettings m_settings;
    std::unique_ptr<Worker> m_worker;
};

} // namespace sparky::orchestrator
