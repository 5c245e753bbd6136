#pragma once

// Where a restore may write. A target must be an absolute path; it is resolved the way the
// kernel will resolve it when borg writes there (symlinks of every existing ancestor
// followed, '..' refused outright rather than interpreted) and must then lie under one of
// the configured restore roots (themselves resolved) — unless the node's own config sets
// restore.allow_in_place. Without a target the restore goes to <first root>/<name>, name
// being the command id (or run id).
//
// check() only decides; prepare() also creates the directory (0700, roots included) and
// checks again what it created, so a symlink planted in between is caught.
// Stateless; thread-safe (touches the file system only in prepare()).

#include "agentconfig.h"
#include "sparky/error.h"

#include <QString>

namespace sparky::agent {

class RestoreTarget final
{
public:
    // The resolved target directory, or why it is refused (ErrorCode::AccessRefused for
    // "outside the roots", Validation for a malformed path).
    static Expected<QString> check(
        const RestoreConfig &config, const QString &requested, const QString &defaultName);
    static Expected<QString> prepare(
        const RestoreConfig &config, const QString &requested, const QString &defaultName);

    // `path` (absolute, no '..') with the symlinks of its longest existing ancestor
    // resolved; the part that does not exist yet is appended as it is. Empty when an
    // ancestor is a dangling symlink (or a loop).
    static QString resolve(const QString &path);
    // Whether `path` is `root` or lies below it (both resolved, compared component-wise).
    static bool isUnder(const QString &path, const QString &root);
};

} // namespace sparky::agent
