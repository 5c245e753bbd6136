#pragma once

// The store's schema as forward-only, numbered migrations (docs/orchestrator.md "Store").
// Each migration's statements run in one transaction; the applied version is recorded in
// schema_version. The SQL is identical on SQLite and PostgreSQL.

#include <QList>
#include <QString>
#include <QStringList>

namespace sparky::orchestrator {

struct Migration
{
    int version = 0;
    QString description;
    QStringList statements;
};

// Every migration, in version order.
const QList<Migration> &schemaMigrations();
int latestSchemaVersion();

} // namespace sparky::orchestrator
