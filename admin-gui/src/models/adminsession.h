#pragma once

// The console's connection to the orchestrator for one ConnectionProfile: reads the token
// from the SecretStore (unless the profile uses a client certificate alone), connects an
// AmqpClient as the profile's broker user, and answers RpcInvoker::invoke() with one
// sparky::RpcCall job per call (sparky_rpcclient). The orchestrator knows the caller only
// as that broker user, and authorises by its role.
//
// The token is held in memory (BrokerSettings::token) for reconnects; it is never logged.
// While not connected, invoke() answers at once with a "transport" error that says why
// (the state text), instead of letting the call time out.
//
// Threading: GUI thread. Owns the AmqpClient (its I/O thread) and the RpcClient.

#include "connectionprofile.h"
#include "rpcinvoker.h"

#include <memory>

namespace sparky {
class AmqpClient;
class RpcClient;
} // namespace sparky

namespace sparky::admin {

class SecretStore;

class AdminSession final : public RpcInvoker
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AdminSession)

public:
    enum class State { Closed, ReadingSecret, Connecting, Connected, Failed };
    Q_ENUM(State)

    // `secrets` is not owned and must outlive the session.
    AdminSession(ConnectionProfile profile, SecretStore *secrets, QObject *parent = nullptr);
    ~AdminSession() override;

    // Reads the token from the secret store, then connects.
    void open();
    // Connects with a token given by the caller (typed in); it is not stored.
    void openWithToken(const QByteArray &token);
    void close();
    // Closes the connection and takes another profile (open() again to connect).
    void setProfile(const ConnectionProfile &profile);

    State state() const { return m_state; }
    QString stateText() const { return m_stateText; }
    const ConnectionProfile &profile() const { return m_profile; }

    void invoke(const QString &method, const QJsonObject &params, QObject *context, Callback done,
        std::chrono::milliseconds timeout = kDefaultTimeout) override;

Q_SIGNALS:
    void stateChanged(sparky::admin::AdminSession::State state, const QString &text);

private:
    void connectWith(const QByteArray &token);
    void setState(State state, const QString &text);

    ConnectionProfile m_profile;
    SecretStore *m_secrets = nullptr;
    std::unique_ptr<AmqpClient> m_amqp;
    std::unique_ptr<RpcClient> m_rpc; // destroyed before m_amqp
    State m_state = State::Closed;
    QString m_stateText;
    bool m_everConnected = false; // since the last connectWith()
};

} // namespace sparky::admin
