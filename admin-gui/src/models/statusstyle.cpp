#include "statusstyle.h"

namespace sparky::admin {

using namespace Qt::StringLiterals;

int StatusStyle::severity(const QString &s)
{
    if (s == u"success" || s == u"succeeded")
        return 0;
    if (s == u"unknown" || s == u"running" || s == u"pending" || s == u"published"
        || s == u"received")
        return 1;
    if (s == u"warning")
        return 2;
    if (s == u"cancelled")
        return 3;
    if (s == u"failed" || s == u"rejected" || s == u"expired")
        return 4;
    return -1;
}

QString StatusStyle::worst(const QString &a, const QString &b)
{
    return severity(b) > severity(a) ? b : a;
}

QColor StatusStyle::background(const QString &s)
{
    if (s == u"running" || s == u"pending" || s == u"published" || s == u"received")
        return QColor(0xdd, 0xeb, 0xf7);
    switch (severity(s)) {
    case 0:
        return QColor(0xd4, 0xed, 0xda);
    case 1:
        return QColor(0xe9, 0xec, 0xef);
    case 2:
        return QColor(0xff, 0xf3, 0xcd);
    case 3:
        return QColor(0xff, 0xe0, 0xb2);
    case 4:
        return QColor(0xf8, 0xd7, 0xda);
    default:
        return {};
    }
}

QColor StatusStyle::foreground(const QString &s)
{
    switch (severity(s)) {
    case 0:
        return QColor(0x15, 0x57, 0x24);
    case 2:
        return QColor(0x85, 0x64, 0x04);
    case 3:
        return QColor(0x8a, 0x4b, 0x08);
    case 4:
        return QColor(0x72, 0x1c, 0x24);
    default:
        return QColor(0x38, 0x3d, 0x41);
    }
}

QColor StatusStyle::staleBackground()
{
    return QColor(0xf5, 0xc6, 0xcb);
}

QColor StatusStyle::offlineForeground()
{
    return QColor(0x9e, 0x9e, 0x9e);
}

QString StatusStyle::label(const QString &s)
{
    if (s.isEmpty())
        return u"—"_s;
    return QString(s.at(0).toUpper() + s.mid(1));
}

} // namespace sparky::admin
