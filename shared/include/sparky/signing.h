#pragma once

// Ed25519 signing of commands (OpenSSL). The orchestrator signs every command; the agent
// pins the orchestrator's public key in its config and verifies signature, target node,
// issue time and expiry itself, because the broker is not trusted to drop stale or forged
// messages. Keys are immutable after construction and safe to use from any thread.

#include "sparky/envelope.h"
#include "sparky/error.h"

#include <QByteArray>
#include <QDateTime>
#include <QString>

#include <chrono>
#include <memory>

namespace sparky {

class SigningKey final
{
public:
    static Expected<SigningKey> generate();
    // PEM (PKCS#8) private key from a file that must be mode 0600/0400.
    static Expected<SigningKey> load(const QString &path);
    static Expected<SigningKey> fromPem(const QByteArray &pem);

    QByteArray toPem() const;               // PKCS#8 PEM private key — handle as a secret
    QByteArray publicKeyRaw() const;        // 32 bytes
    QString publicKeyBase64() const;        // what agents pin in their config
    Expected<QByteArray> sign(QByteArrayView data) const; // 64 bytes

private:
    struct Impl;
    explicit SigningKey(std::shared_ptr<const Impl> impl);
    std::shared_ptr<const Impl> m_impl;
};

class VerifyKey final
{
public:
    static Expected<VerifyKey> fromRaw(const QByteArray &raw32);
    static Expected<VerifyKey> fromBase64(const QString &base64);

    bool verify(QByteArrayView data, QByteArrayView signature) const;
    QString toBase64() const;

private:
    struct Impl;
    explicit VerifyKey(std::shared_ptr<const Impl> impl);
    std::shared_ptr<const Impl> m_impl;
};

// Sets `expires` (= ts + lifetime) and `signature` on a command envelope.
Result signCommand(Envelope &command, const SigningKey &key, std::chrono::seconds lifetime);

struct CommandCheck
{
    QString node;               // this agent's node id; the command must target it
    QDateTime now;              // injected clock
    std::chrono::seconds maxClockSkew{300};   // how far in the future `ts` may be
    std::chrono::seconds maxLifetime{7 * 24 * 3600}; // exp - ts may not exceed this
};

// Signature (against `key`), target node, issue time and expiry. Each failure is a distinct,
// readable error (Crypto for signatures, Expired for expiry, Validation for the rest).
Result verifyCommand(const Envelope &command, const VerifyKey &key, const CommandCheck &check);

} // namespace sparky
