#pragma once

// A SecretStore in process memory: for tests, and for a session whose token was typed in
// and should not be remembered. Answers asynchronously like the keychain does.
//
// Threading: the thread of the callers' contexts.

#include "secretstore.h"

#include <QHash>

namespace sparky::admin {

class MemorySecretStore final : public SecretStore
{
public:
    MemorySecretStore() = default;
    ~MemorySecretStore() override;
    Q_DISABLE_COPY_MOVE(MemorySecretStore)

    void readSecret(const QString &key, QObject *context, ReadCallback done) override;
    void writeSecret(const QString &key, const QByteArray &secret, QObject *context,
        WriteCallback done) override;
    void removeSecret(const QString &key, QObject *context, WriteCallback done) override;
    QString backendName() const override;

    // Test hooks: what is stored (synchronously), and a failure every call answers with.
    bool contains(const QString &key) const { return m_secrets.contains(key); }
    qsizetype size() const { return m_secrets.size(); }
    void setFailure(const QString &message) { m_failure = message; }

private:
    QHash<QString, QByteArray> m_secrets;
    QString m_failure;
};

} // namespace sparky::admin
