#include "redactor.h"

#include <QRegularExpression>
#include <algorithm>

namespace sparky::agent {

using namespace Qt::StringLiterals;

void Redactor::addSecret(const QString &value)
{
    const QString v = value.trimmed();
    if (v.size() < 4 || m_secrets.contains(v))
        return;
    m_secrets.append(v);
    std::sort(m_secrets.begin(), m_secrets.end(),
        [](const QString &a, const QString &b) { return a.size() > b.size(); });
}

QString Redactor::redact(const QString &text) const
{
    QString out = text;
    for (const QString &s : m_secrets)
        out.replace(s, u"***"_s);
    // scheme://user:password@host
    static const QRegularExpression urlPassword(
        u"([A-Za-z][A-Za-z0-9+.-]*://[^\\s:/@]+):[^\\s@/]+@"_s);
    out.replace(urlPassword, u"\\1:***@"_s);
    // KEY=value, key: value, "key": "value" where the key names a secret
    static const QRegularExpression keyValue(
        u"(?i)(\\b[\\w.-]*(?:passphrase|password|passwd|pwd|secret|token|api[_-]?key)[\\w.-]*\"?\\s*[=:]\\s*\"?)([^\\s\"',;&]+)"_s);
    out.replace(keyValue, u"\\1***"_s);
    return out;
}

} // namespace sparky::agent
