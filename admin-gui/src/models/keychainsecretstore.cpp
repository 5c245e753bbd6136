#include "keychainsecretstore.h"

#include "adminlogging.h"

#include <qt6keychain/keychain.h>

namespace sparky::admin {

using namespace Qt::StringLiterals;

namespace {

Error keychainError(const QKeychain::Job &job, const QString &what)
{
    const QString detail = job.errorString();
    switch (job.error()) {
    case QKeychain::EntryNotFound:
        return Error(
            ErrorCode::NotFound, u"%1: no secret stored in the desktop keychain"_s.arg(what));
    case QKeychain::AccessDeniedByUser:
    case QKeychain::AccessDenied:
        return Error(ErrorCode::AccessRefused,
            u"%1: the desktop keychain refused access: %2"_s.arg(what, detail));
    case QKeychain::NoBackendAvailable:
    case QKeychain::NotImplemented:
        return Error(ErrorCode::Unavailable,
            u"%1: no desktop keychain is available (is a Secret Service such as "
            "gnome-keyring or KWallet running?): %2"_s.arg(what, detail));
    default:
        // QtKeychain says little here (often "Unknown error", e.g. with no D-Bus session
        // at all): say what usually causes it and what to do.
        return Error(ErrorCode::Io,
            u"%1: the desktop keychain failed (%2) — is a Secret Service such as gnome-keyring "
            "or KWallet running and unlocked in this session? Without one, untick \"Remember "
            "the token\" to use the token for this session only"_s.arg(what, detail));
    }
}

} // namespace

KeychainSecretStore::KeychainSecretStore(QString service)
    : m_service(std::move(service))
{ }

KeychainSecretStore::~KeychainSecretStore() = default;

void KeychainSecretStore::readSecret(const QString &key, QObject *context, ReadCallback done)
{
    auto *job = new QKeychain::ReadPasswordJob(m_service);
    job->setAutoDelete(true);
    job->setInsecureFallback(false);
    job->setKey(key);
    QObject::connect(
        job, &QKeychain::Job::finished, context, [done = std::move(done), key](QKeychain::Job *j) {
            if (j->error() != QKeychain::NoError) {
                done(keychainError(*j, u"reading the token of '%1'"_s.arg(key)));
                return;
            }
            done(static_cast<QKeychain::ReadPasswordJob *>(j)->binaryData());
        });
    job->start();
}

void KeychainSecretStore::writeSecret(
    const QString &key, const QByteArray &secret, QObject *context, WriteCallback done)
{
    auto *job = new QKeychain::WritePasswordJob(m_service);
    job->setAutoDelete(true);
    job->setInsecureFallback(false);
    job->setKey(key);
    job->setBinaryData(secret);
    QObject::connect(
        job, &QKeychain::Job::finished, context, [done = std::move(done), key](QKeychain::Job *j) {
            if (j->error() != QKeychain::NoError) {
                done(keychainError(*j, u"storing the token of '%1'"_s.arg(key)));
                return;
            }
            qCInfo(lcAdminProfiles).noquote() << "stored the token of" << key << "in the keychain";
            done(Result());
        });
    job->start();
}

void KeychainSecretStore::removeSecret(const QString &key, QObject *context, WriteCallback done)
{
    auto *job = new QKeychain::DeletePasswordJob(m_service);
    job->setAutoDelete(true);
    job->setInsecureFallback(false);
    job->setKey(key);
    QObject::connect(
        job, &QKeychain::Job::finished, context, [done = std::move(done), key](QKeychain::Job *j) {
            if (j->error() != QKeychain::NoError && j->error() != QKeychain::EntryNotFound) {
                done(keychainError(*j, u"removing the token of '%1'"_s.arg(key)));
                return;
            }
            done(Result());
        });
    job->start();
}

QString KeychainSecretStore::backendName() const
{
    return u"desktop keychain"_s;
}

} // namespace sparky::admin
