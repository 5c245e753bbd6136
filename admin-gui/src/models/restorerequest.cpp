#include "restorerequest.h"

#include "sparky/envelope.h"

#include <QJsonArray>
#include <QRegularExpression>

namespace sparky::admin {

using namespace Qt::StringLiterals;

Result RestoreRequest::validate() const
{
    if (!isValidNodeId(node))
        return unexpected(ErrorCode::Validation, u"node: '%1' is not a valid node id"_s.arg(node));
    if (job.isEmpty())
        return unexpected(ErrorCode::Validation, u"job: choose a job"_s);
    if (archive.isEmpty())
        return unexpected(ErrorCode::Validation, u"archive: choose an archive"_s);
    if (!target.isEmpty()) {
        if (!target.startsWith(u'/'))
            return unexpected(
                ErrorCode::Validation, u"target: '%1' is not an absolute directory"_s.arg(target));
        if (target.split(u'/').contains(u".."_s))
            return unexpected(ErrorCode::Validation, u"target: '..' is not allowed"_s);
    }
    if (stripComponents < 0 || stripComponents > 64)
        return unexpected(ErrorCode::Validation, u"strip components: 0 to 64"_s);
    if (paths.size() > 1000)
        return unexpected(ErrorCode::Validation, u"paths: at most 1000 at once"_s);
    for (const QString &p : paths)
        if (p.isEmpty() || p.split(u'/').contains(u".."_s))
            return unexpected(
                ErrorCode::Validation, u"paths: '%1' is not an archive path"_s.arg(p));
    if (!database.isEmpty()) {
        if (!databaseArchive)
            return unexpected(ErrorCode::Validation,
                u"database: '%1' is a files archive; only a database dump archive restores into a database"_s
                    .arg(archive));
        static const QRegularExpression name(u"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$"_s);
        if (!name.match(database).hasMatch())
            return unexpected(ErrorCode::Validation,
                u"database: '%1' is not a plain PostgreSQL database name"_s.arg(database));
        if (database == u"template0" || database == u"template1")
            return unexpected(
                ErrorCode::Validation, u"database: templates cannot be restored into"_s);
    }
    if (createDatabase && database.isEmpty())
        return unexpected(ErrorCode::Validation, u"create database: give the database name"_s);
    return {};
}

QJsonObject RestoreRequest::toParams() const
{
    QJsonObject p { { u"node"_s, node }, { u"job"_s, job }, { u"archive"_s, archive } };
    if (!database.isEmpty()) {
        p.insert(u"database"_s, database);
        if (createDatabase)
            p.insert(u"create_database"_s, true);
        return p;
    }
    if (!paths.isEmpty())
        p.insert(u"paths"_s, QJsonArray::fromStringList(paths));
    if (!target.isEmpty())
        p.insert(u"target"_s, target);
    if (stripComponents > 0)
        p.insert(u"strip_components"_s, stripComponents);
    return p;
}

} // namespace sparky::admin
