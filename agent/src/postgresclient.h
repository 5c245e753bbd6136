#pragma once

// Command lines for the PostgreSQL client programs a restore or drill runs — createdb,
// dropdb, pg_restore, psql — with a job's connection settings (host, port, user; the
// password only ever through PGPASSFILE, and --no-password so nothing waits for a prompt).
// Pure functions; thread-safe.

#include "agentconfig.h"

#include <QProcessEnvironment>
#include <QStringList>

namespace sparky::agent {

class PostgresClient final
{
public:
    // --no-password [--host H] --port P [--username U]
    static QStringList connectionArguments(const PostgresDumpConfig &db);
    // The system environment without BORG_* and PGPASSWORD, plus PGPASSFILE etc.
    static QProcessEnvironment environment(const PostgresDumpConfig &db);

    static QStringList createdbArguments(const PostgresDumpConfig &db, const QString &database);
    static QStringList dropdbArguments(const PostgresDumpConfig &db, const QString &database);
    // Reads a custom-format dump from stdin into `database`, all or nothing.
    static QStringList pgRestoreArguments(const PostgresDumpConfig &db, const QString &database);
    // Reads a plain SQL dump from stdin into `database`, all or nothing, stopping at the
    // first error.
    static QStringList psqlRestoreArguments(const PostgresDumpConfig &db, const QString &database);
    // One query, unaligned tuples-only output.
    static QStringList psqlQueryArguments(
        const PostgresDumpConfig &db, const QString &database, const QString &sql);

    // "tables|rows" of the user tables of a database (exact row counts).
    static QString sanityQuery();
    // The connection settings the job uses for `database` (its own entry, else the
    // postgres section's defaults).
    static PostgresDumpConfig settingsFor(const JobConfig &job, const QString &database);
    // Whether `name` is a database name the agent restores into: the config's rules
    // ([A-Za-z0-9_][A-Za-z0-9_.$-]{0,62}), and never template0/template1.
    static bool isAcceptableTarget(const QString &name);
};

} // namespace sparky::agent
