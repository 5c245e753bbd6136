#include "memorysecretstore.h"

#include <QMetaObject>

namespace sparky::admin {

using namespace Qt::StringLiterals;

MemorySecretStore::~MemorySecretStore() = default;

void MemorySecretStore::readSecret(const QString &key, QObject *context, ReadCallback done)
{
    Expected<QByteArray> answer = m_failure.isEmpty()
        ? (m_secrets.contains(key)
                ? Expected<QByteArray>(m_secrets.value(key))
                : Expected<QByteArray>(unexpected(ErrorCode::NotFound,
                    u"no secret stored for '%1' in the %2"_s.arg(key, backendName()))))
        : Expected<QByteArray>(unexpected(ErrorCode::Unavailable, m_failure));
    QMetaObject::invokeMethod(
        context, [done = std::move(done), answer] { done(answer); }, Qt::QueuedConnection);
}

void MemorySecretStore::writeSecret(
    const QString &key, const QByteArray &secret, QObject *context, WriteCallback done)
{
    Result answer;
    if (!m_failure.isEmpty())
        answer = unexpected(ErrorCode::Unavailable, m_failure);
    else
        m_secrets.insert(key, secret);
    QMetaObject::invokeMethod(
        context, [done = std::move(done), answer] { done(answer); }, Qt::QueuedConnection);
}

void MemorySecretStore::removeSecret(const QString &key, QObject *context, WriteCallback done)
{
    Result answer;
    if (!m_failure.isEmpty())
        answer = unexpected(ErrorCode::Unavailable, m_failure);
    else
        m_secrets.remove(key);
    QMetaObject::invokeMethod(
        context, [done = std::move(done), answer] { done(answer); }, Qt::QueuedConnection);
}

QString MemorySecretStore::backendName() const
{
    return u"in-memory secret store"_s;
}

} // namespace sparky::admin
