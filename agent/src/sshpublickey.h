#pragma once

// An OpenSSH public key as a client agent sends it for authorized_keys: "<type> <base64>
// [comment]" and nothing else. parse() is strict because the text ends up in a file sshd
// trusts: only ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa of at least 3072 bits;
// the base64 must be canonical and decode to a well-formed key blob whose embedded type
// matches; no options (command=, from=, …), quotes, line breaks or other control
// characters anywhere. The comment is dropped: only type and key are ever written out.
// Value type; thread-safe.

#include "sparky/error.h"

#include <QByteArray>
#include <QString>

namespace sparky::agent {

struct SshPublicKey
{
    static constexpr qsizetype kMaxText = 16 * 1024;
    static constexpr int kMinRsaBits = 3072;

    QString type; // ssh-ed25519 | ecdsa-sha2-nistp256 | … | ssh-rsa
    QByteArray blob; // the decoded key blob
    int bits = 0; // 256 for ed25519, the curve size for ecdsa, the modulus for rsa

    QString base64() const { return QString::fromLatin1(blob.toBase64()); }
    // "SHA256:<base64 without padding>", as `ssh-keygen -l` prints it.
    QString fingerprint() const;
    QString toString() const { return type + u' ' + base64(); }

    static Expected<SshPublicKey> parse(const QString &text);
};

} // namespace sparky::agent
