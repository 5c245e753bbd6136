#include "teststore.h"

#include <QFile>
#include <QHash>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>

namespace sparky::test {

using namespace Qt::StringLiterals;
using orchestrator::StoreSettings;

namespace {

Expected<QHash<QString, QString>> postgresEnv()
{
    const QString dir = qEnvironmentVariable("SPARKY_TEST_POSTGRES_DIR");
    if (dir.isEmpty())
        return unexpected(
            ErrorCode::Config, u"SPARKY_TEST_POSTGRES_DIR is not set (run through ctest)"_s);
    QFile f(dir + u"/postgres.env"_s);
    if (!f.open(QIODevice::ReadOnly))
        return unexpected(ErrorCode::NotFound,
            u"%1: %2 — is the ctest fixture 'postgres' running?"_s.arg(
                f.fileName(), f.errorString()));
    QHash<QString, QString> env;
    for (const QByteArray &raw : f.readAll().split('\n')) {
        const QString line = QString::fromUtf8(raw).trimmed();
        const qsizetype eq = line.indexOf(u'=');
        if (eq > 0 && !line.startsWith(u'#'))
            env.insert(line.left(eq), line.mid(eq + 1));
    }
    return env;
}

} // namespace

StoreSettings sqliteStore(const QString &dir)
{
    return StoreSettings::sqlite(dir + u"/orchestrator.db"_s);
}

Expected<StoreSettings> freshPostgresDatabase(const QString &name)
{
    auto env = postgresEnv();
    if (!env)
        return env.error();
    qputenv("PGPASSFILE", env->value(u"PGPASSFILE"_s).toUtf8());
    StoreSettings s;
    s.driver = StoreSettings::Driver::Postgres;
    s.host = env->value(u"PGHOST"_s);
    s.port = quint16(env->value(u"PGPORT"_s).toUInt());
    s.user = env->value(u"PGUSER"_s);
    s.database = name;
    s.connectTimeout = std::chrono::seconds(5);
    const QString conn = u"sparky-test-admin-"_s + name;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QPSQL"_s, conn);
        db.setHostName(s.host);
        db.setPort(s.port);
        db.setUserName(s.user);
        db.setDatabaseName(u"postgres"_s);
        if (!db.open()) {
            const QString e = db.lastError().text();
            db = QSqlDatabase();
            QSqlDatabase::removeDatabase(conn);
            return unexpected(ErrorCode::Unavailable, u"connecting to the test PostgreSQL: "_s + e);
        }
        QSqlQuery q(db);
        // WITH (FORCE) ends sessions a crashed earlier run may have left behind.
        if (!q.exec(u"DROP DATABASE IF EXISTS \"%1\" WITH (FORCE)"_s.arg(name))
            || !q.exec(u"CREATE DATABASE \"%1\""_s.arg(name))) {
            const QString e = q.lastError().text();
            q = QSqlQuery();
            db.close();
            db = QSqlDatabase();
            QSqlDatabase::removeDatabase(conn);
            return unexpected(ErrorCode::Io, u"creating test database %1: %2"_s.arg(name, e));
        }
        q = QSqlQuery();
        db.close();
    }
    QSqlDatabase::removeDatabase(conn);
    return s;
}

Expected<StoreSettings> storeFor(const QString &backend, const QString &dir, const QString &tag)
{
    if (backend == u"sqlite")
        return sqliteStore(dir);
    if (backend == u"postgres") {
        QString name = u"sparky_"_s + tag.toLower();
        for (QChar &c : name)
            if (!c.isLetterOrNumber())
                c = u'_';
        return freshPostgresDatabase(name.left(60));
    }
    return unexpected(ErrorCode::InvalidArgument, u"unknown backend "_s + backend);
}

QByteArray storeYaml(const StoreSettings &s)
{
    if (s.driver == StoreSettings::Driver::Sqlite)
        return "store:\n  driver: sqlite\n  path: " + s.path.toUtf8() + "\n";
    return "store:\n  driver: postgres\n  host: " + s.host.toUtf8()
        + "\n  port: " + QByteArray::number(s.port) + "\n  database: " + s.database.toUtf8()
        + "\n  user: " + s.user.toUtf8() + "\n";
}

} // namespace sparky::test
