#include "archivepath.h"

namespace sparky::agent {

using namespace Qt::StringLiterals;

Expected<QString> ArchivePath::normalize(const QString &path, const QString &field)
{
    if (path.size() > kMaxLength)
        return unexpected(
            ErrorCode::Validation, u"%1: longer than %2 characters"_s.arg(field).arg(kMaxLength));
    for (const QChar c : path) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return unexpected(ErrorCode::Validation,
                u"%1: control characters (line breaks, NUL, …) are not allowed in a path"_s.arg(
                    field));
    }
    QStringList parts;
    for (const QString &part : path.split(u'/', Qt::SkipEmptyParts)) {
        if (part == "."_L1 || part == ".."_L1)
            return unexpected(ErrorCode::Validation,
                u"%1: '%2' is not allowed in a path ('%3')"_s.arg(field, part, path));
        parts.append(part);
    }
    return parts.join(u'/');
}

Expected<QStringList> ArchivePath::normalizeAll(const QStringList &paths, const QString &field)
{
    QStringList out;
    for (qsizetype i = 0; i < paths.size(); ++i) {
        auto p = normalize(paths.at(i), u"%1[%2]"_s.arg(field).arg(i));
        if (!p)
            return p.error();
        if (p->isEmpty())
            return unexpected(ErrorCode::Validation,
                u"%1[%2]: an empty path (the whole archive) cannot be listed with others; "
                "give no paths to take the whole archive"_s.arg(field)
                    .arg(i));
        if (!out.contains(*p))
            out.append(*p);
    }
    return out;
}

QString ArchivePath::prefixPattern(const QString &normalized)
{
    return u"pp:"_s + normalized;
}

bool ArchivePath::fitsPatternFile(const QString &normalized)
{
    return !normalized.isEmpty() && normalized == normalized.trimmed()
        && !normalized.contains(u'\n') && !normalized.contains(u'\r');
}

QByteArray ArchivePath::patternFile(const QStringList &normalized)
{
    // First match wins: every wanted path is included, everything else excluded.
    QByteArray out;
    for (const QString &p : normalized)
        out += "+ " + prefixPattern(p).toUtf8() + '\n';
    out += "- fm:*\n";
    return out;
}

} // namespace sparky::agent
