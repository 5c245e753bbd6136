#include "restoretarget.h"

#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <sys/stat.h>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

Expected<QString> lexicalCheck(const QString &path, const QString &what)
{
    if (path.isEmpty() || !path.startsWith(u'/'))
        return unexpected(
            ErrorCode::Validation, u"%1 '%2' must be an absolute path"_s.arg(what, path));
    for (const QChar c : path)
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return unexpected(ErrorCode::Validation, u"%1 contains control characters"_s.arg(what));
    for (const QString &part : path.split(u'/', Qt::SkipEmptyParts))
        if (part == ".."_L1 || part == "."_L1)
            return unexpected(ErrorCode::Validation,
                u"%1 '%2' contains '%3': give the directory itself"_s.arg(what, path, part));
    return QDir::cleanPath(path);
}

} // namespace

QString RestoreTarget::resolve(const QString &path)
{
    QString existing = QDir::cleanPath(path);
    QStringList missing;
    while (true) {
        const QFileInfo fi(existing);
        if (fi.exists() || fi.isSymLink()) {
            const QString canonical = fi.canonicalFilePath();
            if (canonical.isEmpty())
                return {}; // a dangling symlink or a loop: nobody can say where it leads
            existing = canonical;
            break;
        }
        const qsizetype slash = existing.lastIndexOf(u'/');
        if (slash <= 0) {
            missing.prepend(existing.mid(1));
            existing = u"/"_s;
            break;
        }
        missing.prepend(existing.mid(slash + 1));
        existing = existing.left(slash);
    }
    QString out = existing;
    for (const QString &m : std::as_const(missing))
        if (!m.isEmpty())
            out = out.endsWith(u'/') ? QString(out + m) : QString(out + u'/' + m);
    return QDir::cleanPath(out);
}

bool RestoreTarget::isUnder(const QString &path, const QString &root)
{
    if (root == "/"_L1)
        return true;
    return path == root || path.startsWith(root + u'/');
}

Expected<QString> RestoreTarget::check(
    const RestoreConfig &config, const QString &requested, const QString &defaultName)
{
    QString wanted = requested;
    if (wanted.isEmpty()) {
        static const QRegularExpression nameRe(u"^[A-Za-z0-9._:-]{1,64}$"_s);
        if (config.roots.isEmpty())
            return unexpected(ErrorCode::Config,
                u"no restore root is configured (restore.roots) and no target was given"_s);
        if (!nameRe.match(defaultName).hasMatch() || defaultName.startsWith(u'.'))
            return unexpected(ErrorCode::InvalidArgument,
                u"'%1' cannot name a restore directory"_s.arg(defaultName));
        wanted = QDir(config.roots.first()).filePath(defaultName);
    }
    auto clean = lexicalCheck(wanted, u"restore target"_s);
    if (!clean)
        return clean.error();
    const QString target = resolve(*clean);
    if (target.isEmpty())
        return unexpected(ErrorCode::AccessRefused,
            u"restore target %1 passes through a dangling symlink; refusing"_s.arg(*clean));
    QStringList roots;
    for (const QString &r : config.roots) {
        auto root = lexicalCheck(r, u"restore root"_s);
        if (!root)
            return unexpected(ErrorCode::Config, root.error().message);
        const QString resolved = resolve(*root);
        if (resolved.isEmpty())
            continue;
        roots.append(resolved);
        if (isUnder(target, resolved))
            return target;
    }
    if (config.allowInPlace)
        return target;
    QString how = target == *clean ? QString() : u" (resolves to %1)"_s.arg(target);
    return unexpected(ErrorCode::AccessRefused,
        u"restore target %1%2 is outside the restore roots (%3); restoring elsewhere needs "
        "restore.allow_in_place: true in this node's configuration"_s.arg(
            *clean, how, roots.isEmpty() ? u"none configured"_s : roots.join(u", "_s)));
}

Expected<QString> RestoreTarget::prepare(
    const RestoreConfig &config, const QString &requested, const QString &defaultName)
{
    auto target = check(config, requested, defaultName);
    if (!target)
        return target;
    // Create what is missing, 0700, one level at a time (mkpath would follow a symlink
    // created meanwhile without us noticing; the check below catches that anyway).
    QStringList parts = target->split(u'/', Qt::SkipEmptyParts);
    QString at;
    for (const QString &p : std::as_const(parts)) {
        at += u'/' + p;
        struct stat st;
        if (::lstat(QFile::encodeName(at).constData(), &st) == 0)
            continue;
        if (::mkdir(QFile::encodeName(at).constData(), 0700) != 0 && errno != EEXIST)
            return unexpected(ErrorCode::Io,
                u"cannot create restore directory %1: %2"_s.arg(
                    at, QString::fromLocal8Bit(strerror(errno))));
    }
    auto again = check(config, requested, defaultName);
    if (!again)
        return again;
    if (*again != *target)
        return unexpected(ErrorCode::AccessRefused,
            u"restore target %1 changed while it was created (now %2); refusing"_s.arg(
                *target, *again));
    if (!QFileInfo(*again).isDir())
        return unexpected(ErrorCode::Io, u"restore target %1 is not a directory"_s.arg(*again));
    return again;
}

} // namespace sparky::agent
