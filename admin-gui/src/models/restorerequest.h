#pragma once

// What the restore dialog asks for, as restore.start params (docs/restore.md): files of
// one archive into a target directory (or the agent's default under its restore root),
// with strip components; or, for a database dump archive, the database to restore into.
// The agent checks the rest (the target lies under its restore roots) and refuses with a
// reason. A plain value.

#include "sparky/error.h"

#include <QJsonObject>
#include <QStringList>

namespace sparky::admin {

struct RestoreRequest
{
    QString node;
    QString job;
    QString archive;
    QStringList paths; // archive paths; empty = the whole archive
    QString target; // absolute directory on the node; empty = the agent's default
    int stripComponents = 0;
    bool databaseArchive = false; // the archive is a database dump (kind "database")
    QString sourceDatabase; // the database the dump was taken from (shown, never sent)
    QString database; // restore the dump into this database (database archives only)
    bool createDatabase = false;

    // Names the field the orchestrator or agent would refuse.
    Result validate() const;
    QJsonObject toParams() const;
};

} // namespace sparky::admin
