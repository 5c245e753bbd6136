#include "sparky/secrets.h"

#include <QFile>
#include <QSaveFile>

#include <cerrno>
#include <cstring>
#include <sys/stat.h>

namespace sparky {

using namespace Qt::StringLiterals;

Result checkSecretFileMode(const QString &path)
{
    struct stat st {};
    if (::stat(QFile::encodeName(path).constData(), &st) != 0)
        return unexpected(ErrorCode::Io, u"secret file %1: %2"_s.arg(
                                             path, QString::fromLocal8Bit(std::strerror(errno))));
    if (!S_ISREG(st.st_mode))
        return unexpected(ErrorCode::Permission, u"secret file %1 is not a regular file"_s.arg(path));
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        return unexpected(ErrorCode::Permission,
                          u"secret file %1 has mode %2; it must be readable by its owner only "
                          "(chmod 600 %1)"_s.arg(path)
                              .arg(QString::number(st.st_mode & 07777, 8).rightJustified(4, u'0')));
    return {};
}

Expected<QByteArray> readSecretFile(const QString &path)
{
    if (auto ok = checkSecretFileMode(path); !ok)
        return ok.error();
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return unexpected(ErrorCode::Io, u"secret file %1: %2"_s.arg(path, f.errorString()));
    QByteArray data = f.read(64 * 1024);
    while (data.endsWith('\n') || data.endsWith('\r'))
        data.chop(1);
    if (data.isEmpty())
        return unexpected(ErrorCode::Config, u"secret file %1 is empty"_s.arg(path));
    return data;
}

Result writeSecretFile(const QString &path, const QByteArray &data)
{
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return unexpected(ErrorCode::Io, u"cannot write %1: %2"_s.arg(path, f.errorString()));
    f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    if (f.write(data) != data.size() || !f.commit())
        return unexpected(ErrorCode::Io, u"cannot write %1: %2"_s.arg(path, f.errorString()));
    return {};
}

} // namespace sparky
