#include "drillexecutor.h"

#include "archivepath.h"
#include "borgcall.h"
#include "borgcommands.h"
#include "dumprestore.h"
#include "filehasher.h"
#include "postgresclient.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QSet>
#include <sys/stat.h>

namespace sparky::agent {

using namespace Qt::StringLiterals;
using protocol::Status;

namespace {

// borg restores the archived modes; a read-only directory would stop the removal.
void makeRemovable(const QString &root)
{
    ::chmod(QFile::encodeName(root).constData(), 0700);
    QDirIterator it(root, QDir::Dirs | QDir::NoDotAndDotDot | QDir::Hidden | QDir::System,
        QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString dir = it.next();
        if (!QFileInfo(dir).isSymLink())
            ::chmod(QFile::encodeName(dir).constData(), 0700);
    }
}

QString shortHash(const QString &h)
{
    return h.size() > 16 ? h.left(16) + u'…' : h;
}

// "repository corrupted: <borg's words> (<what we were doing>)" when borg found damaged
// data, else "<what we were doing>: <borg's error>".
QString failure(const BorgCall *call, const QString &doing)
{
    if (call->messages().repositoryCorrupted())
        return u"repository corrupted: %1 (%2)"_s.arg(call->messages().corruption(), doing);
    return doing + u": "_s + call->errorText();
}

} // namespace

DrillExecutor::DrillExecutor(
    const AgentConfig &config, RunRequest request, RepositoryLocks *locks, QObject *parent)
    : RunBase(config, std::move(request), locks, parent)
{ }

DrillExecutor::~DrillExecutor() = default;

QString DrillExecutor::scratchDirectory(
    const AgentConfig &config, const QString &job, const QString &runId)
{
    return QDir(config.stateDir).filePath(u"drill/%1-%2"_s.arg(job, runId));
}

Result DrillExecutor::validate()
{
    m_series = ArchiveSeries::forJob(config(), job());
    return {};
}

QString DrillExecutor::patternFilePath() const
{
    return QDir(m_scratch).filePath(u".sparky-patterns"_s);
}

bool DrillExecutor::writePatternFile(const QStringList &paths)
{
    QFile f(patternFilePath());
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return false;
    return f.write(ArchivePath::patternFile(paths)) >= 0 && f.flush();
}

void DrillExecutor::failStep(const QString &error, std::optional<int> exitCode)
{
    endStep(Status::Failed, exitCode, error);
    writeDetails();
    complete();
}

void DrillExecutor::begin()
{
    m_scratch = scratchDirectory(config(), job().name, request().runId);
    sweepLeftovers();
    findLatest();
}

void DrillExecutor::sweepLeftovers()
{
    // Only this job's, and only when no drill of it can still be running.
    const QDir drills(QDir(config().stateDir).filePath(u"drill"_s));
    const QDateTime before
        = QDateTime::currentDateTimeUtc().addSecs(-qint64(job().drill.timeout.count()) - 3600);
    const QFileInfoList entries = drills.entryInfoList(
        { job().name + u"-*"_s }, QDir::Dirs | QDir::NoDotAndDotDot | QDir::NoSymLinks);
    for (const QFileInfo &fi : entries) {
        if (fi.lastModified().toUTC() >= before || fi.absoluteFilePath() == m_scratch)
            continue;
        makeRemovable(fi.absoluteFilePath());
        if (QDir(fi.absoluteFilePath()).removeRecursively())
            log(u"[latest] removed %1, left behind by an earlier drill"_s.arg(
                fi.absoluteFilePath()));
    }
}

void DrillExecutor::findLatest()
{
    beginStep(u"latest"_s);
    BorgCall *call = borg(BorgCommands::listArchivesArguments(repo()));
    connect(call, &BorgCall::finished, this, [this, call] {
        if (stopping()) {
            stopStep();
            complete();
            return;
        }
        if (call->status() == Status::Failed) {
            failStep(failure(call, u"listing the archives of %1"_s.arg(repo().displayUrl())),
                call->exitCode());
            return;
        }
        const QJsonArray all = QJsonDocument::fromJson(call->standardOutput())
                                   .object()
                                   .value("archives"_L1)
                                   .toArray();
        // borg lists oldest first: the last match of a series is its newest archive.
        QHash<QString, QString> newest;
        for (const QJsonValue &v : all) {
            const QString name = v.toObject().value("name"_L1).toString();
            if (const ArchiveSeries *s = ArchiveSeries::find(m_series, name))
                newest.insert(s->series, name);
        }
        const DrillConfig &drill = job().drill;
        for (const ArchiveSeries &s : std::as_const(m_series)) {
            if (s.kind == ArchiveSeries::Kind::Files)
                m_filesArchive = newest.value(s.series);
            else if (s.kind == ArchiveSeries::Kind::Database && drill.restoreDumps
                && newest.contains(s.series)) {
                DatabaseDrill d;
                d.database = s.database;
                d.archive = newest.value(s.series);
                d.scratch = u"sparky_drill_%1_%2"_s.arg(
                    request().runId.left(12), QString::number(m_databases.size()));
                m_databases.append(d);
            }
        }
        QStringList found;
        if (!m_filesArchive.isEmpty())
            found.append(m_filesArchive);
        for (const DatabaseDrill &d : std::as_const(m_databases))
            found.append(d.archive);
        if (found.isEmpty()) {
            failStep(
                u"job %1 has no archive in %2 to drill yet"_s.arg(job().name, repo().displayUrl()));
            return;
        }
        log(u"[latest] drilling %1"_s.arg(found.join(u", "_s)));
        endStep(Status::Success, call->exitCode());
        const bool filesWanted = !job().drill.paths.isEmpty() || job().drill.randomFiles > 0;
        if (!m_filesArchive.isEmpty() && filesWanted)
            selectSample();
        else
            nextDatabase();
    });
    launch(call);
}

void DrillExecutor::selectSample()
{
    if (completing())
        return;
    beginStep(u"sample"_s);
    if (!QDir().mkpath(m_scratch)
        || !QFile::setPermissions(
            m_scratch, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner)) {
        failStep(u"cannot create the scratch directory %1"_s.arg(m_scratch));
        return;
    }
    QFile::setPermissions(
        QFileInfo(m_scratch).path(), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    m_scratchMade = true;
    const DrillConfig &drill = job().drill;
    const bool byPaths = !drill.paths.isEmpty();
    if (byPaths && !writePatternFile(drill.paths)) {
        failStep(u"cannot write %1"_s.arg(patternFilePath()));
        return;
    }
    const int wanted = byPaths ? kMaxSampleFiles : std::min(drill.randomFiles, kMaxSampleFiles);
    auto *rng = QRandomGenerator::global();
    BorgCall *call = borg(BorgCommands::listItemsArguments(
        repo(), m_filesArchive, {}, byPaths ? patternFilePath() : QString(), false));
    auto matched = std::make_shared<QSet<QString>>();
    call->setStdoutLineHandler([this, byPaths, wanted, rng, matched](const QByteArray &line) {
        const QJsonObject item = QJsonDocument::fromJson(line).object();
        if (byPaths) // which configured paths the archive has (borg does not say for a file of
                     // patterns)
            for (const QString &p : job().drill.paths)
                if (!matched->contains(p)) {
                    const QString path = item.value("path"_L1).toString();
                    if (path == p || path.startsWith(p + u'/'))
                        matched->insert(p);
                }
        if (item.value("type"_L1).toString() != "-"_L1
            || !item.value("source"_L1).toString().isEmpty()) // hardlink: its master is checked
            return;
        const QString path = item.value("path"_L1).toString();
        if (!ArchivePath::fitsPatternFile(path))
            return;
        const qint64 k = m_seenFiles++;
        if (m_sample.size() < wanted) {
            m_sample.append(path);
        } else if (!byPaths) { // reservoir sampling: every file equally likely
            const qint64 j = qint64(rng->bounded(quint64(k + 1)));
            if (j < wanted)
                m_sample[qsizetype(j)] = path;
        }
    });
    connect(call, &BorgCall::finished, this, [this, call, byPaths, matched] {
        if (stopping()) {
            stopStep();
            complete();
            return;
        }
        if (call->status() == Status::Failed) {
            failStep(failure(call, u"listing archive %1"_s.arg(m_filesArchive)), call->exitCode());
            return;
        }
        if (byPaths)
            for (const QString &p : job().drill.paths)
                if (!matched->contains(p)) {
                    m_missingPatterns.append(p);
                    addMismatch(p, u"not in the archive"_s);
                }
        if (m_sample.isEmpty()) {
            endStep(m_missingPatterns.isEmpty() ? Status::Warning : Status::Failed,
                call->exitCode(),
                m_missingPatterns.isEmpty()
                    ? u"archive %1 holds no regular file to check"_s.arg(m_filesArchive)
                    : u"the drill paths are not in archive %1: %2"_s.arg(
                        m_filesArchive, m_missingPatterns.join(u", "_s)));
            writeDetails();
            nextDatabase();
            return;
        }
        std::sort(m_sample.begin(), m_sample.end());
        log(u"[sample] %1 of %2 regular files of %3"_s.arg(m_sample.size())
                .arg(m_seenFiles)
                .arg(m_filesArchive));
        if (!writePatternFile(m_sample)) {
            failStep(u"cannot write %1"_s.arg(patternFilePath()));
            return;
        }
        recordExpected();
    });
    launch(call);
}

void DrillExecutor::recordExpected()
{
    BorgCall *call = borg(
        BorgCommands::listItemsArguments(repo(), m_filesArchive, {}, patternFilePath(), true));
    call->setStdoutLineHandler([this](const QByteArray &line) {
        const QJsonObject item = QJsonDocument::fromJson(line).object();
        const QString path = item.value("path"_L1).toString();
        if (item.value("type"_L1).toString() != "-"_L1)
            return;
        m_expected.insert(path,
            Recorded { qint64(item.value("size"_L1).toDouble()), item.value("sha256"_L1).toString(),
                item.value("healthy"_L1).toBool(true) });
    });
    connect(call, &BorgCall::finished, this, [this, call] {
        if (stopping()) {
            stopStep();
            complete();
            return;
        }
        if (call->status() == Status::Failed) {
            failStep(failure(call,
                         u"reading what borg recorded for the sample of archive %1"_s.arg(
                             m_filesArchive)),
                call->exitCode());
            return;
        }
        endStep(m_missingPatterns.isEmpty() ? Status::Success : Status::Failed, call->exitCode(),
            m_missingPatterns.isEmpty() ? QString()
                                        : u"the drill paths are not in archive %1: %2"_s.arg(
                                            m_filesArchive, m_missingPatterns.join(u", "_s)));
        extractSample();
    });
    launch(call);
}

void DrillExecutor::extractSample()
{
    if (completing())
        return;
    beginStep(u"extract"_s);
    const QString into = QDir(m_scratch).filePath(u"files"_s);
    QDir().mkpath(into);
    auto bytes = std::make_shared<qint64>(0);
    BorgCall *call
        = borg(BorgCommands::extractArguments(repo(), m_filesArchive, {}, patternFilePath(), 0),
            [this, bytes](const BorgLine &l) {
                if (l.kind == BorgLine::Kind::ProgressPercent && !l.finished) {
                    *bytes = std::max(*bytes, l.current);
                    emitProgress(u"extract"_s, *bytes, 0, l.path);
                }
            });
    call->setWorkingDirectory(into);
    connect(call, &BorgCall::finished, this, [this, call] {
        if (stopping()) {
            stopStep();
            complete();
            return;
        }
        if (call->messages().repositoryCorrupted() || call->status() == Status::Failed) {
            failStep(failure(call, u"extracting the sample of archive %1"_s.arg(m_filesArchive)),
                call->exitCode());
            return;
        }
        endStep(call->status(), call->exitCode(), call->errorText());
        verifySample();
    });
    launch(call);
}

void DrillExecutor::verifySample()
{
    if (completing())
        return;
    beginStep(u"verify"_s);
    const QDir into(QDir(m_scratch).filePath(u"files"_s));
    QStringList toHash;
    QStringList hashedPaths;
    for (const QString &path : std::as_const(m_sample)) {
        const auto rec = m_expected.constFind(path);
        if (rec == m_expected.constEnd()) {
            addMismatch(path, u"borg listed it, then recorded nothing for it"_s);
            continue;
        }
        if (!rec->healthy)
            addMismatch(
                path, u"damaged in the archive: borg reports missing chunks (replaced by zeros)"_s);
        struct stat st;
        const QString local = into.filePath(path);
        if (::lstat(QFile::encodeName(local).constData(), &st) != 0) {
            addMismatch(path, u"missing after extraction"_s);
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            addMismatch(path, u"not a regular file after extraction"_s);
            continue;
        }
        toHash.append(local);
        hashedPaths.append(path);
    }
    auto *hasher = new FileHasher(toHash, this);
    track(hasher, [hasher](const QString &) { hasher->cancel(); });
    connect(hasher, &FileHasher::finished, this, [this, hasher, hashedPaths] {
        hasher->deleteLater();
        if (stopping()) {
            stopStep();
            complete();
            return;
        }
        const QList<FileHasher::Result> &results = hasher->results();
        for (qsizetype i = 0; i < results.size(); ++i) {
            const FileHasher::Result &r = results.at(i);
            const QString &path = hashedPaths.at(i);
            const Recorded rec = m_expected.value(path);
            ++m_filesChecked;
            m_bytesChecked += r.size;
            if (!r.ok) {
                addMismatch(path, u"cannot read the extracted file: "_s + r.error);
            } else if (r.size != rec.size) {
                addMismatch(path,
                    u"size differs (archive %1 bytes, extracted %2)"_s.arg(rec.size).arg(r.size),
                    { { u"expected_size"_s, rec.size }, { u"actual_size"_s, r.size } });
            } else if (QString::fromLatin1(r.sha256) != rec.sha256) {
                addMismatch(path,
                    u"content differs (sha256 in archive %1, extracted %2)"_s.arg(
                        shortHash(rec.sha256), shortHash(QString::fromLatin1(r.sha256))),
                    { { u"expected_sha256"_s, rec.sha256 },
                        { u"actual_sha256"_s, QString::fromLatin1(r.sha256) } });
            }
        }
        writeDetails();
        if (m_mismatchCount > 0) {
            endStep(Status::Failed, std::nullopt,
                u"%1 of %2 sampled files differ from archive %3: %4%5"_s.arg(m_mismatchCount)
                    .arg(m_sample.size() + m_missingPatterns.size())
                    .arg(m_filesArchive, m_mismatchSummary.join(u"; "_s),
                        m_mismatchCount > m_mismatchSummary.size() ? u"; …"_s : QString()));
        } else {
            log(u"[verify] %1 files, %2 bytes identical to archive %3"_s.arg(m_filesChecked)
                    .arg(m_bytesChecked)
                    .arg(m_filesArchive));
            endStep(Status::Success);
        }
        nextDatabase();
    });
    hasher->start();
}

void DrillExecutor::addMismatch(
    const QString &path, const QString &problem, const QJsonObject &extra)
{
    ++m_mismatchCount;
    if (m_mismatches.size() < kMaxMismatchesReported) {
        QJsonObject o = extra;
        o.insert(u"path"_s, path);
        o.insert(u"problem"_s, problem);
        m_mismatches.append(o);
    }
    if (m_mismatchSummary.size() < 5)
        m_mismatchSummary.append(path + u": "_s + problem);
}

void DrillExecutor::nextDatabase()
{
    if (completing())
        return;
    if (m_nextDatabase >= m_databases.size()) {
        writeDetails();
        complete();
        return;
    }
    inspectDump(m_nextDatabase++);
}

void DrillExecutor::inspectDump(qsizetype index)
{
    DatabaseDrill &db = m_databases[index];
    beginStep(u"restore-db:"_s + db.database);
    auto members = std::make_shared<QStringList>();
    BorgCall *call
        = borg(BorgCommands::listItemsArguments(repo(), db.archive, {}, QString(), false));
    call->setStdoutLineHandler([members](const QByteArray &line) {
        if (members->size() < 10)
            members->append(QJsonDocument::fromJson(line).object().value("path"_L1).toString());
    });
    connect(call, &BorgCall::finished, this, [this, call, members, index] {
        DatabaseDrill &d = m_databases[index];
        if (stopping()) {
            stopStep();
            complete();
            return;
        }
        d.report = QJsonObject { { u"database"_s, d.database }, { u"archive"_s, d.archive },
            { u"scratch_database"_s, d.scratch } };
        QString error;
        if (call->status() == Status::Failed)
            error = failure(call, u"listing archive %1"_s.arg(d.archive));
        else if (members->size() != 1
            || !(members->first().endsWith(".dump"_L1) || members->first().endsWith(".sql"_L1)))
            error = u"archive %1 does not hold exactly one database dump (found: %2)"_s.arg(
                d.archive, members->join(u", "_s));
        if (!error.isEmpty()) {
            d.report.insert(u"status"_s, u"failed"_s);
            d.report.insert(u"error"_s, error);
            endStep(Status::Failed, call->exitCode(), error);
            writeDetails();
            nextDatabase();
            return;
        }
        d.member = members->first();
        d.report.insert(
            u"format"_s, DumpRestore::isPlainMember(d.member) ? u"plain"_s : u"custom"_s);
        createScratch(index);
    });
    launch(call);
}

void DrillExecutor::createScratch(qsizetype index)
{
    if (completing())
        return;
    DatabaseDrill &db = m_databases[index];
    const PostgresDumpConfig conn = PostgresClient::settingsFor(job(), db.database);
    runProgram(config().postgresProgram(u"createdb"_s),
        PostgresClient::createdbArguments(conn, db.scratch), PostgresClient::environment(conn),
        [this, index](const ProgramResult &r) {
            DatabaseDrill &d = m_databases[index];
            if (r.stopped || stopping()) {
                stopStep();
                complete();
                return;
            }
            if (!r.ok) {
                const QString error
                    = u"cannot create the scratch database %1: %2"_s.arg(d.scratch, r.error);
                d.report.insert(u"status"_s, u"failed"_s);
                d.report.insert(u"error"_s, error);
                endStep(Status::Failed, r.exitCode, error);
                writeDetails();
                nextDatabase();
                return;
            }
            d.created = true;
            restoreScratch(index);
        });
}

void DrillExecutor::restoreScratch(qsizetype index)
{
    if (completing())
        return;
    DatabaseDrill &db = m_databases[index];
    const PostgresDumpConfig conn = PostgresClient::settingsFor(job(), db.database);
    const QString step = u"restore-db:"_s + db.database;
    auto *restore = new DumpRestore(
        config(), repo(), passphrase(), db.archive, db.member, conn, db.scratch, this);
    connect(restore, &DumpRestore::logLine, this,
        [this, step](const QString &line) { log(u"[%1] %2"_s.arg(step, line)); });
    connect(restore, &DumpRestore::progress, this,
        [this, step](qint64 bytes, qint64) { emitProgress(step, bytes, 0, QString()); });
    connect(restore, &DumpRestore::finished, this, [this, restore, index] {
        restore->deleteLater();
        DatabaseDrill &d = m_databases[index];
        if (stopping()) {
            stopStep();
            complete();
            return;
        }
        d.report.insert(u"bytes"_s, restore->bytes());
        if (!restore->succeeded()) {
            QString error
                = u"restore of database %1 from %2 into scratch database %3 failed: %4"_s.arg(
                    d.database, d.archive, d.scratch, restore->errorText());
            if (restore->repositoryCorrupted())
                error = u"repository corrupted: %1 (%2)"_s.arg(restore->corruption(), error);
            d.report.insert(u"status"_s, u"failed"_s);
            d.report.insert(u"error"_s, error);
            endStep(Status::Failed, std::nullopt, error);
            writeDetails();
            nextDatabase();
            return;
        }
        endStep(Status::Success);
        sanityCheck(index);
    });
    track(
        restore, [restore](const QString &reason) { restore->terminate(reason); },
        [restore] { return restore->borgPid(); });
    log(u"[%1] borg extract --stdout %2 %3 | %4 -d %5"_s.arg(
        step, db.archive, db.member, restore->restoreProgram(), db.scratch));
    restore->start();
    Q_EMIT stepStarted(step, restore->borgPid());
}

void DrillExecutor::sanityCheck(qsizetype index)
{
    if (completing())
        return;
    DatabaseDrill &db = m_databases[index];
    beginStep(u"sanity:"_s + db.database);
    const PostgresDumpConfig conn = PostgresClient::settingsFor(job(), db.database);
    runProgram(config().postgresProgram(u"psql"_s),
        PostgresClient::psqlQueryArguments(conn, db.scratch, PostgresClient::sanityQuery()),
        PostgresClient::environment(conn), [this, index](const ProgramResult &r) {
            DatabaseDrill &d = m_databases[index];
            if (r.stopped || stopping()) {
                stopStep();
                complete();
                return;
            }
            const QStringList parts = QString::fromUtf8(r.standardOutput).trimmed().split(u'|');
            bool okT = false, okR = false;
            const qint64 tables = parts.value(0).toLongLong(&okT);
            const qint64 rows = parts.value(1).toLongLong(&okR);
            if (!r.ok || parts.size() != 2 || !okT || !okR) {
                const QString error = u"the sanity query on scratch database %1 failed: %2"_s.arg(
                    d.scratch, r.ok ? u"unexpected output"_s : r.error);
                d.report.insert(u"status"_s, u"failed"_s);
                d.report.insert(u"error"_s, error);
                endStep(Status::Failed, r.exitCode, error);
            } else {
                d.report.insert(u"tables"_s, tables);
                d.report.insert(u"rows"_s, rows);
                d.report.insert(u"status"_s, u"success"_s);
                log(u"[sanity:%1] restored dump of %1 has %2 tables, %3 rows"_s.arg(d.database)
                        .arg(tables)
                        .arg(rows));
                endStep(Status::Success, r.exitCode);
            }
            writeDetails();
            nextDatabase();
        });
}

void DrillExecutor::writeDetails()
{
    QJsonObject details;
    if (!m_filesArchive.isEmpty())
        details.insert(u"archive"_s, m_filesArchive);
    details.insert(u"sample"_s, job().drill.paths.isEmpty() ? u"random"_s : u"paths"_s);
    details.insert(u"files_checked"_s, m_filesChecked);
    details.insert(u"bytes_checked"_s, m_bytesChecked);
    details.insert(u"mismatches"_s, m_mismatches);
    if (m_mismatchCount > m_mismatches.size())
        details.insert(u"mismatches_total"_s, m_mismatchCount);
    QJsonArray dbs;
    for (const DatabaseDrill &d : std::as_const(m_databases))
        if (!d.report.isEmpty())
            dbs.append(d.report);
    details.insert(u"databases"_s, dbs);
    result().details = details;
}

void DrillExecutor::dropNext(qsizetype index, std::function<void()> done)
{
    while (index < m_databases.size() && !m_databases.at(index).created)
        ++index;
    if (index >= m_databases.size()) {
        done();
        return;
    }
    DatabaseDrill &d = m_databases[index];
    d.created = false;
    const PostgresDumpConfig conn = PostgresClient::settingsFor(job(), d.database);
    runProgram(config().postgresProgram(u"dropdb"_s),
        PostgresClient::dropdbArguments(conn, d.scratch), PostgresClient::environment(conn),
        [this, index, done](const ProgramResult &r) {
            if (!r.ok)
                m_cleanupProblems.append(u"the scratch database %1 could not be dropped: %2"_s.arg(
                    m_databases.at(index).scratch, r.error));
            dropNext(index + 1, done);
        });
}

void DrillExecutor::cleanup(std::function<void()> done)
{
    beginStep(u"cleanup"_s);
    dropNext(0, [this, done] {
        if (m_scratchMade || QFileInfo::exists(m_scratch)) {
            makeRemovable(m_scratch);
            if (!QDir(m_scratch).removeRecursively() || QFileInfo::exists(m_scratch))
                m_cleanupProblems.append(
                    u"the scratch directory %1 could not be removed"_s.arg(m_scratch));
        }
        for (const QString &p : std::as_const(m_cleanupProblems))
            log(u"[cleanup] "_s + p);
        endStep(m_cleanupProblems.isEmpty() ? Status::Success : Status::Warning, std::nullopt,
            m_cleanupProblems.join(u"; "_s));
        writeDetails();
        done();
    });
}

} // namespace sparky::agent
