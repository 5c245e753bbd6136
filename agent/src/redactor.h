#pragma once

// Removes secrets from text that leaves the process (log tails in run reports, errors):
// the configured secret values (passphrases, tokens), passwords in URLs
// (scheme://user:PASSWORD@host), and KEY=value / key: value pairs whose key names a secret
// (BORG_PASSPHRASE, PGPASSWORD, password, token, secret, …). Each is replaced by "***".
// Value type; thread-safe for concurrent const use.

#include <QString>
#include <QStringList>

namespace sparky::agent {

class Redactor final
{
public:
    // Values shorter than 4 characters are ignored (they would shred ordinary text).
    void addSecret(const QString &value);
    QString redact(const QString &text) const;

private:
    QStringList m_secrets; // longest first, so a secret containing another goes whole
};

} // namespace sparky::agent
