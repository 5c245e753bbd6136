#pragma once

// The real SecretStore: the desktop keychain through QtKeychain (Secret Service / KWallet
// on Linux, Keychain on macOS, Credential Store on Windows), under the service name
// "sparky-admin". The plaintext fallback of QtKeychain stays off: without a keychain
// daemon every call fails with a clear error instead of writing the token to disk.
//
// Threading: GUI thread (QtKeychain jobs talk D-Bus from the caller's thread).

#include "secretstore.h"

namespace sparky::admin {

class KeychainSecretStore final : public SecretStore
{
public:
    explicit KeychainSecretStore(QString service = QStringLiteral("sparky-admin"));
    ~KeychainSecretStore() override;
    Q_DISABLE_COPY_MOVE(KeychainSecretStore)

    void readSecret(const QString &key, QObject *context, ReadCallback done) override;
    void writeSecret(const QString &key, const QByteArray &secret, QObject *context,
        WriteCallback done) override;
    void removeSecret(const QString &key, QObject *context, WriteCallback done) override;
    QString backendName() const override;

private:
    QString m_service;
};

} // namespace sparky::admin
