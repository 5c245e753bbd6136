#include "storesettings.h"

#include <QUrl>
#include <QUrlQuery>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

StoreSettings StoreSettings::sqlite(const QString &path)
{
    StoreSettings s;
    s.driver = Driver::Sqlite;
    s.path = path;
    return s;
}

Expected<StoreSettings> StoreSettings::fromDsn(const QString &dsn)
{
    const QUrl url(dsn, QUrl::StrictMode);
    if (!url.isValid())
        return unexpected(ErrorCode::Config, u"store DSN is not a valid URL"_s);
    StoreSettings s;
    const QString scheme = url.scheme();
    if (scheme == u"sqlite") {
        s.driver = Driver::Sqlite;
        s.path = url.path();
        if (s.path.isEmpty())
            return unexpected(ErrorCode::Config, u"store DSN sqlite:///PATH needs a path"_s);
        return s;
    }
    if (scheme != u"postgresql" && scheme != u"postgres")
        return unexpected(
            ErrorCode::Config, u"store DSN scheme '%1' is not sqlite or postgresql"_s.arg(scheme));
    if (!url.password().isEmpty())
        return unexpected(ErrorCode::Config,
            u"store DSN must not carry a password: use store.password_file (0600) "
            "or PGPASSFILE"_s);
    s.driver = Driver::Postgres;
    s.host = url.host();
    if (url.port() > 0)
        s.port = quint16(url.port());
    s.user = url.userName();
    const QString db = url.path().mid(1);
    if (!db.isEmpty())
        s.database = db;
    const QUrlQuery q(url);
    for (const auto &[key, value] : q.queryItems(QUrl::FullyDecoded)) {
        if (key == u"sslmode")
            s.sslMode = value;
        else if (key == u"sslrootcert")
            s.sslRootCert = value;
        else if (key == u"connect_timeout")
            s.connectTimeout = std::chrono::seconds(value.toInt());
        else
            return unexpected(
                ErrorCode::Config, u"store DSN: unsupported parameter '%1'"_s.arg(key));
    }
    if (s.host.isEmpty())
        return unexpected(ErrorCode::Config, u"store DSN needs a host"_s);
    return s;
}

StoreSettings StoreSettings::fromConfig(const config::Node &store)
{
    StoreSettings s;
    if (!store.isDefined())
        return s; // the default: SQLite at the default path
    store.allowKeys({ "driver", "path", "dsn", "host", "port", "database", "user", "password_file",
        "sslmode", "sslrootcert", "connect_timeout" });
    if (const QString dsn = store.string(u"dsn"_s); !dsn.isEmpty()) {
        auto parsed = fromDsn(dsn);
        if (!parsed) {
            store.child(u"dsn"_s).error(parsed.error().message);
            return s;
        }
        s = *parsed;
    } else {
        const QString driver = store.string(u"driver"_s, u"sqlite"_s);
        if (driver == u"sqlite")
            s.driver = Driver::Sqlite;
        else if (driver == u"postgres" || driver == u"postgresql")
            s.driver = Driver::Postgres;
        else
            store.child(u"driver"_s).error(u"'%1' is not sqlite or postgres"_s.arg(driver));
        s.path = store.string(u"path"_s, s.path);
        s.host = store.string(u"host"_s);
        s.port = quint16(store.integer(u"port"_s, 5432, 1, 65535));
        s.database = store.string(u"database"_s, s.database);
        s.user = store.string(u"user"_s);
        s.sslMode = store.string(u"sslmode"_s);
        s.sslRootCert = store.string(u"sslrootcert"_s);
    }
    s.passwordFile = store.string(u"password_file"_s);
    s.connectTimeout = store.duration(u"connect_timeout"_s, s.connectTimeout);
    if (s.driver == Driver::Postgres && s.host.isEmpty())
        store.child(u"host"_s).error(u"postgres needs a host (or a dsn)"_s);
    if (s.driver == Driver::Sqlite && s.path.isEmpty())
        store.child(u"path"_s).error(u"sqlite needs a path"_s);
    return s;
}

QString StoreSettings::describe() const
{
    if (driver == Driver::Sqlite)
        return u"sqlite "_s + path;
    return u"postgres %1@%2:%3/%4"_s.arg(user, host).arg(port).arg(database);
}

} // namespace sparky::orchestrator
