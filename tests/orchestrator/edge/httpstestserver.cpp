#include "httpstestserver.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslSocket>

using namespace Qt::StringLiterals;

HttpsTestServer::HttpsTestServer(
    const QString &certFile, const QString &keyFile, QByteArray token, QObject *parent)
    : QObject(parent)
    , m_token(std::move(token))
{
    QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
    QFile cert(certFile);
    QFile key(keyFile);
    if (!cert.open(QIODevice::ReadOnly) || !key.open(QIODevice::ReadOnly)) {
        m_error = u"cannot read %1 or %2"_s.arg(certFile, keyFile);
        return;
    }
    tls.setLocalCertificateChain(QSslCertificate::fromData(cert.readAll(), QSsl::Pem));
    tls.setPrivateKey(QSslKey(key.readAll(), QSsl::Ec, QSsl::Pem));
    tls.setPeerVerifyMode(QSslSocket::VerifyNone); // clients are not asked for certificates
    m_server.setSslConfiguration(tls);
    m_server.setHandshakeTimeout(5000);
    connect(
        &m_server, &QTcpServer::pendingConnectionAvailable, this, &HttpsTestServer::onConnection);
    connect(&m_server, &QSslServer::errorOccurred, this,
        [this](QSslSocket *socket, QAbstractSocket::SocketError) {
            if (!socket->isEncrypted())
                ++m_handshakeFailures;
        });
}

bool HttpsTestServer::listen(quint16 port)
{
    if (!m_error.isEmpty())
        return false;
    if (!m_server.listen(QHostAddress::LocalHost, port)) {
        m_error = m_server.errorString();
        return false;
    }
    return true;
}

void HttpsTestServer::close()
{
    m_server.close();
}

void HttpsTestServer::onConnection()
{
    while (m_server.hasPendingConnections()) {
        auto *socket = qobject_cast<QSslSocket *>(m_server.nextPendingConnection());
        if (!socket)
            continue;
        socket->setParent(this);
        connect(socket, &QSslSocket::readyRead, this, [this, socket] { onReadyRead(socket); });
        connect(socket, &QSslSocket::disconnected, this, [this, socket] {
            m_buffers.remove(socket);
            socket->deleteLater();
        });
    }
}

void HttpsTestServer::onReadyRead(QSslSocket *socket)
{
    QByteArray &buffer = m_buffers[socket];
    buffer += socket->readAll();
    const qsizetype headerEnd = buffer.indexOf("\r\n\r\n");
    if (headerEnd < 0)
        return;
    Request request;
    const QList<QByteArray> lines = buffer.left(headerEnd).split('\n');
    const QList<QByteArray> requestLine = lines.value(0).trimmed().split(' ');
    request.method = requestLine.value(0);
    request.path = requestLine.value(1);
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines.at(i).trimmed();
        const qsizetype colon = line.indexOf(':');
        if (colon > 0)
            request.headers.insert(
                line.left(colon).trimmed().toLower(), line.mid(colon + 1).trimmed());
    }
    const qsizetype length = request.headers.value("content-length", "0").toLongLong();
    if (buffer.size() < headerEnd + 4 + length)
        return; // the body is still coming
    request.body = buffer.mid(headerEnd + 4, length);
    buffer.clear();
    answer(socket, std::move(request));
}

void HttpsTestServer::answer(QSslSocket *socket, Request request)
{
    Answer a;
    if (request.headers.value("authorization") != "Bearer " + m_token) {
        a.status = 401;
    } else if (m_stalled) {
        m_requests.append(request);
        Q_EMIT requestHandled();
        return; // never answered
    } else if (!m_script.isEmpty()) {
        a = m_script.takeFirst();
    }
    QByteArray body = "{}";
    if (a.status >= 200 && a.status < 300) {
        const QString id = QString::fromLatin1(request.headers.value("idempotency-key"));
        if (m_accepted.contains(id))
            ++m_duplicates;
        else
            m_accepted.append(id);
    } else if (a.status == 401) {
        body = R"({"error":"invalid token"})";
    } else {
        body = R"({"error":"scripted failure"})";
    }
    request.answeredStatus = a.dropConnection ? 0 : a.status;
    m_requests.append(request);
    if (a.dropConnection) {
        socket->abort();
        Q_EMIT requestHandled();
        return;
    }
    const QByteArray head = "HTTP/1.1 " + QByteArray::number(a.status)
        + " Scripted\r\n"
          "Content-Type: application/json\r\n"
          "Content-Length: "
        + QByteArray::number(body.size())
        + "\r\n"
          "Connection: close\r\n"
        + a.extraHeaders + "\r\n";
    socket->write(head + body);
    socket->disconnectFromHost();
    Q_EMIT requestHandled();
}
