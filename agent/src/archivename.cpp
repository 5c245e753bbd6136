#include "archivename.h"

#include <QRegularExpression>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

const QString kDefaultTimeFormat = u"%Y-%m-%dT%H:%M:%S"_s;

// Expands (or globs) one strftime-like format.
Expected<QString> formatTime(const QString &fmt, const QDateTime &t, bool asGlob)
{
    QString out;
    const QString digits2 = u"[0-9][0-9]"_s;
    for (qsizetype i = 0; i < fmt.size(); ++i) {
        const QChar c = fmt.at(i);
        if (c != u'%') {
            if (asGlob && (c == u'*' || c == u'?' || c == u'[' || c == u']'))
                out += u'[' + c + u']';
            else
                out += c;
            continue;
        }
        if (++i >= fmt.size())
            return unexpected(ErrorCode::Validation, u"time format ends with a lone %"_s);
        const QDate d = t.date();
        const QTime tm = t.time();
        auto two = [](int v) { return u"%1"_s.arg(v, 2, 10, QChar(u'0')); };
        switch (fmt.at(i).unicode()) {
        case 'Y':
            out += asGlob ? u"[0-9][0-9][0-9][0-9]"_s : u"%1"_s.arg(d.year(), 4, 10, QChar(u'0'));
            break;
        case 'y':
            out += asGlob ? digits2 : two(d.year() % 100);
            break;
        case 'm':
            out += asGlob ? digits2 : two(d.month());
            break;
        case 'd':
            out += asGlob ? digits2 : two(d.day());
            break;
        case 'H':
            out += asGlob ? digits2 : two(tm.hour());
            break;
        case 'M':
            out += asGlob ? digits2 : two(tm.minute());
            break;
        case 'S':
            out += asGlob ? digits2 : two(tm.second());
            break;
        case 'f':
            out += asGlob ? u"[0-9][0-9][0-9][0-9][0-9][0-9]"_s
                          : (u"%1"_s.arg(tm.msec(), 3, 10, QChar(u'0')) + u"000"_s);
            break;
        case 'j':
            out += asGlob ? u"[0-9][0-9][0-9]"_s : u"%1"_s.arg(d.dayOfYear(), 3, 10, QChar(u'0'));
            break;
        case 'F':
            out += *formatTime(u"%Y-%m-%d"_s, t, asGlob);
            break;
        case 'T':
            out += *formatTime(u"%H:%M:%S"_s, t, asGlob);
            break;
        case '%':
            out += u'%';
            break;
        default:
            return unexpected(ErrorCode::Validation,
                u"unsupported time format %%%1 (use %Y %m %d %H %M %S %f %y %j %F %T)"_s.arg(
                    fmt.at(i)));
        }
    }
    return out;
}

QString globLiteral(const QString &text)
{
    QString out;
    for (const QChar c : text) {
        if (c == u'*' || c == u'?' || c == u'[' || c == u']')
            out += u'[' + c + u']';
        else
            out += c;
    }
    return out;
}

// Walks the pattern, handing each literal and placeholder to the callbacks.
template<typename Literal, typename Placeholder>
Result walk(const QString &pattern, Literal literal, Placeholder placeholder)
{
    qsizetype i = 0;
    while (i < pattern.size()) {
        const qsizetype open = pattern.indexOf(u'{', i);
        const qsizetype closeStray = pattern.indexOf(u'}', i);
        if (closeStray >= 0 && (open < 0 || closeStray < open))
            return unexpected(ErrorCode::Validation, u"unmatched '}'"_s);
        if (open < 0) {
            literal(pattern.mid(i));
            break;
        }
        literal(pattern.mid(i, open - i));
        const qsizetype close = pattern.indexOf(u'}', open);
        if (close < 0)
            return unexpected(ErrorCode::Validation, u"unmatched '{'"_s);
        const QString inner = pattern.mid(open + 1, close - open - 1);
        const qsizetype colon = inner.indexOf(u':');
        const QString name = colon >= 0 ? inner.left(colon) : inner;
        const QString fmt = colon >= 0 ? inner.mid(colon + 1) : QString();
        if (auto r = placeholder(name, fmt); !r)
            return r;
        i = close + 1;
    }
    return {};
}

} // namespace

Result ArchiveName::validatePattern(const QString &pattern)
{
    if (pattern.isEmpty())
        return unexpected(ErrorCode::Validation, u"empty archive name pattern"_s);
    if (pattern.contains(u'/') || pattern.contains("::"_L1) || pattern.contains(u'\n'))
        return unexpected(
            ErrorCode::Validation, u"archive names may not contain '/', '::' or line breaks"_s);
    bool hasJob = false;
    const QDateTime probe = QDateTime::currentDateTime();
    auto r = walk(
        pattern, [](const QString &) {},
        [&](const QString &name, const QString &fmt) -> Result {
            if (name == "job"_L1 || name == "hostname"_L1 || name == "node"_L1
                || name == "user"_L1) {
                hasJob = hasJob || name == "job"_L1;
                if (!fmt.isEmpty())
                    return unexpected(ErrorCode::Validation, u"{%1} takes no format"_s.arg(name));
                return {};
            }
            if (name == "now"_L1 || name == "utcnow"_L1) {
                auto f = formatTime(fmt.isEmpty() ? kDefaultTimeFormat : fmt, probe, false);
                if (!f)
                    return unexpected(f.error());
                return {};
            }
            return unexpected(ErrorCode::Validation,
                u"unknown placeholder {%1} (use {hostname}, {node}, {job}, {user}, "
                "{now}, {now:FORMAT}, {utcnow})"_s.arg(name));
        });
    if (!r)
        return r;
    if (!hasJob)
        return unexpected(ErrorCode::Validation,
            u"the pattern must contain {job} (it keeps each job's archives apart "
            "for prune)"_s);
    return {};
}

QString ArchiveName::expand(
    const QString &pattern, const ArchiveNameContext &context, const QDateTime &now)
{
    QString out;
    auto r = walk(
        pattern, [&](const QString &lit) { out += lit; },
        [&](const QString &name, const QString &fmt) -> Result {
            if (name == "job"_L1)
                out += context.series;
            else if (name == "hostname"_L1)
                out += context.hostname;
            else if (name == "node"_L1)
                out += context.node;
            else if (name == "user"_L1)
                out += context.user;
            else {
                const QDateTime t = name == "utcnow"_L1 ? now.toUTC() : now.toLocalTime();
                out += formatTime(fmt.isEmpty() ? kDefaultTimeFormat : fmt, t, false)
                           .valueOr(QString());
            }
            return {};
        });
    Q_UNUSED(r);
    return out;
}

QString ArchiveName::glob(const QString &pattern, const ArchiveNameContext &context)
{
    QString out;
    auto r = walk(
        pattern, [&](const QString &lit) { out += globLiteral(lit); },
        [&](const QString &name, const QString &fmt) -> Result {
            if (name == "job"_L1)
                out += globLiteral(context.series);
            else if (name == "hostname"_L1)
                out += globLiteral(context.hostname);
            else if (name == "node"_L1)
                out += globLiteral(context.node);
            else if (name == "user"_L1)
                out += globLiteral(context.user);
            else
                out += formatTime(fmt.isEmpty() ? kDefaultTimeFormat : fmt, QDateTime(), true)
                           .valueOr(u"*"_s);
            return {};
        });
    Q_UNUSED(r);
    return out;
}

} // namespace sparky::agent
