#pragma once

// Where the console keeps a profile's broker token: never in the settings file, never in a
// log line. A thin asynchronous interface so the real store (KeychainSecretStore: the
// desktop's Secret Service / KWallet through QtKeychain) and the test store
// (MemorySecretStore) are interchangeable.
//
// Callbacks run later on the caller's thread (never inside the call), and not at all if
// `context` is destroyed first. A missing secret is ErrorCode::NotFound.

#include "sparky/error.h"

#include <QByteArray>
#include <QObject>
#include <QString>
#include <functional>

namespace sparky::admin {

class SecretStore
{
public:
    using ReadCallback = std::function<void(const Expected<QByteArray> &)>;
    using WriteCallback = std::function<void(const Result &)>;

    SecretStore() = default;
    virtual ~SecretStore();
    Q_DISABLE_COPY_MOVE(SecretStore)

    virtual void readSecret(const QString &key, QObject *context, ReadCallback done) = 0;
    virtual void writeSecret(
        const QString &key, const QByteArray &secret, QObject *context, WriteCallback done)
        = 0;
    virtual void removeSecret(const QString &key, QObject *context, WriteCallback done) = 0;
    // For messages: "desktop keychain", "memory".
    virtual QString backendName() const = 0;
};

} // namespace sparky::admin
