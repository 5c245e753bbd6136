#include "cronschedule.h"

#include <QCryptographicHash>
#include <QtEndian>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

constexpr int kSearchDays = 366 * 8;
constexpr qint64 kMaxFoldSeconds = 3 * 3600; // no zone repeats more than this on a change

struct FieldSpec
{
    const char *name;
    int min;
    int max;
};

constexpr FieldSpec kFields[5] = {
    { "minute", 0, 59 },
    { "hour", 0, 23 },
    { "day of month", 1, 31 },
    { "month", 1, 12 },
    { "day of week", 0, 7 },
};

const char *const kMonthNames[]
    = { "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec" };
const char *const kDayNames[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

std::optional<int> parseValue(const QString &text, int field)
{
    bool ok = false;
    const int v = text.toInt(&ok);
    if (ok)
        return v;
    const QString lower = text.toLower();
    if (field == 3) {
        for (int i = 0; i < 12; ++i)
            if (lower == QLatin1StringView(kMonthNames[i]))
                return i + 1;
    } else if (field == 4) {
        for (int i = 0; i < 7; ++i)
            if (lower == QLatin1StringView(kDayNames[i]))
                return i;
    }
    return std::nullopt;
}

// Fills `bits` (indexed by value) from one field; returns an error text or empty.
QString parseField(const QString &text, int field, std::vector<bool> &bits)
{
    const FieldSpec &spec = kFields[field];
    const QString fieldName = QString::fromLatin1(spec.name);
    bits.assign(size_t(spec.max + 1), false);
    const QStringList parts = text.split(u',');
    for (const QString &part : parts) {
        if (part.isEmpty())
            return u"%1: empty list element"_s.arg(fieldName);
        QString range = part;
        int step = 1;
        bool hasStep = false;
        const qsizetype slash = part.indexOf(u'/');
        if (slash >= 0) {
            bool ok = false;
            step = part.mid(slash + 1).toInt(&ok);
            if (!ok || step <= 0 || step > spec.max)
                return u"%1: bad step '%2'"_s.arg(fieldName, part.mid(slash + 1));
            range = part.left(slash);
            hasStep = true;
        }
        int lo = spec.min;
        int hi = spec.max;
        if (range == "*"_L1) {
            if (field == 4)
                hi = 6; // 7 is an alias of 0, not an extra day
        } else {
            const qsizetype dash = range.indexOf(u'-');
            const QString loText = dash >= 0 ? range.left(dash) : range;
            const auto l = parseValue(loText, field);
            if (!l)
                return u"%1: '%2' is not a number%3"_s.arg(fieldName, loText,
                    field == 3       ? u" or month name"_s
                        : field == 4 ? u" or day name"_s
                                     : QString());
            lo = *l;
            if (dash >= 0) {
                const QString hiText = range.mid(dash + 1);
                const auto h = parseValue(hiText, field);
                if (!h)
                    return u"%1: '%2' is not a number"_s.arg(fieldName, hiText);
                hi = *h;
            } else if (!hasStep) {
                hi = lo;
            }
            for (int v : { lo, hi })
                if (v < spec.min || v > spec.max)
                    return u"%1: %2 is out of range %3-%4"_s.arg(fieldName)
                        .arg(v)
                        .arg(spec.min)
                        .arg(spec.max);
            if (lo > hi)
                return u"%1: range %2-%3 is backwards"_s.arg(fieldName).arg(lo).arg(hi);
        }
        for (int v = lo; v <= hi; v += step)
            bits[size_t(v)] = true;
    }
    return {};
}

qint64 wallSeconds(const QDate &date, const QTime &time)
{
    return QDateTime(date, time, Qt::UTC).toSecsSinceEpoch();
}

int offsetAt(const QTimeZone &zone, qint64 utcSeconds)
{
    return zone.offsetFromUtc(QDateTime::fromSecsSinceEpoch(utcSeconds, Qt::UTC));
}

} // namespace

Expected<CronSchedule> CronSchedule::parse(const QString &expression, const QTimeZone &zone)
{
    CronSchedule s;
    s.m_expression = expression;
    s.m_zone = zone.isValid() ? zone : QTimeZone(0);
    QString text = expression.simplified();
    const QString lower = text.toLower();
    if (lower == "@yearly"_L1 || lower == "@annually"_L1)
        text = u"0 0 1 1 *"_s;
    else if (lower == "@monthly"_L1)
        text = u"0 0 1 * *"_s;
    else if (lower == "@weekly"_L1)
        text = u"0 0 * * 0"_s;
    else if (lower == "@daily"_L1 || lower == "@midnight"_L1)
        text = u"0 0 * * *"_s;
    else if (lower == "@hourly"_L1)
        text = u"0 * * * *"_s;
    else if (text.startsWith(u'@'))
        return unexpected(ErrorCode::Validation,
            u"invalid cron expression \"%1\": unknown macro (use @hourly, @daily, "
            "@weekly, @monthly or @yearly)"_s.arg(expression));
    const QStringList fields = text.split(u' ', Qt::SkipEmptyParts);
    if (fields.size() != 5)
        return unexpected(ErrorCode::Validation,
            u"invalid cron expression \"%1\": expected 5 fields (minute hour "
            "day-of-month month day-of-week), found %2"_s.arg(expression)
                .arg(fields.size()));
    std::vector<bool> bits;
    for (int f = 0; f < 5; ++f) {
        const QString err = parseField(fields.at(f), f, bits);
        if (!err.isEmpty())
            return unexpected(ErrorCode::Validation,
                u"invalid cron expression \"%1\": %2"_s.arg(expression, err));
        for (size_t v = 0; v < bits.size(); ++v) {
            if (!bits[v])
                continue;
            switch (f) {
            case 0:
                s.m_minutes.set(v);
                break;
            case 1:
                s.m_hours.set(v);
                break;
            case 2:
                s.m_daysOfMonth.set(v);
                break;
            case 3:
                s.m_months.set(v);
                break;
            case 4:
                s.m_daysOfWeek.set(v % 7);
                break;
            }
        }
    }
    s.m_domRestricted = !fields.at(2).startsWith(u'*');
    s.m_dowRestricted = !fields.at(4).startsWith(u'*');
    s.m_valid = true;
    if (!s.nominalNext(QDateTime::currentDateTimeUtc()).isValid())
        return unexpected(ErrorCode::Validation,
            u"invalid cron expression \"%1\": it never matches a date"_s.arg(expression));
    return s;
}

bool CronSchedule::dayMatches(const QDate &date) const
{
    if (!m_months.test(size_t(date.month())))
        return false;
    const bool dom = m_daysOfMonth.test(size_t(date.day()));
    const bool dow = m_daysOfWeek.test(size_t(date.dayOfWeek() % 7));
    if (m_domRestricted && m_dowRestricted)
        return dom || dow;
    return dom && dow;
}

QDateTime CronSchedule::wallClockToInstant(
    const QDate &date, const QTime &time, const QTimeZone &zone)
{
    const qint64 wall = wallSeconds(date, time);
    const int before = offsetAt(zone, wall - 86400);
    const int after = offsetAt(zone, wall + 86400);
    qint64 best = 0;
    bool found = false;
    for (const qint64 u : { wall - before, wall - after }) {
        if (u + offsetAt(zone, u) == wall && (!found || u < best)) {
            best = u;
            found = true;
        }
    }
    if (found)
        return QDateTime::fromSecsSinceEpoch(best, Qt::UTC);
    // In a gap: the first valid instant after it is the moment of the change.
    const qint64 lo = std::min(wall - before, wall - after);
    const QTimeZone::OffsetData change
        = zone.nextTransition(QDateTime::fromSecsSinceEpoch(lo - 1, Qt::UTC));
    if (change.atUtc.isValid())
        return change.atUtc.toUTC();
    return QDateTime::fromSecsSinceEpoch(wall - after, Qt::UTC);
}

QDateTime CronSchedule::nominalNext(const QDateTime &after) const
{
    const QDateTime local = after.toTimeZone(m_zone);
    QDate day = local.date();
    const int startMinute = local.time().hour() * 60 + local.time().minute();
    for (int i = 0; i < kSearchDays; ++i, day = day.addDays(1)) {
        if (!dayMatches(day))
            continue;
        for (int h = 0; h < 24; ++h) {
            if (!m_hours.test(size_t(h)))
                continue;
            for (int m = 0; m < 60; ++m) {
                if (!m_minutes.test(size_t(m)) || (i == 0 && h * 60 + m < startMinute))
                    continue;
                const QDateTime t = wallClockToInstant(day, QTime(h, m), m_zone);
                if (t > after)
                    return t;
            }
        }
    }
    return {};
}

QDateTime CronSchedule::nominalPrevious(const QDateTime &before) const
{
    const QDateTime local = before.toTimeZone(m_zone);
    // A wall-clock time later than `before`'s may still map before it inside a repeated hour.
    const qint64 limit = wallSeconds(local.date(), local.time()) + kMaxFoldSeconds;
    QDate day = QDateTime::fromSecsSinceEpoch(limit, Qt::UTC).date();
    for (int i = 0; i < kSearchDays; ++i, day = day.addDays(-1)) {
        if (!dayMatches(day))
            continue;
        for (int h = 23; h >= 0; --h) {
            if (!m_hours.test(size_t(h)))
                continue;
            for (int m = 59; m >= 0; --m) {
                if (!m_minutes.test(size_t(m)) || wallSeconds(day, QTime(h, m)) > limit)
                    continue;
                const QDateTime t = wallClockToInstant(day, QTime(h, m), m_zone);
                if (t <= before)
                    return t;
            }
        }
    }
    return {};
}

QDateTime CronSchedule::nextRun(const QDateTime &after) const
{
    if (!m_valid || !after.isValid())
        return {};
    const QDateTime t = nominalNext(after.addSecs(-m_offset.count()));
    return t.isValid() ? t.addSecs(m_offset.count()) : t;
}

QDateTime CronSchedule::previousRun(const QDateTime &before) const
{
    if (!m_valid || !before.isValid())
        return {};
    const QDateTime t = nominalPrevious(before.addSecs(-m_offset.count()));
    return t.isValid() ? t.addSecs(m_offset.count()) : t;
}

QList<QDateTime> CronSchedule::nextRuns(const QDateTime &after, int count) const
{
    QList<QDateTime> out;
    QDateTime t = after;
    for (int i = 0; i < count; ++i) {
        t = nextRun(t);
        if (!t.isValid())
            break;
        out.append(t);
    }
    return out;
}

std::chrono::seconds CronSchedule::jitterOffset(
    const QString &node, const QString &job, std::chrono::seconds jitter)
{
    if (jitter.count() <= 0)
        return std::chrono::seconds(0);
    const QByteArray digest = QCryptographicHash::hash(
        QByteArray(node.toUtf8() + '\n' + job.toUtf8()), QCryptographicHash::Sha256);
    const quint64 h = qFromBigEndian<quint64>(digest.constData());
    return std::chrono::seconds(qint64(h % quint64(jitter.count())));
}

} // namespace sparky::agent
