#include "postgresclient.h"

#include "borgcommands.h"

#include <QRegularExpression>

namespace sparky::agent {

using namespace Qt::StringLiterals;

QStringList PostgresClient::connectionArguments(const PostgresDumpConfig &db)
{
    QStringList a { u"--no-password"_s };
    if (!db.host.isEmpty())
        a << u"--host"_s << db.host;
    a << u"--port"_s << QString::number(db.port);
    if (!db.user.isEmpty())
        a << u"--username"_s << db.user;
    return a;
}

QProcessEnvironment PostgresClient::environment(const PostgresDumpConfig &db)
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    const QStringList keys = env.keys();
    for (const QString &k : keys)
        if (k.startsWith("BORG_"_L1) || k == "PGPASSWORD"_L1)
            env.remove(k);
    BorgCommands::addPostgresEnvironment(env, db);
    if (!env.contains(u"LANG"_s))
        env.insert(u"LANG"_s, u"C.UTF-8"_s);
    return env;
}

QStringList PostgresClient::createdbArguments(const PostgresDumpConfig &db, const QString &database)
{
    return connectionArguments(db) << u"--"_s << database;
}

QStringList PostgresClient::dropdbArguments(const PostgresDumpConfig &db, const QString &database)
{
    return connectionArguments(db) << u"--if-exists"_s << u"--force"_s << u"--"_s << database;
}

QStringList PostgresClient::pgRestoreArguments(
    const PostgresDumpConfig &db, const QString &database)
{
    return connectionArguments(db)
        << u"--dbname"_s << database << u"--single-transaction"_s << u"--exit-on-error"_s;
}

QStringList PostgresClient::psqlRestoreArguments(
    const PostgresDumpConfig &db, const QString &database)
{
    return connectionArguments(db)
        << u"--no-psqlrc"_s << u"--quiet"_s << u"--set"_s << u"ON_ERROR_STOP=1"_s
        << u"--single-transaction"_s << u"--dbname"_s << database;
}

QStringList PostgresClient::psqlQueryArguments(
    const PostgresDumpConfig &db, const QString &database, const QString &sql)
{
    return connectionArguments(db)
        << u"--no-psqlrc"_s << u"--quiet"_s << u"--no-align"_s << u"--tuples-only"_s << u"--set"_s
        << u"ON_ERROR_STOP=1"_s << u"--dbname"_s << database << u"--command"_s << sql;
}

QString PostgresClient::sanityQuery()
{
    // Exact counts without knowing the tables: query_to_xml runs one count(*) per table.
    return u"SELECT count(*) || '|' || coalesce(sum((xpath('/row/c/text()', "
           "query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), "
           "false, true, '')))[1]::text::bigint), 0) FROM information_schema.tables "
           "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
           "('pg_catalog', 'information_schema')"_s;
}

PostgresDumpConfig PostgresClient::settingsFor(const JobConfig &job, const QString &database)
{
    for (const PostgresDumpConfig &db : job.postgres)
        if (db.database == database)
            return db;
    return job.postgresDefaults;
}

bool PostgresClient::isAcceptableTarget(const QString &name)
{
    static const QRegularExpression re(u"^[A-Za-z0-9_][A-Za-z0-9_.$-]{0,62}$"_s);
    return re.match(name).hasMatch() && name != "template0"_L1 && name != "template1"_L1;
}

} // namespace sparky::agent
