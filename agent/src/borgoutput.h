#pragma once

// Parses what borg 1.2 prints with --log-json (one JSON object per stderr line:
// log_message, archive_progress, progress_message, progress_percent, file_status) and the
// --json result of `borg create` on stdout. Lines that are not JSON (ssh's own messages,
// a Python traceback) are kept as plain text. Stateless; thread-safe.

#include "sparky/error.h"
#include "sparky/protocol.h"

#include <QByteArray>
#include <QString>

namespace sparky::agent {

struct BorgLine
{
    enum class Kind {
        Text,
        LogMessage,
        ArchiveProgress,
        ProgressMessage,
        ProgressPercent,
        FileStatus,
        Other
    };
    Kind kind = Kind::Text;
    QString level; // log_message: DEBUG, INFO, WARNING, ERROR, CRITICAL
    QString message; // log text, progress message, or the raw line for Text
    QString msgid; // e.g. PassphraseWrong, LockTimeout, Repository.DoesNotExist
    QString name; // logger name (borg.archiver, borg.output.list, root …)
    qint64 originalSize = 0;
    qint64 compressedSize = 0;
    qint64 deduplicatedSize = 0;
    qint64 files = 0;
    qint64 current = 0; // progress_percent: done so far (extract: bytes)
    qint64 total = 0; // progress_percent: the whole (extract: bytes of the selection)
    QString path; // archive_progress / file_status path; progress_percent info[0]
    bool finished = false;

    bool isError() const
    {
        return kind == Kind::LogMessage
            && (level == QLatin1StringView("ERROR") || level == QLatin1StringView("CRITICAL"));
    }
    bool isWarning() const
    {
        return kind == Kind::LogMessage && level == QLatin1StringView("WARNING");
    }
    // One line of text for the log tail ("" for progress noise that is not worth keeping).
    QString logText() const;
};

class BorgOutput final
{
public:
    static BorgLine parseLine(const QByteArray &line);
    // `borg create --json` stdout → stats (archive name, id, sizes, files, duration).
    static Expected<protocol::RunStats> parseCreateResult(const QByteArray &json);
    // `borg list --json` stdout → repository id (empty on failure).
    static QString repositoryId(const QByteArray &json);
    // A time as borg prints it ("2026-11-25T02:00:04.512000", naive: the agent runs borg with
    // TZ=UTC) → our UTC timestamp text; empty when it is not one.
    static QString isoUtc(const QString &borgTime);
};

} // namespace sparky::agent
