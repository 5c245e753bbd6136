#include "profilestore.h"

#include "adminlogging.h"

namespace sparky::admin {

using namespace Qt::StringLiterals;

namespace {
constexpr QLatin1StringView kGroup { "profiles" };
}

ProfileStore::ProfileStore()
    : m_settings(std::make_unique<QSettings>(
        QSettings::IniFormat, QSettings::UserScope, u"sparky"_s, u"sparky-admin"_s))
{ }

ProfileStore::ProfileStore(const QString &iniPath)
    : m_settings(std::make_unique<QSettings>(iniPath, QSettings::IniFormat))
{ }

ProfileStore::~ProfileStore() = default;

QString ProfileStore::fileName() const
{
    return m_settings->fileName();
}

QStringList ProfileStore::names() const
{
    m_settings->beginGroup(kGroup);
    QStringList names = m_settings->childGroups();
    m_settings->endGroup();
    names.removeIf([](const QString &n) { return !ConnectionProfile::isValidName(n); });
    names.sort();
    return names;
}

bool ProfileStore::contains(const QString &name) const
{
    return ConnectionProfile::isValidName(name) && names().contains(name);
}

Expected<ConnectionProfile> ProfileStore::load(const QString &name) const
{
    if (!contains(name)) {
        const QStringList known = names();
        return unexpected(ErrorCode::NotFound,
            u"no connection profile '%1' in %2 (known: %3)"_s.arg(
                name, fileName(), known.isEmpty() ? u"none"_s : known.join(u", "_s)));
    }
    ConnectionProfile p;
    m_settings->beginGroup(kGroup + u'/' + name);
    p.name = name;
    p.hosts = m_settings->value(u"hosts"_s).toStringList();
    p.vhost = m_settings->value(u"vhost"_s, u"sparky"_s).toString();
    p.user = m_settings->value(u"user"_s).toString();
    p.caFile = m_settings->value(u"ca_file"_s).toString();
    p.certFile = m_settings->value(u"cert_file"_s).toString();
    p.keyFile = m_settings->value(u"key_file"_s).toString();
    m_settings->endGroup();
    return p;
}

Result ProfileStore::save(const ConnectionProfile &profile)
{
    if (auto ok = profile.validate(); !ok)
        return ok.error().wrapped(u"profile '%1'"_s.arg(profile.name));
    m_settings->remove(kGroup + u'/' + profile.name);
    m_settings->beginGroup(kGroup + u'/' + profile.name);
    m_settings->setValue(u"hosts"_s, profile.hosts);
    m_settings->setValue(u"vhost"_s, profile.vhost);
    m_settings->setValue(u"user"_s, profile.user);
    m_settings->setValue(u"ca_file"_s, profile.caFile);
    if (!profile.certFile.isEmpty()) {
        m_settings->setValue(u"cert_file"_s, profile.certFile);
        m_settings->setValue(u"key_file"_s, profile.keyFile);
    }
    m_settings->endGroup();
    qCInfo(lcAdminProfiles).noquote()
        << "saved connection profile" << profile.name << "in" << fileName();
    return sync();
}

Result ProfileStore::remove(const QString &name)
{
    if (!contains(name))
        return unexpected(ErrorCode::NotFound, u"no connection profile '%1'"_s.arg(name));
    m_settings->remove(kGroup + u'/' + name);
    if (m_settings->value(u"last_used"_s).toString() == name)
        m_settings->remove(u"last_used"_s);
    return sync();
}

QString ProfileStore::defaultProfile() const
{
    const QString last = m_settings->value(u"last_used"_s).toString();
    if (contains(last))
        return last;
    const QStringList all = names();
    return all.size() == 1 ? all.first() : QString();
}

void ProfileStore::setLastUsed(const QString &name)
{
    m_settings->setValue(u"last_used"_s, name);
    (void)sync();
}

Result ProfileStore::sync()
{
    m_settings->sync();
    switch (m_settings->status()) {
    case QSettings::NoError:
        return {};
    case QSettings::AccessError:
        return unexpected(ErrorCode::Io, u"cannot write the settings file %1"_s.arg(fileName()));
    case QSettings::FormatError:
        return unexpected(
            ErrorCode::Parse, u"the settings file %1 is not a valid INI file"_s.arg(fileName()));
    }
    return {};
}

} // namespace sparky::admin
