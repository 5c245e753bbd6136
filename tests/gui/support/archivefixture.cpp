#include "archivefixture.h"

namespace sparky::test {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;
using Reply = AgentResponder::Reply;

namespace {

QJsonObject dir(const QString &name, bool synthetic = false)
{
    QJsonObject o { { u"name"_s, name }, { u"type"_s, u"dir"_s } };
    if (synthetic) {
        o.insert(u"synthetic"_s, true);
        return o;
    }
    o.insert(u"size"_s, 0);
    o.insert(u"mode"_s, u"drwxr-xr-x"_s);
    o.insert(u"mtime"_s, u"2026-11-20T09:12:01.000Z"_s);
    return o;
}

QJsonObject file(
    const QString &name, qint64 size, const QString &mtime = u"2026-11-24T17:45:12.000Z"_s)
{
    return QJsonObject { { u"name"_s, name }, { u"type"_s, u"file"_s }, { u"size"_s, size },
        { u"mode"_s, u"-rw-r--r--"_s }, { u"mtime"_s, mtime } };
}

} // namespace

ArchiveFixture::ArchiveFixture(const DemoFleet *fleet, AgentResponder *agent, QObject *parent)
    : QObject(parent)
    , m_fleet(fleet)
    , m_agent(agent)
{
    connect(m_agent, &AgentResponder::commandReceived, this, &ArchiveFixture::onCommand);
}

ArchiveFixture::~ArchiveFixture() = default;

void ArchiveFixture::onCommand(const Envelope &c)
{
    if (c.type == proto::type::ArchivesList) {
        const QString job = c.body.value("job"_L1).toString();
        if (!m_fleet->job(m_agent->node(), job)) {
            m_agent->script(c.type,
                Reply::refuse(Reply::Kind::Reject, u"body.job: no job named '%1'"_s.arg(job)));
            return;
        }
        m_agent->script(c.type, Reply::succeed(listResult(job)));
    } else if (c.type == proto::type::ArchiveBrowse) {
        ++m_browseRequests;
        QString error;
        const QJsonObject page = browseResult(c.body, &error);
        m_agent->script(c.type,
            error.isEmpty() ? Reply::succeed(page) : Reply::refuse(Reply::Kind::Reject, error));
    }
}

QJsonObject ArchiveFixture::listResult(const QString &jobName) const
{
    const DemoFleet::Job *j = m_fleet->job(m_agent->node(), jobName);
    QJsonArray archives;
    const int keep = qMin(14, j->runs);
    for (int i = keep - 1; i >= 0; --i) { // oldest first, as borg lists them
        if (m_fleet->status(*j, i) != proto::Status::Success
            && m_fleet->status(*j, i) != proto::Status::Warning)
            continue;
        const QDateTime start = m_fleet->runStart(*j, i);
        const double seconds = m_fleet->duration(*j, i);
        const qint64 original = m_fleet->originalSize(*j, i);
        archives.append(
            QJsonObject { { u"name"_s, m_fleet->archiveName(*j, i) }, { u"series"_s, j->name },
                { u"kind"_s, u"files"_s }, { u"start"_s, formatTimestamp(start) },
                { u"end"_s, formatTimestamp(start.addMSecs(qint64(seconds * 1000))) },
                { u"duration_seconds"_s, seconds },
                { u"stats"_s,
                    QJsonObject { { u"original_size"_s, original },
                        { u"compressed_size"_s, original * 43 / 100 },
                        { u"deduplicated_size"_s, m_fleet->deduplicatedSize(*j, i) },
                        { u"files"_s, j->files - 40 * i } } } });
        if (jobName == u"www")
            archives.append(QJsonObject { { u"name"_s,
                                              u"%1-%2.pg-shop-%3"_s.arg(j->node, j->name,
                                                  start.toString(u"yyyy-MM-ddTHH:mm:ss"_s)) },
                { u"series"_s, u"www.pg-shop"_s }, { u"kind"_s, u"database"_s },
                { u"database"_s, u"shop"_s }, { u"format"_s, u"custom"_s },
                { u"start"_s, formatTimestamp(start.addSecs(4)) }, { u"duration_seconds"_s, 11.2 },
                { u"stats"_s,
                    QJsonObject { { u"original_size"_s, 222298112 - 131072 * i },
                        { u"compressed_size"_s, 61865984 }, { u"deduplicated_size"_s, 2359296 },
                        { u"files"_s, 1 } } } });
    }
    return QJsonObject { { u"job"_s, jobName },
        { u"repository"_s, u"ssh://borg@repo-01.example.net/./%1-%2"_s.arg(j->node, j->name) },
        { u"total"_s, archives.size() }, { u"truncated"_s, false }, { u"archives"_s, archives } };
}

QJsonArray ArchiveFixture::directory(
    const QString &job, bool database, const QString &path, bool *exists)
{
    *exists = true;
    if (database) {
        *exists = path.isEmpty();
        return *exists ? QJsonArray { file(u"shop.dump"_s, 222298112) } : QJsonArray();
    }
    if (job == u"www") {
        if (path.isEmpty())
            return { dir(u"srv"_s, true) };
        if (path == u"srv")
            return { dir(u"www"_s) };
        if (path == u"srv/www")
            return { dir(u"shop"_s), file(u"index.html"_s, 5120), file(u"robots.txt"_s, 64) };
        if (path == u"srv/www/shop")
            return { dir(u"var"_s), file(u"composer.json"_s, 2210), file(u"index.php"_s, 418) };
        *exists = false;
        return {};
    }
    if (path.isEmpty())
        return { dir(u"etc"_s), dir(u"home"_s) };
    if (path == u"etc")
        return { dir(u"nginx"_s), file(u"fstab"_s, 664), file(u"hostname"_s, 7),
            file(u"hosts"_s, 221) };
    if (path == u"etc/nginx")
        return { dir(u"sites-enabled"_s), file(u"nginx.conf"_s, 1482) };
    if (path == u"home")
        return { dir(u"alice"_s), dir(u"bob"_s) };
    if (path == u"home/alice")
        return { dir(u"Documents"_s), dir(u"photos"_s), file(u".bashrc"_s, 3771),
            file(u".profile"_s, 807), file(u"notes.txt"_s, 18432), file(u"todo.md"_s, 2048) };
    if (path == u"home/alice/Documents")
        return { dir(u"invoices"_s), file(u"budget-2026.ods"_s, 48213),
            file(u"report-2026-q3.pdf"_s, 1843200, u"2026-10-02T08:30:00.000Z"_s) };
    if (path == u"home/alice/photos") {
        QJsonArray photos;
        for (int i = 1; i <= 450; ++i)
            photos.append(file(u"IMG_%1.jpg"_s.arg(i, 4, 10, QLatin1Char('0')), 2400000 + 7919 * i,
                u"2026-08-%1T10:00:00.000Z"_s.arg(1 + i % 28, 2, 10, QLatin1Char('0'))));
        return photos;
    }
    if (path == u"home/bob")
        return { dir(u"projects"_s), file(u".bashrc"_s, 3771) };
    *exists = false;
    return {};
}

QJsonObject ArchiveFixture::browseResult(const QJsonObject &body, QString *error) const
{
    const QString archive = body.value("archive"_L1).toString();
    const QString job = body.value("job"_L1).toString();
    const QString path = body.value("path"_L1).toString();
    bool exists = false;
    const QJsonArray all = directory(job, archive.contains(u".pg-"_s), path, &exists);
    if (!exists) {
        *error = u"'%1' is not in archive %2"_s.arg(path, archive);
        return {};
    }
    const int pageSize = body.value("page_size"_L1).toInt(200);
    const QString cursor = body.value("cursor"_L1).toString();
    const int from = cursor.startsWith(u"after:"_s) ? cursor.mid(6).toInt() : 0;
    QJsonArray entries;
    for (int i = from; i < all.size() && i < from + pageSize; ++i)
        entries.append(all.at(i));
    QJsonObject page { { u"job"_s, job }, { u"archive"_s, archive }, { u"path"_s, path },
        { u"entries"_s, entries }, { u"total"_s, all.size() }, { u"offset"_s, from },
        { u"page_size"_s, pageSize } };
    if (from + entries.size() < all.size())
        page.insert(u"next_cursor"_s, u"after:%1"_s.arg(from + entries.size()));
    return page;
}

} // namespace sparky::test
