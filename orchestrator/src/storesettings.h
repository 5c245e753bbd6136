#pragma once

// Where the orchestrator keeps its store. Parsed from the `store:` section:
//
//   store:
//     driver: sqlite                       # sqlite (default) | postgres
//     path: /var/lib/sparky/orchestrator.db
//
//   store:
//     driver: postgres
//     host: db.example.net                 # or dsn:
//     postgresql://sparky@db.example.net:5432/sparky?sslmode=verify-full port: 5432 database:
//     sparky user: sparky password_file: /etc/sparky/db.password   # 0600; or leave out and use
//     PGPASSFILE / ~/.pgpass sslmode: verify-full sslrootcert: /etc/sparky/db-ca.pem
//     connect_timeout: 10s
//
// Passwords are never accepted inline (not in the DSN either). Plain value type.

#include "sparky/config.h"
#include "sparky/error.h"

#include <QString>
#include <chrono>

namespace sparky::orchestrator {

struct StoreSettings
{
    enum class Driver { Sqlite, Postgres };
    Driver driver = Driver::Sqlite;
    QString path = QStringLiteral("/var/lib/sparky/orchestrator.db"); // sqlite
    QString host; // postgres
    quint16 port = 5432;
    QString database = QStringLiteral("sparky");
    QString user;
    QString passwordFile;
    QString sslMode;
    QString sslRootCert;
    std::chrono::seconds connectTimeout { 10 };

    static StoreSettings sqlite(const QString &path);
    // postgresql://user@host:port/database?sslmode=…&sslrootcert=…  (no password)
    static Expected<StoreSettings> fromDsn(const QString &dsn);
    static StoreSettings fromConfig(const config::Node &store);

    QString describe() const; // for logs: "sqlite /path" or "postgres user@host:port/db"
};

} // namespace sparky::orchestrator
