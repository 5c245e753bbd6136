#include "agentcommands.h"

#include "archivebrowsejob.h"
#include "archivelistjob.h"
#include "archivepath.h"
#include "authorizedkeys.h"
#include "directorylisting.h"
#include "keyjob.h"
#include "restoreexecutor.h"
#include "sparky/envelope.h"
#include "sparky/jsonfields.h"
#include "sparky/protocol.h"

namespace sparky::agent {

using namespace Qt::StringLiterals;
namespace type = protocol::type;

namespace {

constexpr qsizetype kMaxPaths = 1000;

// Each parsed body, fully checked.
struct ListBody
{
    QString job;
    bool stats = true;
    int last = 0;
};
struct BrowseBody
{
    QString job, archive, path, cursor;
    int pageSize = DirectoryListing::kDefaultPageSize;
    int page = 0;
};
struct KeyBody
{
    KeyJob::Request request;
};

Unexpected fieldError(
    const QString &field, const QString &message, ErrorCode code = ErrorCode::Validation)
{
    return unexpected(code, u"body.%1: %2"_s.arg(field, message));
}

Expected<QString> requireJob(const AgentConfig &config, const QJsonObject &body)
{
    auto job = json::requireString(body, "job"_L1, "body"_L1, 64);
    if (!job)
        return job.error();
    if (!config.job(*job))
        return fieldError(u"job"_s, u"no job named '%1' in this node's configuration"_s.arg(*job),
            ErrorCode::NotFound);
    return *job;
}

Expected<QString> requireArchive(const QJsonObject &body)
{
    auto archive = json::requireString(body, "archive"_L1, "body"_L1, 200);
    if (!archive)
        return archive.error();
    if (archive->isEmpty() || archive->contains(u'/') || archive->contains("::"_L1))
        return fieldError(u"archive"_s, u"'%1' is not an archive name"_s.arg(archive->left(80)));
    for (const QChar c : *archive)
        if (c.unicode() < 0x20)
            return fieldError(u"archive"_s, u"control characters are not allowed"_s);
    return *archive;
}

Expected<ListBody> parseList(const AgentConfig &config, const QJsonObject &body)
{
    if (auto r = json::rejectUnknownKeys(body, { "job"_L1, "stats"_L1, "last"_L1 }); !r)
        return r.error();
    ListBody b;
    auto job = requireJob(config, body);
    if (!job)
        return job.error();
    b.job = *job;
    auto stats = json::optionalBool(body, "stats"_L1, true);
    if (!stats)
        return stats.error();
    b.stats = *stats;
    auto last = json::optionalInteger(body, "last"_L1, 1, 10000);
    if (!last)
        return last.error();
    b.last = int(last->value_or(0));
    return b;
}

Expected<BrowseBody> parseBrowse(const AgentConfig &config, const QJsonObject &body)
{
    if (auto r = json::rejectUnknownKeys(
            body, { "job"_L1, "archive"_L1, "path"_L1, "page_size"_L1, "cursor"_L1, "page"_L1 });
        !r)
        return r.error();
    BrowseBody b;
    auto job = requireJob(config, body);
    if (!job)
        return job.error();
    b.job = *job;
    auto archive = requireArchive(body);
    if (!archive)
        return archive.error();
    b.archive = *archive;
    auto path = json::optionalString(body, "path"_L1, "body"_L1, ArchivePath::kMaxLength);
    if (!path)
        return path.error();
    auto normalized = ArchivePath::normalize(path->value_or(QString()), u"body.path"_s);
    if (!normalized)
        return normalized.error();
    b.path = *normalized;
    auto size = json::optionalInteger(body, "page_size"_L1, 1, DirectoryListing::kMaxPageSize);
    if (!size)
        return size.error();
    b.pageSize = int(size->value_or(DirectoryListing::kDefaultPageSize));
    auto cursor = json::optionalString(body, "cursor"_L1, "body"_L1, 1024);
    if (!cursor)
        return cursor.error();
    b.cursor = cursor->value_or(QString());
    if (auto r = DirectoryListing::checkCursor(b.cursor, u"body.cursor"_s); !r)
        return r.error();
    auto page = json::optionalInteger(body, "page"_L1, 0, 1000000);
    if (!page)
        return page.error();
    b.page = int(page->value_or(0));
    if (b.page > 0 && !b.cursor.isEmpty())
        return fieldError(u"page"_s, u"give either page or cursor, not both"_s);
    if ((qint64(b.page) + 1) * b.pageSize > DirectoryListing::kMaxPagedEntries)
        return fieldError(u"page"_s,
            u"page numbers reach the first %1 entries; page on with next_cursor"_s.arg(
                DirectoryListing::kMaxPagedEntries));
    return b;
}

Expected<RunRequest> parseRestore(
    const AgentConfig &config, const QJsonObject &body, const QString &commandId)
{
    if (auto r = json::rejectUnknownKeys(body,
            { "job"_L1, "archive"_L1, "paths"_L1, "target"_L1, "strip_components"_L1, "database"_L1,
                "create_database"_L1 });
        !r)
        return r.error();
    RunRequest req;
    req.kind = protocol::RunKind::Restore;
    req.commandId = commandId;
    auto job = requireJob(config, body);
    if (!job)
        return job.error();
    req.job = *job;
    auto archive = requireArchive(body);
    if (!archive)
        return archive.error();
    req.restore.archive = *archive;
    if (body.contains("paths"_L1)) {
        auto paths = json::requireStringList(
            body, "paths"_L1, kMaxPaths, "body"_L1, ArchivePath::kMaxLength);
        if (!paths)
            return paths.error();
        auto normalized = ArchivePath::normalizeAll(*paths, u"body.paths"_s);
        if (!normalized)
            return normalized.error();
        req.restore.paths = *normalized;
    }
    auto target = json::optionalString(body, "target"_L1, "body"_L1, 4096);
    if (!target)
        return target.error();
    req.restore.target = target->value_or(QString());
    auto strip = json::optionalInteger(body, "strip_components"_L1, 0, 64);
    if (!strip)
        return strip.error();
    req.restore.stripComponents = int(strip->value_or(0));
    auto database = json::optionalString(body, "database"_L1, "body"_L1, 63);
    if (!database)
        return database.error();
    req.restore.database = database->value_or(QString());
    auto create = json::optionalBool(body, "create_database"_L1, false);
    if (!create)
        return create.error();
    req.restore.createDatabase = *create;
    if (auto r = RestoreExecutor::check(config, req); !r)
        return unexpected(r.error().code, u"body."_s + r.error().message);
    return req;
}

Expected<RunRequest> parseDrill(
    const AgentConfig &config, const QJsonObject &body, const QString &commandId)
{
    if (auto r = json::rejectUnknownKeys(body, { "job"_L1 }); !r)
        return r.error();
    auto job = requireJob(config, body);
    if (!job)
        return job.error();
    RunRequest req;
    req.kind = protocol::RunKind::Drill;
    req.job = *job;
    req.commandId = commandId;
    return req;
}

Expected<KeyBody> parseKey(const AgentConfig &config, const QString &t, const QJsonObject &body)
{
    if (!config.repositoryHost)
        return unexpected(ErrorCode::AccessRefused,
            u"this node is not a repository host (no repository_host section in its config)"_s);
    const bool revoke = t == type::KeyRevoke;
    if (auto r = revoke ? json::rejectUnknownKeys(body, { "node"_L1, "fingerprint"_L1 })
                        : json::rejectUnknownKeys(body,
                            { "node"_L1, "public_key"_L1, "repository_path"_L1, "append_only"_L1 });
        !r)
        return r.error();
    KeyBody b;
    b.request.revoke = revoke;
    auto node = json::requireString(body, "node"_L1, "body"_L1, 63);
    if (!node)
        return node.error();
    b.request.node = *node;
    AuthorizedKeys keys(*config.repositoryHost);
    if (revoke) {
        if (!isValidNodeId(*node))
            return fieldError(u"node"_s, u"'%1' is not a valid node id"_s.arg(*node));
        auto fp = json::optionalString(body, "fingerprint"_L1, "body"_L1, 80);
        if (!fp)
            return fp.error();
        b.request.fingerprint = fp->value_or(QString());
        return b;
    }
    if (auto r = keys.checkNode(*node); !r)
        return fieldError(u"node"_s, r.error().message, r.error().code);
    auto key = json::requireString(body, "public_key"_L1, "body"_L1, SshPublicKey::kMaxText);
    if (!key)
        return key.error();
    if (auto k = SshPublicKey::parse(*key); !k)
        return fieldError(u"public_key"_s, k.error().message);
    b.request.publicKey = *key;
    auto path = json::requireString(body, "repository_path"_L1, "body"_L1, 4096);
    if (!path)
        return path.error();
    if (auto p = keys.checkRepositoryPath(*path); !p)
        return fieldError(u"repository_path"_s, p.error().message, p.error().code);
    b.request.repositoryPath = *path;
    auto appendOnly = json::optionalBool(body, "append_only"_L1, false);
    if (!appendOnly)
        return appendOnly.error();
    b.request.appendOnly = *appendOnly;
    return b;
}

} // namespace

QStringList AgentCommands::types()
{
    return { QString(type::ArchivesList), QString(type::ArchiveBrowse),
        QString(type::RestoreExtract), QString(type::DrillRun), QString(type::KeyAuthorize),
        QString(type::KeyRevoke) };
}

bool AgentCommands::isRunCommand(const QString &t)
{
    return t == type::RestoreExtract || t == type::DrillRun;
}

bool AgentCommands::isJobCommand(const QString &t)
{
    return t == type::ArchivesList || t == type::ArchiveBrowse || t == type::KeyAuthorize
        || t == type::KeyRevoke;
}

Result AgentCommands::validate(
    const AgentConfig &config, const QString &t, const QJsonObject &body, const QString &commandId)
{
    if (t == type::ArchivesList) {
        if (auto b = parseList(config, body); !b)
            return b.error();
    } else if (t == type::ArchiveBrowse) {
        if (auto b = parseBrowse(config, body); !b)
            return b.error();
    } else if (t == type::RestoreExtract) {
        if (auto b = parseRestore(config, body, commandId); !b)
            return b.error();
    } else if (t == type::DrillRun) {
        if (auto b = parseDrill(config, body, QString()); !b)
            return b.error();
    } else if (t == type::KeyAuthorize || t == type::KeyRevoke) {
        if (auto b = parseKey(config, t, body); !b)
            return b.error();
    } else {
        return unexpected(ErrorCode::InvalidArgument,
            u"'%1' is not a command the runner handles"_s.arg(t.left(64)));
    }
    return {};
}

Expected<std::unique_ptr<AgentJob>> AgentCommands::createJob(
    const AgentConfig &config, const QString &t, const QJsonObject &body)
{
    if (t == type::ArchivesList) {
        auto b = parseList(config, body);
        if (!b)
            return b.error();
        return std::unique_ptr<AgentJob>(
            std::make_unique<ArchiveListJob>(config, b->job, b->stats, b->last));
    }
    if (t == type::ArchiveBrowse) {
        auto b = parseBrowse(config, body);
        if (!b)
            return b.error();
        return std::unique_ptr<AgentJob>(std::make_unique<ArchiveBrowseJob>(
            config, b->job, b->archive, b->path, b->pageSize, b->cursor, b->page));
    }
    if (t == type::KeyAuthorize || t == type::KeyRevoke) {
        auto b = parseKey(config, t, body);
        if (!b)
            return b.error();
        return std::unique_ptr<AgentJob>(
            std::make_unique<KeyJob>(*config.repositoryHost, b->request));
    }
    return unexpected(ErrorCode::InvalidArgument,
        u"'%1' does not answer with a result object (see AgentCommands::isJobCommand)"_s.arg(
            t.left(64)));
}

Expected<RunRequest> AgentCommands::runRequest(const AgentConfig &config, const QString &t,
    const QJsonObject &body, const QString &commandId, const QString &trigger)
{
    Expected<RunRequest> req = t == type::RestoreExtract ? parseRestore(config, body, commandId)
        : t == type::DrillRun
        ? parseDrill(config, body, commandId)
        : Expected<RunRequest>(unexpected(ErrorCode::InvalidArgument,
            u"'%1' does not start a run (see AgentCommands::isRunCommand)"_s.arg(t.left(64))));
    if (req)
        req->trigger = trigger;
    return req;
}

} // namespace sparky::agent
