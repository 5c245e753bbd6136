#pragma once

// Secrets come from files only readable by their owner (or from the keychain in the GUI),
// never from the command line, and never reach a log line, a message, a metric or the store.

#include "sparky/error.h"

#include <QByteArray>
#include <QString>

namespace sparky {

// Reads a secret from `path`. Refuses a file that is not a regular file or that group or
// others may read or write (mode must be 0600 or 0400), naming the mode it found.
// Trailing newlines are stripped. The contents never appear in the error.
Expected<QByteArray> readSecretFile(const QString &path);

// Checks only the permissions (same rule as readSecretFile).
Result checkSecretFileMode(const QString &path);

// Writes `data` to `path` with mode 0600, atomically (temp file + rename).
Result writeSecretFile(const QString &path, const QByteArray &data);

} // namespace sparky
