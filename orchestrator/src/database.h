#pragma once

// One Qt Sql connection to the orchestrator's store (SQLite or PostgreSQL) with the schema
// migrated to the current version.
//
// Threading: a Database belongs to the thread that opened it (Qt Sql connections are
// per-thread); every object that queries through it must live on that thread. Not a
// QObject: owned by value through std::unique_ptr.
//
// SQL is the same on both engines: times are BIGINT milliseconds since the epoch (UTC), JSON
// is TEXT, idempotent writes use INSERT … ON CONFLICT (SQLite ≥ 3.24, PostgreSQL ≥ 9.5) and
// RETURNING (SQLite ≥ 3.35). The only dialect-specific calls are the advisory lock
// (PostgreSQL: pg_try_advisory_lock; SQLite: one process owns the file) and the SQLite
// pragmas.

#include "sparky/error.h"
#include "storesettings.h"

#include <QSqlDatabase>
#include <QSqlQuery>
#include <QString>
#include <QVariant>
#include <memory>
#include <unordered_map>

namespace sparky::orchestrator {

class Database final
{
public:
    enum class Dialect { Sqlite, Postgres };

    // Opens the connection (`connectionName` must be unique in the process), applies the
    // SQLite pragmas (WAL, synchronous=FULL, busy timeout) and, with `migrate`, the pending
    // schema migrations.
    static Expected<std::unique_ptr<Database>> open(
        const StoreSettings &settings, const QString &connectionName, bool migrate = true);
    ~Database(); // closes and removes the Qt Sql connection

    Database(const Database &) = delete;
    Database &operator=(const Database &) = delete;

    QSqlDatabase db() const;
    Dialect dialect() const { return m_dialect; }
    const StoreSettings &settings() const { return m_settings; }
    QString connectionName() const { return m_name; }

    // Applies every migration newer than the stored version, each in its own transaction
    // (PostgreSQL: under an advisory lock so replicas starting together migrate once).
    Result migrate();
    Expected<int> schemaVersion() const;

    // Cheap liveness check (SELECT 1); reopens a dropped connection once.
    Result ping();

    // Singleton duties: PostgreSQL session advisory lock (released when the connection
    // ends); SQLite: always true (one process owns the file).
    Expected<bool> tryAdvisoryLock(qint64 key);
    Expected<bool> holdsAdvisoryLock(qint64 key);
    Result releaseAdvisoryLock(qint64 key);

    Result begin();
    Result commit();
    void rollback();

    // Prepares `sql` (positional ? placeholders), binds `values` and executes it.
    Expected<QSqlQuery> exec(const QString &sql, const QVariantList &values = {}) const;
    // The same through a per-connection cache of prepared statements (hot paths: one
    // prepare per statement text, not per call). The query stays owned by the cache and is
    // valid until the next run() of the same text; call finish() after reading rows.
    Expected<QSqlQuery *> run(const QString &sql, const QVariantList &values = {});

private:
    Database() = default;
    Result openConnection();

    StoreSettings m_settings;
    std::unordered_map<QString, std::unique_ptr<QSqlQuery>> m_cache;
    QString m_name;
    Dialect m_dialect = Dialect::Sqlite;
};

// A typed SQL NULL for binding (QPSQL needs to know it is not text).
QVariant sqlNull();
// "error text" of a failed query, with what was being done.
Error sqlError(const QSqlQuery &query, const QString &what);
Error sqlError(const QSqlDatabase &db, const QString &what);

} // namespace sparky::orchestrator
