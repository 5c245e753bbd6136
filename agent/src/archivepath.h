#pragma once

// Paths INSIDE an archive, as borg stores them: relative, '/'-separated, no leading slash
// ("etc/nginx/nginx.conf"). What an operator or a command gives ("/etc/nginx/", "etc//x")
// is normalised here; anything that could mean something else than a plain path ("..",
// ".", control characters, a pattern-style prefix borg would interpret) is refused with
// the reason. Stateless; thread-safe.

#include "sparky/error.h"

#include <QString>
#include <QStringList>

namespace sparky::agent {

class ArchivePath final
{
public:
    static constexpr qsizetype kMaxLength = 4096;

    // "" is the archive's root. `field` names the input in errors ("body.path").
    static Expected<QString> normalize(const QString &path, const QString &field);
    static Expected<QStringList> normalizeAll(const QStringList &paths, const QString &field);

    // The borg include pattern for a normalised path: "pp:<path>" (the path itself and,
    // when it is a directory, everything below it). Never interpreted as another style.
    static QString prefixPattern(const QString &normalized);

    // Whether borg's --patterns-from can express it (the file format strips surrounding
    // white space and has no escapes).
    static bool fitsPatternFile(const QString &normalized);

    // A --patterns-from file selecting exactly these paths (and what is below them).
    static QByteArray patternFile(const QStringList &normalized);
};

} // namespace sparky::agent
