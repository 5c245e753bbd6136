#include "restoreexecutor.h"

#include "archivepath.h"
#include "borgcall.h"
#include "borgcommands.h"
#include "dumprestore.h"
#include "postgresclient.h"
#include "restoretarget.h"

#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <sys/stat.h>

namespace sparky::agent {

using namespace Qt::StringLiterals;
using protocol::Status;

RestoreExecutor::RestoreExecutor(
    const AgentConfig &config, RunRequest request, RepositoryLocks *locks, QObject *parent)
    : RunBase(config, std::move(request), locks, parent)
{ }

RestoreExecutor::~RestoreExecutor() = default;

Result RestoreExecutor::check(const AgentConfig &config, const RunRequest &request)
{
    // Each error starts with the request field it is about ("target: …").
    const JobConfig *job = config.job(request.job);
    if (!job)
        return unexpected(ErrorCode::NotFound,
            u"job: no job named '%1' in this node's configuration"_s.arg(request.job));
    const RestoreRequest &r = request.restore;
    if (r.archive.isEmpty())
        return unexpected(ErrorCode::Validation, u"archive: no archive given"_s);
    const ArchiveSeries *s = ArchiveSeries::find(ArchiveSeries::forJob(config, *job), r.archive);
    if (!s)
        return unexpected(ErrorCode::Validation,
            u"archive: '%1' is not an archive of job '%2'"_s.arg(r.archive, job->name));
    if (!r.database.isEmpty() || r.createDatabase) {
        if (r.database.isEmpty())
            return unexpected(ErrorCode::Validation,
                u"database: create_database needs the database to restore into"_s);
        if (s->kind != ArchiveSeries::Kind::Database)
            return unexpected(ErrorCode::Validation,
                u"database: archive '%1' is not a database dump (series %2); only a dump can be "
                "restored into a database"_s.arg(r.archive, s->series));
        if (!PostgresClient::isAcceptableTarget(r.database))
            return unexpected(ErrorCode::Validation,
                u"database: '%1' is not a database this agent restores into"_s.arg(r.database));
        if (!r.paths.isEmpty() || r.stripComponents != 0 || !r.target.isEmpty())
            return unexpected(ErrorCode::Validation,
                u"database: a database restore takes no paths, target or strip_components"_s);
        return {};
    }
    auto paths = ArchivePath::normalizeAll(r.paths, u"paths"_s);
    if (!paths)
        return paths.error();
    if (r.stripComponents < 0 || r.stripComponents > 64)
        return unexpected(ErrorCode::Validation, u"strip_components: must be 0…64"_s);
    auto target = RestoreTarget::check(config.restore, r.target, defaultTargetName(request));
    if (!target)
        return unexpected(target.error().code, u"target: "_s + target.error().message);
    return {};
}

QString RestoreExecutor::defaultTargetName(const RunRequest &request)
{
    if (!request.commandId.isEmpty())
        return request.commandId;
    return request.runId.isEmpty() ? u"restore"_s : request.runId;
}

Result RestoreExecutor::validate()
{
    if (auto r = check(config(), request()); !r)
        return r;
    // Decided again at begin(), when the directory is made (nothing is created yet).
    const RestoreRequest &r = request().restore;
    m_series = *ArchiveSeries::find(ArchiveSeries::forJob(config(), job()), r.archive);
    m_paths = ArchivePath::normalizeAll(r.paths, u"paths"_s).valueOr(QStringList());
    return {};
}

void RestoreExecutor::begin()
{
    if (m_series->kind == ArchiveSeries::Kind::Database && !request().restore.database.isEmpty()) {
        inspectDump();
        return;
    }
    beginStep(u"target"_s);
    auto target = RestoreTarget::prepare(
        config().restore, request().restore.target, defaultTargetName(request()));
    if (!target) {
        endStep(Status::Failed, std::nullopt, target.error().message);
        complete();
        return;
    }
    m_target = *target;
    log(u"[target] restoring into %1"_s.arg(m_target));
    endStep(Status::Success);
    extractFiles();
}

void RestoreExecutor::countListed()
{
    if (m_lastListed.isEmpty())
        return;
    // Counted one line late: by the time borg names the next item, this one is written.
    struct stat st;
    const QByteArray p = QFile::encodeName(QDir(m_target).filePath(m_lastListed));
    if (::lstat(p.constData(), &st) != 0 || !S_ISDIR(st.st_mode))
        ++m_files;
    m_lastListed.clear();
}

void RestoreExecutor::extractFiles()
{
    if (completing())
        return;
    beginStep(u"extract"_s);
    QStringList patterns;
    for (const QString &p : std::as_const(m_paths))
        patterns.append(ArchivePath::prefixPattern(p));
    BorgCall *call = borg(BorgCommands::extractArguments(repo(), request().restore.archive,
                              patterns, QString(), request().restore.stripComponents),
        [this](const BorgLine &l) {
            if (l.name == "borg.output.list"_L1) {
                countListed();
                ++m_entries;
                m_lastListed = l.message;
                emitProgress(u"extract"_s, m_bytes, m_entries, l.message);
            } else if (l.kind == BorgLine::Kind::ProgressPercent && !l.finished) {
                m_bytes = std::max(m_bytes, l.current);
                m_total = std::max(m_total, l.total);
            }
        });
    call->setWorkingDirectory(m_target);
    connect(call, &BorgCall::finished, this, [this, call] {
        countListed();
        if (stopping()) {
            stopStep();
            complete();
            return;
        }
        const Status st = call->status();
        if (st == Status::Success)
            m_bytes = std::max(m_bytes, m_total);
        QJsonArray errors; // bounded: the report must stay a small message
        for (const QString &e : call->messages().errors() + call->messages().warnings())
            if (errors.size() < 20)
                errors.append(redact(e.left(500)));
        const RestoreRequest &r = request().restore;
        result().details = QJsonObject { { u"archive"_s, r.archive }, { u"target"_s, m_target },
            { u"paths"_s, QJsonArray::fromStringList(m_paths) },
            { u"strip_components"_s, r.stripComponents }, { u"entries"_s, m_entries },
            { u"files"_s, m_files }, { u"bytes"_s, m_bytes }, { u"errors"_s, errors },
            { u"duration_seconds"_s,
                result().startedAt.msecsTo(QDateTime::currentDateTimeUtc()) / 1000.0 } };
        QString error = call->errorText();
        if (call->messages().repositoryCorrupted())
            error = u"repository corrupted: %1 (%2)"_s.arg(call->messages().corruption(), error);
        endStep(st, call->exitCode(), st == Status::Success ? QString() : error);
        log(u"[extract] %1 entries (%2 files, %3 bytes) restored into %4"_s.arg(m_entries)
                .arg(m_files)
                .arg(m_bytes)
                .arg(m_target));
        complete();
    });
    launch(call);
}

void RestoreExecutor::inspectDump()
{
    beginStep(u"inspect"_s);
    auto members = std::make_shared<QList<QJsonObject>>();
    BorgCall *call = borg(
        BorgCommands::listItemsArguments(repo(), request().restore.archive, {}, QString(), false));
    call->setStdoutLineHandler([members](const QByteArray &line) {
        if (members->size() < 10)
            members->append(QJsonDocument::fromJson(line).object());
    });
    connect(call, &BorgCall::finished, this, [this, call, members] {
        if (stopping()) {
            stopStep();
            complete();
            return;
        }
        if (call->status() != Status::Success) {
            endStep(Status::Failed, call->exitCode(),
                u"cannot list archive %1: %2"_s.arg(request().restore.archive, call->errorText()));
            complete();
            return;
        }
        QStringList names;
        for (const QJsonObject &m : std::as_const(*members))
            names.append(m.value("path"_L1).toString());
        if (members->size() != 1 || members->first().value("type"_L1).toString() != "-"_L1
            || !(names.first().endsWith(".dump"_L1) || names.first().endsWith(".sql"_L1))) {
            endStep(Status::Failed, std::nullopt,
                u"archive %1 does not hold exactly one database dump (found: %2)"_s.arg(
                    request().restore.archive,
                    names.isEmpty() ? u"nothing"_s : names.join(u", "_s)));
            complete();
            return;
        }
        m_member = names.first();
        endStep(Status::Success);
        if (request().restore.createDatabase)
            createDatabase();
        else
            restoreDatabase();
    });
    launch(call);
}

void RestoreExecutor::createDatabase()
{
    if (completing())
        return;
    const QString db = request().restore.database;
    beginStep(u"createdb:"_s + db);
    const PostgresDumpConfig conn = PostgresClient::settingsFor(job(), m_series->database);
    runProgram(config().postgresProgram(u"createdb"_s), PostgresClient::createdbArguments(conn, db),
        PostgresClient::environment(conn), [this, db](const ProgramResult &r) {
            if (r.stopped || stopping()) {
                stopStep();
                complete();
                return;
            }
            if (!r.ok) {
                endStep(Status::Failed, r.exitCode,
                    u"cannot create database %1: %2"_s.arg(db, r.error));
                complete();
                return;
            }
            m_created = true;
            endStep(Status::Success, r.exitCode);
            restoreDatabase();
        });
}

void RestoreExecutor::restoreDatabase()
{
    if (completing())
        return;
    const RestoreRequest &req = request().restore;
    const QString step = u"restore-db:"_s + req.database;
    beginStep(step);
    const PostgresDumpConfig conn = PostgresClient::settingsFor(job(), m_series->database);
    auto *restore = new DumpRestore(
        config(), repo(), passphrase(), req.archive, m_member, conn, req.database, this);
    connect(restore, &DumpRestore::logLine, this,
        [this, step](const QString &line) { log(u"[%1] %2"_s.arg(step, line)); });
    connect(restore, &DumpRestore::progress, this,
        [this, step](qint64 bytes, qint64) { emitProgress(step, bytes, 0, m_member); });
    connect(restore, &DumpRestore::finished, this, [this, restore] {
        restore->deleteLater();
        const RestoreRequest &r = request().restore;
        result().details = QJsonObject { { u"archive"_s, r.archive }, { u"database"_s, r.database },
            { u"source_database"_s, m_series->database },
            { u"format"_s, DumpRestore::isPlainMember(m_member) ? u"plain"_s : u"custom"_s },
            { u"created_database"_s, m_created }, { u"bytes"_s, restore->bytes() } };
        if (stopping()) {
            stopStep();
            complete();
            return;
        }
        if (!restore->succeeded()) {
            QString error = restore->errorText();
            if (restore->repositoryCorrupted())
                error = u"repository corrupted: %1 (%2)"_s.arg(restore->corruption(), error);
            endStep(Status::Failed, std::nullopt, error);
            complete();
            return;
        }
        m_restored = true;
        log(u"[%1] %2 restored into database %3 (%4 bytes of dump)"_s
                .arg(u"restore-db:"_s + r.database, r.archive, r.database)
                .arg(restore->bytes()));
        endStep(Status::Success);
        complete();
    });
    track(
        restore, [restore](const QString &reason) { restore->terminate(reason); },
        [restore] { return restore->borgPid(); });
    log(u"[%1] borg extract --stdout %2 %3 | %4 -d %5"_s.arg(
        step, req.archive, m_member, restore->restoreProgram(), req.database));
    restore->start();
    Q_EMIT stepStarted(step, restore->borgPid());
}

void RestoreExecutor::cleanup(std::function<void()> done)
{
    if (!m_created || m_restored) {
        done();
        return;
    }
    // This run created the database and the restore did not complete: drop it again, so
    // nothing half-made stays behind and a retry with create_database works.
    const QString db = request().restore.database;
    beginStep(u"dropdb:"_s + db);
    const PostgresDumpConfig conn = PostgresClient::settingsFor(job(), m_series->database);
    runProgram(config().postgresProgram(u"dropdb"_s), PostgresClient::dropdbArguments(conn, db),
        PostgresClient::environment(conn), [this, db, done](const ProgramResult &r) {
            endStep(r.ok ? Status::Success : Status::Warning, r.exitCode,
                r.ok ? QString()
                     : u"the database %1 this restore created could not be dropped: %2"_s.arg(
                         db, r.error));
            done();
        });
}

} // namespace sparky::agent
