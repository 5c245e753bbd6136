#pragma once

// A 5-field cron schedule evaluated in a time zone, with an optional fixed offset (the job's
// deterministic jitter). Plain value type, cheap to copy, usable from any thread.
//
// Syntax (Vixie cron): "minute hour day-of-month month day-of-week", each field a list of
// `*`, `N`, `N-M`, optionally `/step` (`N/step` means N to the field's maximum); months
// jan-dec and days sun-sat by name (case-insensitive), day-of-week 0 and 7 are Sunday;
// @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly. When both
// day-of-month and day-of-week are restricted (neither field starts with `*`), a day
// matches if EITHER matches (the Vixie rule); otherwise both must.
//
// Time zones and daylight saving: the schedule names wall-clock times in the zone.
//  - A wall-clock time skipped by a spring-forward change runs at the first valid instant
//    after it (the moment of the change), once, however many skipped times map there.
//  - A wall-clock time that occurs twice in an autumn change runs once, at its first
//    occurrence.
//
// The offset shifts every run: a job with jitter J and offset o in [0, J) runs at cron
// time + o, so nextRun()/previousRun() return the shifted instants.

#include "sparky/error.h"

#include <QDateTime>
#include <QString>
#include <QTimeZone>
#include <bitset>
#include <chrono>

namespace sparky::agent {

class CronSchedule final
{
public:
    CronSchedule() = default;

    static Expected<CronSchedule> parse(
        const QString &expression, const QTimeZone &zone = QTimeZone::systemTimeZone());

    bool isValid() const { return m_valid; }
    QString expression() const { return m_expression; }
    QTimeZone timeZone() const { return m_zone; }
    std::chrono::seconds offset() const { return m_offset; }
    void setOffset(std::chrono::seconds offset) { m_offset = offset; }

    // The first run strictly after `after`; invalid QDateTime if none within 8 years.
    QDateTime nextRun(const QDateTime &after) const;
    // The last run at or before `before`; invalid QDateTime if none within 8 years.
    // (Catch-up: a run was missed if previousRun(now) is later than the last run started.)
    QDateTime previousRun(const QDateTime &before) const;
    // The next `count` runs after `after` (for previews such as `list-jobs`).
    QList<QDateTime> nextRuns(const QDateTime &after, int count) const;

    // Deterministic jitter: a hash of node and job mapped into [0, jitter). Whole seconds;
    // zero when jitter is zero. The same node and job always get the same offset, and
    // different nodes spread evenly over the window.
    static std::chrono::seconds jitterOffset(
        const QString &node, const QString &job, std::chrono::seconds jitter);

    // The UTC instant at which wall-clock time `local` happens in `zone` by the rules above
    // (gap → moment of the change; repeated → first occurrence). Exposed for tests.
    static QDateTime wallClockToInstant(
        const QDate &date, const QTime &time, const QTimeZone &zone);

private:
    bool dayMatches(const QDate &date) const;
    QDateTime nominalNext(const QDateTime &after) const;
    QDateTime nominalPrevious(const QDateTime &before) const;

    QString m_expression;
    QTimeZone m_zone;
    std::bitset<60> m_minutes;
    std::bitset<24> m_hours;
    std::bitset<32> m_daysOfMonth; // 1..31
    std::bitset<13> m_months; // 1..12
    std::bitset<7> m_daysOfWeek; // 0..6, Sunday = 0
    bool m_domRestricted = false;
    bool m_dowRestricted = false;
    bool m_valid = false;
    std::chrono::seconds m_offset { 0 };
};

} // namespace sparky::agent
