#pragma once

// Connection profiles in a settings file (INI; by default the user's
// ~/.config/sparky/sparky-admin.ini), one group per profile. Tokens are never written
// here — they go to a SecretStore under ConnectionProfile::secretKey().
//
// Threading: GUI thread.

#include "connectionprofile.h"

#include <QSettings>
#include <memory>

namespace sparky::admin {

class ProfileStore final
{
public:
    // The user's settings file.
    ProfileStore();
    // A given INI file (tests, --settings).
    explicit ProfileStore(const QString &iniPath);
    ~ProfileStore();
    Q_DISABLE_COPY_MOVE(ProfileStore)

    QStringList names() const; // sorted
    bool contains(const QString &name) const;
    Expected<ConnectionProfile> load(const QString &name) const;
    // Validates, then writes (replacing a profile of the same name).
    Result save(const ConnectionProfile &profile);
    Result remove(const QString &name);

    // The profile to open when none is named: the last one used, else the only one.
    QString defaultProfile() const;
    void setLastUsed(const QString &name);

    QString fileName() const;
    Result sync(); // flushes to disk; names the file on failure

private:
    std::unique_ptr<QSettings> m_settings;
};

} // namespace sparky::admin
