#pragma once

// Archive names from a job's `archive_name` pattern. The agent expands every placeholder
// itself (borg sees a plain name), so it knows the name before borg runs and can build an
// exact --glob-archives pattern for prune:
//
//   {hostname} {node} {job} {user} {now} {now:FMT} {utcnow} {utcnow:FMT}
//
// FMT is strftime-like: %Y %m %d %H %M %S %f (microseconds) %y %j %F %T %%. {job} is mandatory: it
// carries the archive *series* ("etc" for the files, "etc.pg-app" for the dump of database app, …),
// so each series is pruned on its own. Stateless; thread-safe.

#include "sparky/error.h"

#include <QDateTime>
#include <QString>

namespace sparky::agent {

struct ArchiveNameContext
{
    QString hostname;
    QString node;
    QString series; // replaces {job}
    QString user;
};

class ArchiveName final
{
public:
    static Result validatePattern(const QString &pattern);
    // The name for an archive made at `now` (local time of the agent for {now}).
    static QString expand(
        const QString &pattern, const ArchiveNameContext &context, const QDateTime &now);
    // A borg shell-style pattern matching exactly the names expand() makes for this series.
    static QString glob(const QString &pattern, const ArchiveNameContext &context);
};

} // namespace sparky::agent
