#pragma once

// Stores for orchestrator tests: a SQLite file in a temporary directory, or a fresh
// database on the throwaway PostgreSQL cluster of the ctest fixture `postgres`
// ($SPARKY_TEST_POSTGRES_DIR/postgres.env, tests/fixtures/postgres.sh). The fixture's
// PGPASSFILE is exported into this process's environment, so child processes (the real
// orchestrator binary) find the password the same way libpq does — never on a command line.

#include "sparky/error.h"
#include "storesettings.h"

#include <QString>

namespace sparky::test {

orchestrator::StoreSettings sqliteStore(const QString &dir);

// Drops `name` if it exists and creates it empty on the fixture cluster.
Expected<orchestrator::StoreSettings> freshPostgresDatabase(const QString &name);

// "sqlite" or "postgres" → a store for one test (`tag` makes the name unique).
Expected<orchestrator::StoreSettings> storeFor(
    const QString &backend, const QString &dir, const QString &tag);

// The `store:` YAML section for `settings` (for configs of the real binary).
QByteArray storeYaml(const orchestrator::StoreSettings &settings);

} // namespace sparky::test
