#pragma once

// How numbers, sizes, times and durations read in the console. Stateless helpers; times
// are shown in UTC, as the orchestrator stores them.

#include <QDateTime>
#include <QJsonValue>
#include <QString>

namespace sparky::admin {

class DisplayFormat final
{
public:
    DisplayFormat() = delete;

    static QString bytes(qint64 bytes); // "1.5 GiB"
    static QString duration(double seconds); // "3 min 5 s"
    static QString age(qint64 seconds); // "2 h 5 min ago"-less: "2 h 5 min"
    static QString time(const QDateTime &utc); // "2026-11-25 02:00:04"
    // RFC 3339 text (or null) → epoch milliseconds (or -1); display text.
    static qint64 epochMs(const QJsonValue &rfc3339);
    static QString time(const QJsonValue &rfc3339);
};

} // namespace sparky::admin
