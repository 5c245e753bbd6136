#include "displayformat.h"

#include "sparky/envelope.h"

#include <cmath>

namespace sparky::admin {

using namespace Qt::StringLiterals;

QString DisplayFormat::bytes(qint64 bytes)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double v = double(bytes);
    int unit = 0;
    while (std::abs(v) >= 1024.0 && unit < 5) {
        v /= 1024.0;
        ++unit;
    }
    if (unit == 0)
        return u"%1 B"_s.arg(bytes);
    return u"%1 %2"_s.arg(v, 0, 'f', v < 10 ? 2 : 1).arg(QLatin1StringView(units[unit]));
}

QString DisplayFormat::duration(double seconds)
{
    if (seconds < 0)
        return u"—"_s;
    if (seconds < 10)
        return u"%1 s"_s.arg(seconds, 0, 'f', 1);
    const qint64 s = qint64(std::llround(seconds));
    if (s < 60)
        return u"%1 s"_s.arg(s);
    if (s < 3600)
        return u"%1 min %2 s"_s.arg(s / 60).arg(s % 60);
    return u"%1 h %2 min"_s.arg(s / 3600).arg(s % 3600 / 60);
}

QString DisplayFormat::age(qint64 seconds)
{
    if (seconds < 0)
        return u"—"_s;
    if (seconds < 120)
        return u"%1 s"_s.arg(seconds);
    if (seconds < 7200)
        return u"%1 min"_s.arg(seconds / 60);
    if (seconds < 2 * 86400)
        return u"%1 h %2 min"_s.arg(seconds / 3600).arg(seconds % 3600 / 60);
    return u"%1 d %2 h"_s.arg(seconds / 86400).arg(seconds % 86400 / 3600);
}

QString DisplayFormat::time(const QDateTime &utc)
{
    if (!utc.isValid())
        return u"—"_s;
    return utc.toUTC().toString(u"yyyy-MM-dd HH:mm:ss"_s);
}

qint64 DisplayFormat::epochMs(const QJsonValue &v)
{
    if (!v.isString())
        return -1;
    auto t = parseTimestamp(v.toString());
    return t ? t->toMSecsSinceEpoch() : -1;
}

QString DisplayFormat::time(const QJsonValue &v)
{
    if (!v.isString())
        return u"—"_s;
    auto t = parseTimestamp(v.toString());
    return t ? time(*t) : v.toString();
}

} // namespace sparky::admin
