#pragma once

// A small HTTPS server for tests, standing in for the Exioma console: QSslServer on
// 127.0.0.1, HTTP/1.1 with Content-Length bodies, one request per connection. It checks the
// bearer token (401 otherwise), can answer a scripted list of statuses first, or stall, and
// deduplicates accepted exports by Idempotency-Key like a real idempotent endpoint.
//
// Lives in the test's thread; owns its sockets.

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QObject>
#include <QSslServer>
#include <QString>
#include <QStringList>

class HttpsTestServer final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpsTestServer)

public:
    struct Request
    {
        QByteArray method;
        QByteArray path;
        QHash<QByteArray, QByteArray> headers; // names lower case
        QByteArray body;
        int answeredStatus = 0;
    };

    struct Answer
    {
        int status = 200;
        QByteArray extraHeaders; // "Name: value\r\n" lines
        // Take the request (2xx: count it accepted) but drop the connection without an
        // answer: the client cannot know it arrived and must send it again.
        bool dropConnection = false;
    };

    HttpsTestServer(const QString &certFile, const QString &keyFile, QByteArray token,
        QObject *parent = nullptr);

    bool listen(quint16 port = 0); // 127.0.0.1; 0 = any free port
    void close();
    quint16 port() const { return m_server.serverPort(); }
    QString lastError() const { return m_error; }

    void setToken(const QByteArray &token) { m_token = token; }
    // Answers for the next requests that pass the token check, in order; then 200.
    void script(QList<Answer> answers) { m_script = std::move(answers); }
    // Read requests but never answer them (a console that hangs).
    void setStalled(bool stalled) { m_stalled = stalled; }

    const QList<Request> &requests() const { return m_requests; }
    // Export ids accepted (2xx), each once, in acceptance order.
    const QStringList &accepted() const { return m_accepted; }
    // Requests answered 2xx for an export id accepted before.
    int duplicates() const { return m_duplicates; }
    // TLS handshakes that failed (the client refused our certificate, or vice versa).
    int handshakeFailures() const { return m_handshakeFailures; }

Q_SIGNALS:
    void requestHandled();

private:
    void onConnection();
    void onReadyRead(QSslSocket *socket);
    void answer(QSslSocket *socket, Request request);

    QSslServer m_server;
    QByteArray m_token;
    QList<Answer> m_script;
    bool m_stalled = false;
    QList<Request> m_requests;
    QStringList m_accepted;
    int m_duplicates = 0;
    int m_handshakeFailures = 0;
    QString m_error;
    QHash<QSslSocket *, QByteArray> m_buffers;
};
