#pragma once

// One RPC call to the orchestrator, as a job object (the KJob shape): it finishes exactly
// once — with the orchestrator's result, its error, a timeout, or a transport failure — and
// then emits finished(). It deletes itself after finished() unless setAutoDelete(false).
//
// Threading: lives on the thread of the RpcClient that made it. Created only by RpcClient.

#include <QElapsedTimer>
#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QTimer>
#include <chrono>

namespace sparky {

class RpcClient;

class RpcCall final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RpcCall)

public:
    ~RpcCall() override;

    // Local error codes (remote ones are listed in docs/protocol.md "RPC errors").
    static constexpr QLatin1StringView kTimeout { "timeout" };
    static constexpr QLatin1StringView kTransport { "transport" }; // could not publish
    static constexpr QLatin1StringView kBadReply {
        "bad_reply"
    }; // the reply is not a valid envelope

    QString method() const { return m_method; }
    QJsonObject params() const { return m_params; }
    QString correlationId() const { return m_correlationId; }

    bool isFinished() const { return m_finished; }
    bool isOk() const { return m_finished && m_ok; }
    QJsonObject result() const { return m_result; }
    QString errorCode() const { return m_errorCode; } // empty when ok
    QString errorString() const { return m_errorString; } // for the operator
    // The orchestrator's whole error object: code, message and, for some codes, more
    // (command_id, node, last_seen, state — docs/protocol.md "Errors"). Empty when ok.
    QJsonObject errorData() const { return m_errorData; }
    std::chrono::milliseconds elapsed() const { return std::chrono::milliseconds(m_elapsed); }

    void setAutoDelete(bool autoDelete) { m_autoDelete = autoDelete; }

Q_SIGNALS:
    void finished(sparky::RpcCall *call);

private:
    friend class RpcClient;
    RpcCall(QString method, QJsonObject params, QString correlationId,
        std::chrono::milliseconds timeout, QObject *parent);
    void finishOk(const QJsonObject &result);
    void finishError(const QString &code, const QString &message, const QJsonObject &data = {});
    void emitFinished();

    QString m_method;
    QJsonObject m_params;
    QString m_correlationId;
    QJsonObject m_result;
    QString m_errorCode;
    QString m_errorString;
    QJsonObject m_errorData;
    QTimer m_timeout;
    QElapsedTimer m_clock;
    qint64 m_elapsed = 0;
    bool m_finished = false;
    bool m_ok = false;
    bool m_autoDelete = true;
};

} // namespace sparky
