#include "agentcli.h"

#include "agentcommands.h"
#include "repositorylocks.h"
#include "runexecutor.h"
#include "sparky/logging.h"
#include "unixsignalwatcher.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>
#include <QTextStream>
#include <csignal>
#include <cstdio>

// The daemon side (agent/daemon) adds its commands to the table below when it is built.
#ifdef SPARKY_HAVE_AGENT_DAEMON
#include "daemoncli.h"
#endif

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

QTextStream &out()
{
    static QTextStream s(stdout);
    return s;
}

QTextStream &err()
{
    static QTextStream s(stderr);
    return s;
}

const QCommandLineOption kConfigOption({ u"c"_s, u"config"_s },
    u"Configuration file (default %1)."_s.arg(kDefaultConfigPath), u"FILE"_s,
    QString(kDefaultConfigPath));
const QCommandLineOption kConfDirOption(u"conf-dir"_s,
    u"Directory of extra *.yaml files (default: conf.d beside the configuration file)."_s,
    u"DIR"_s);
const QCommandLineOption kVerboseOption({ u"v"_s, u"verbose"_s }, u"Debug logging."_s);

QString humanBytes(qint64 bytes)
{
    return QLocale::c().formattedDataSize(bytes, 2, QLocale::DataSizeIecFormat);
}

// Parses a command's own options; returns false (and an exit code) on error or --help.
bool parseCommand(QCommandLineParser &parser, const CliContext &ctx, int *exitCode)
{
    parser.addHelpOption();
    if (!parser.parse(ctx.arguments)) {
        err() << "sparky-agent " << ctx.command << ": " << parser.errorText() << "\n";
        err().flush();
        *exitCode = 2;
        return false;
    }
    if (parser.isSet(u"help"_s)) {
        out() << parser.helpText();
        out().flush();
        *exitCode = 0;
        return false;
    }
    return true;
}

int exitCodeFor(protocol::Status s)
{
    switch (s) {
    case protocol::Status::Success:
        return 0;
    case protocol::Status::Warning:
        return 1;
    case protocol::Status::Cancelled:
    case protocol::Status::Failed:
        return 2;
    }
    return 2;
}

void printSummary(const protocol::RunFinished &r)
{
    const double secs = r.startedAt.msecsTo(r.finishedAt) / 1000.0;
    out() << protocol::runKindName(r.kind) << " of job " << r.job << " (run " << r.runId
          << "): " << protocol::statusName(r.status) << " in " << QString::number(secs, 'f', 1)
          << " s\n";
    for (const protocol::StepResult &s : r.steps) {
        out() << "  " << s.name << ": " << protocol::statusName(s.status);
        if (s.exitCode)
            out() << " (exit " << *s.exitCode << ")";
        if (!s.error.isEmpty())
            out() << " — " << s.error;
        out() << "\n";
    }
    const QJsonArray archives = r.details.value("archives"_L1).toArray();
    for (const QJsonValue &v : archives) {
        const QJsonObject a = v.toObject();
        out() << "  archive " << a.value("archive_name"_L1).toString() << ": "
              << qint64(a.value("files"_L1).toDouble()) << " files, original "
              << humanBytes(qint64(a.value("original_size"_L1).toDouble())) << ", compressed "
              << humanBytes(qint64(a.value("compressed_size"_L1).toDouble())) << ", deduplicated "
              << humanBytes(qint64(a.value("deduplicated_size"_L1).toDouble())) << "\n";
    }
    const QJsonObject &d = r.details;
    if (r.kind == protocol::RunKind::Restore && d.contains("target"_L1)) {
        out() << "  restored " << qint64(d.value("entries"_L1).toDouble()) << " entries ("
              << qint64(d.value("files"_L1).toDouble()) << " files, "
              << humanBytes(qint64(d.value("bytes"_L1).toDouble())) << ") from "
              << d.value("archive"_L1).toString() << " into " << d.value("target"_L1).toString()
              << "\n";
        for (const QJsonValue &e : d.value("errors"_L1).toArray())
            out() << "  problem: " << e.toString() << "\n";
    } else if (r.kind == protocol::RunKind::Restore && d.contains("database"_L1)) {
        out() << "  restored " << d.value("archive"_L1).toString() << " into database "
              << d.value("database"_L1).toString() << " ("
              << humanBytes(qint64(d.value("bytes"_L1).toDouble())) << " of dump)\n";
    } else if (r.kind == protocol::RunKind::Drill) {
        if (d.contains("archive"_L1))
            out() << "  archive " << d.value("archive"_L1).toString() << ": "
                  << qint64(d.value("files_checked"_L1).toDouble()) << " files checked ("
                  << humanBytes(qint64(d.value("bytes_checked"_L1).toDouble())) << "), "
                  << d.value("mismatches"_L1).toArray().size() << " mismatches\n";
        for (const QJsonValue &v : d.value("mismatches"_L1).toArray())
            out() << "    " << v.toObject().value("path"_L1).toString() << ": "
                  << v.toObject().value("problem"_L1).toString() << "\n";
        for (const QJsonValue &v : d.value("databases"_L1).toArray()) {
            const QJsonObject db = v.toObject();
            out() << "  database " << db.value("database"_L1).toString() << " from "
                  << db.value("archive"_L1).toString() << ": " << db.value("status"_L1).toString();
            if (db.contains("tables"_L1))
                out() << ", " << qint64(db.value("tables"_L1).toDouble()) << " tables, "
                      << qint64(db.value("rows"_L1).toDouble()) << " rows";
            out() << "\n";
        }
    }
    if (!r.failedStep.isEmpty())
        out() << "failed step: " << r.failedStep << "\n";
    if (!r.error.isEmpty() && r.status != protocol::Status::Success)
        out() << "error: " << r.error << "\n";
    out().flush();
}

// Runs one RunRequest in the foreground: progress on stderr, the summary (or the
// run.finished body as JSON) on stdout; SIGINT/SIGTERM/SIGHUP cancel it. Exit 0/1/2.
int executeRun(const AgentConfig &config, const RunRequest &request, bool quiet, bool json)
{
    RepositoryLocks locks;
    RunExecutor executor(config, request, &locks);
    QObject::connect(
        &executor, &RunExecutor::progress, &executor, [quiet](const protocol::RunProgress &p) {
            if (quiet)
                return;
            err() << p.step << ": " << p.files << " files, " << humanBytes(p.originalSize);
            if (p.deduplicatedSize > 0)
                err() << ", deduplicated " << humanBytes(p.deduplicatedSize);
            err() << "  " << p.currentPath << "\n";
            err().flush();
        });
    QObject::connect(
        &executor, &RunExecutor::stepStarted, &executor, [quiet](const QString &step, qint64) {
            if (quiet)
                return;
            err() << "== " << step << "\n";
            err().flush();
        });
    int exitCode = 2;
    QObject::connect(
        &executor, &RunExecutor::finished, &executor, [&](const protocol::RunFinished &r) {
            if (json) {
                out() << QJsonDocument(r.toJson()).toJson(QJsonDocument::Indented);
                out().flush();
            } else {
                printSummary(r);
            }
            exitCode = exitCodeFor(r.status);
            QCoreApplication::exit(exitCode);
        });
    UnixSignalWatcher signalWatcher({ SIGINT, SIGTERM, SIGHUP });
    QObject::connect(&signalWatcher, &UnixSignalWatcher::received, &executor, [&executor](int sig) {
        executor.cancel(sig == SIGINT ? u"interrupted (SIGINT)"_s
                : sig == SIGTERM      ? u"terminated (SIGTERM)"_s
                                      : u"hangup (SIGHUP)"_s);
    });
    executor.start();
    QCoreApplication::exec();
    return exitCode;
}

bool knownJob(const AgentConfig &config, const QString &jobName)
{
    if (config.job(jobName))
        return true;
    QStringList names;
    for (const JobConfig &j : config.jobs)
        names.append(j.name);
    err() << "sparky-agent: unknown job '" << jobName << "' (jobs: " << names.join(u", "_s)
          << ")\n";
    err().flush();
    return false;
}

int runJob(const CliContext &ctx, protocol::RunKind kind)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(kind == protocol::RunKind::Check
            ? u"Run borg check on a job's repository now."_s
            : u"Run a backup job now, in the foreground."_s);
    addCommonOptions(parser);
    const QCommandLineOption jsonOption(
        u"json"_s, u"Print the result as JSON (the run.finished body)."_s);
    const QCommandLineOption quietOption({ u"q"_s, u"quiet"_s }, u"No progress lines."_s);
    parser.addOption(jsonOption);
    parser.addOption(quietOption);
    parser.addPositionalArgument(u"job"_s, u"The job to run."_s);
    int code = 0;
    if (!parseCommand(parser, ctx, &code))
        return code;
    if (parser.positionalArguments().size() != 1) {
        err() << "sparky-agent " << ctx.command << ": name exactly one job\n";
        err().flush();
        return 2;
    }
    auto config = loadConfigFromOptions(parser);
    if (!config)
        return 2;
    const QString jobName = parser.positionalArguments().first();
    if (!knownJob(*config, jobName))
        return 2;
    RunRequest request;
    request.kind = kind;
    request.job = jobName;
    request.trigger = u"cli"_s;
    const bool json = parser.isSet(jsonOption);
    return executeRun(*config, request, parser.isSet(quietOption) || json, json);
}

int cmdRun(const CliContext &ctx)
{
    return runJob(ctx, protocol::RunKind::Backup);
}

int cmdCheck(const CliContext &ctx)
{
    return runJob(ctx, protocol::RunKind::Check);
}

int cmdCheckConfig(const CliContext &ctx)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Validate the configuration without running anything."_s);
    addCommonOptions(parser);
    int code = 0;
    if (!parseCommand(parser, ctx, &code))
        return code;
    auto config = loadConfigFromOptions(parser);
    if (!config)
        return 1;
    out() << "configuration OK: " << config->files.join(u", "_s) << "\n"
          << "  node " << config->node << ", " << config->repositories.size() << " repositories, "
          << config->jobs.size() << " jobs, digest " << QString::fromLatin1(config->digest) << "\n";
    out().flush();
    return 0;
}

int cmdListJobs(const CliContext &ctx)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"List the jobs and their next scheduled runs (after jitter, in each job's time zone)."_s);
    addCommonOptions(parser);
    const QCommandLineOption countOption(
        u"count"_s, u"How many next runs to show (default 3)."_s, u"N"_s, u"3"_s);
    parser.addOption(countOption);
    int code = 0;
    if (!parseCommand(parser, ctx, &code))
        return code;
    auto config = loadConfigFromOptions(parser);
    if (!config)
        return 1;
    const int count = std::clamp(parser.value(countOption).toInt(), 1, 100);
    const QDateTime now = QDateTime::currentDateTimeUtc();
    auto fmt = [](const QDateTime &t, const QTimeZone &z) -> QString {
        const QDateTime l = t.toTimeZone(z);
        return l.toString(u"yyyy-MM-dd HH:mm:ss"_s) + u' ' + z.abbreviation(l);
    };
    for (const JobConfig &j : config->jobs) {
        const RepositoryConfig *repo = config->repository(j.repository);
        out() << j.name << "  repository " << j.repository << " ("
              << (repo ? repo->displayUrl() : QString()) << ")\n";
        if (j.schedule.isEmpty()) {
            out() << "  schedule: none (manual or command only)\n";
        } else {
            const CronSchedule s = config->backupSchedule(j);
            out() << "  schedule: " << j.schedule << " in " << QString::fromUtf8(j.timeZone.id())
                  << ", jitter " << j.jitter.count() << " s (this node: +" << s.offset().count()
                  << " s)" << (j.catchUp ? ", catch-up on" : ", catch-up off") << "\n";
            for (const QDateTime &t : s.nextRuns(now, count))
                out() << "    next: " << fmt(t, j.timeZone) << "\n";
        }
        if (!j.check.schedule.isEmpty()) {
            const CronSchedule s = config->checkSchedule(j);
            out() << "  check: " << j.check.schedule << "\n";
            for (const QDateTime &t : s.nextRuns(now, 1))
                out() << "    next: " << fmt(t, j.timeZone) << "\n";
        }
        if (!j.drill.schedule.isEmpty()) {
            const CronSchedule s = config->drillSchedule(j);
            out() << "  drill: " << j.drill.schedule << "\n";
            for (const QDateTime &t : s.nextRuns(now, 1))
                out() << "    next: " << fmt(t, j.timeZone) << "\n";
        }
    }
    out().flush();
    return 0;
}

// Runs an AgentJob to its end; returns its result or prints its error.
std::optional<QJsonObject> runAgentJob(
    const AgentConfig &config, const QString &type, const QJsonObject &body)
{
    auto job = AgentCommands::createJob(config, type, body);
    if (!job) {
        err() << "sparky-agent: " << job.error().message << "\n";
        err().flush();
        return std::nullopt;
    }
    std::unique_ptr<AgentJob> j = std::move(*job);
    UnixSignalWatcher signalWatcher({ SIGINT, SIGTERM, SIGHUP });
    QObject::connect(&signalWatcher, &UnixSignalWatcher::received, j.get(),
        [&j](int) { j->cancel(u"interrupted"_s); });
    QObject::connect(j.get(), &AgentJob::finished, j.get(), [] { QCoreApplication::exit(0); });
    j->start();
    QCoreApplication::exec();
    if (j->hasError()) {
        err() << "sparky-agent: " << j->error().message << "\n";
        err().flush();
        return std::nullopt;
    }
    return j->result();
}

int cmdArchives(const CliContext &ctx)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"List a job's archives (files and database dumps) with borg's statistics."_s);
    addCommonOptions(parser);
    const QCommandLineOption jsonOption(u"json"_s, u"Print the archives.list result as JSON."_s);
    const QCommandLineOption noStatsOption(
        u"no-stats"_s, u"Names and times only (skips borg info, faster)."_s);
    const QCommandLineOption lastOption(u"last"_s, u"Only the newest N archives."_s, u"N"_s);
    parser.addOptions({ jsonOption, noStatsOption, lastOption });
    parser.addPositionalArgument(u"job"_s, u"The job."_s);
    int code = 0;
    if (!parseCommand(parser, ctx, &code))
        return code;
    if (parser.positionalArguments().size() != 1) {
        err() << "sparky-agent archives: name exactly one job\n";
        err().flush();
        return 2;
    }
    auto config = loadConfigFromOptions(parser);
    if (!config)
        return 2;
    QJsonObject body { { u"job"_s, parser.positionalArguments().first() },
        { u"stats"_s, !parser.isSet(noStatsOption) } };
    if (parser.isSet(lastOption))
        body.insert(u"last"_s, parser.value(lastOption).toInt());
    const auto result = runAgentJob(*config, QString(protocol::type::ArchivesList), body);
    if (!result)
        return 2;
    if (parser.isSet(jsonOption)) {
        out() << QJsonDocument(*result).toJson(QJsonDocument::Indented);
        out().flush();
        return 0;
    }
    for (const QJsonValue &v : result->value("archives"_L1).toArray()) {
        const QJsonObject a = v.toObject();
        out() << a.value("name"_L1).toString().leftJustified(48) << "  "
              << a.value("start"_L1).toString();
        if (a.value("kind"_L1).toString() != "files"_L1)
            out() << "  [" << a.value("kind"_L1).toString()
                  << (a.contains("database"_L1) ? u" "_s + a.value("database"_L1).toString()
                                                : QString())
                  << "]";
        if (a.contains("stats"_L1)) {
            const QJsonObject s = a.value("stats"_L1).toObject();
            out() << "  " << qint64(s.value("files"_L1).toDouble()) << " files, original "
                  << humanBytes(qint64(s.value("original_size"_L1).toDouble())) << ", deduplicated "
                  << humanBytes(qint64(s.value("deduplicated_size"_L1).toDouble()));
        }
        out() << "\n";
    }
    out() << qint64(result->value("total"_L1).toDouble()) << " archives of job "
          << result->value("job"_L1).toString() << " in "
          << result->value("repository"_L1).toString() << "\n";
    out().flush();
    return 0;
}

int cmdLs(const CliContext &ctx)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(u"List one directory of an archive (paged)."_s);
    addCommonOptions(parser);
    const QCommandLineOption jsonOption(u"json"_s, u"Print each archive.browse page as JSON."_s);
    const QCommandLineOption pageSizeOption(
        u"page-size"_s, u"Entries per page (1-1000, default 200)."_s, u"N"_s);
    const QCommandLineOption cursorOption(
        u"cursor"_s, u"Continue after this cursor (next_cursor of a page)."_s, u"CURSOR"_s);
    const QCommandLineOption allOption(u"all"_s, u"Follow the pages to the end."_s);
    parser.addOptions({ jsonOption, pageSizeOption, cursorOption, allOption });
    parser.addPositionalArgument(u"job"_s, u"The job."_s);
    parser.addPositionalArgument(u"archive"_s, u"The archive."_s);
    parser.addPositionalArgument(
        u"path"_s, u"Directory in the archive (default: top)."_s, u"[PATH]"_s);
    int code = 0;
    if (!parseCommand(parser, ctx, &code))
        return code;
    const QStringList pos = parser.positionalArguments();
    if (pos.size() < 2 || pos.size() > 3) {
        err() << "sparky-agent ls: give JOB ARCHIVE [PATH]\n";
        err().flush();
        return 2;
    }
    auto config = loadConfigFromOptions(parser);
    if (!config)
        return 2;
    QString cursor = parser.value(cursorOption);
    while (true) {
        QJsonObject body { { u"job"_s, pos.at(0) }, { u"archive"_s, pos.at(1) },
            { u"path"_s, pos.value(2) } };
        if (parser.isSet(pageSizeOption))
            body.insert(u"page_size"_s, parser.value(pageSizeOption).toInt());
        if (!cursor.isEmpty())
            body.insert(u"cursor"_s, cursor);
        const auto page = runAgentJob(*config, QString(protocol::type::ArchiveBrowse), body);
        if (!page)
            return 2;
        if (parser.isSet(jsonOption)) {
            out() << QJsonDocument(*page).toJson(QJsonDocument::Compact) << "\n";
        } else {
            for (const QJsonValue &v : page->value("entries"_L1).toArray()) {
                const QJsonObject e = v.toObject();
                const bool dir = e.value("type"_L1).toString() == "dir"_L1;
                out() << e.value("mode"_L1)
                             .toString(dir ? u"d?????????"_s : QString())
                             .leftJustified(10)
                      << " "
                      << QString::number(qint64(e.value("size"_L1).toDouble())).rightJustified(12)
                      << " " << e.value("mtime"_L1).toString().leftJustified(24) << " "
                      << e.value("name"_L1).toString() << (dir ? "/" : "");
                if (e.contains("target"_L1))
                    out() << " -> " << e.value("target"_L1).toString();
                out() << "\n";
            }
        }
        cursor = page->value("next_cursor"_L1).toString();
        if (!parser.isSet(jsonOption) && (!parser.isSet(allOption) || cursor.isEmpty())) {
            const qint64 shown = qint64(page->value("offset"_L1).toDouble())
                + page->value("entries"_L1).toArray().size();
            out() << "-- " << shown << " of " << qint64(page->value("total"_L1).toDouble())
                  << " entries";
            if (!cursor.isEmpty())
                out() << "; more: --cursor '" << cursor << "' (or --all)";
            out() << "\n";
        }
        out().flush();
        if (!parser.isSet(allOption) || cursor.isEmpty())
            return 0;
    }
}

int cmdRestore(const CliContext &ctx)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Restore paths of an archive under a restore root (or a dump into a database)."_s);
    addCommonOptions(parser);
    const QCommandLineOption toOption(u"to"_s,
        u"Target directory (default: <first restore root>/<run id>); must lie under the "
        "restore roots unless restore.allow_in_place is set."_s,
        u"DIR"_s);
    const QCommandLineOption stripOption(
        u"strip-components"_s, u"Remove N leading path elements."_s, u"N"_s);
    const QCommandLineOption databaseOption(
        u"database"_s, u"Restore a database dump archive into this database."_s, u"DB"_s);
    const QCommandLineOption createOption(
        u"create-database"_s, u"Create the database first (it must not exist)."_s);
    const QCommandLineOption jsonOption(
        u"json"_s, u"Print the result as JSON (the run.finished body)."_s);
    const QCommandLineOption quietOption({ u"q"_s, u"quiet"_s }, u"No progress lines."_s);
    parser.addOptions(
        { toOption, stripOption, databaseOption, createOption, jsonOption, quietOption });
    parser.addPositionalArgument(u"job"_s, u"The job."_s);
    parser.addPositionalArgument(u"archive"_s, u"The archive."_s);
    parser.addPositionalArgument(
        u"path"_s, u"Paths in the archive (none: everything)."_s, u"[PATH…]"_s);
    int code = 0;
    if (!parseCommand(parser, ctx, &code))
        return code;
    const QStringList pos = parser.positionalArguments();
    if (pos.size() < 2) {
        err() << "sparky-agent restore: give JOB ARCHIVE [PATH…]\n";
        err().flush();
        return 2;
    }
    auto config = loadConfigFromOptions(parser);
    if (!config)
        return 2;
    if (!knownJob(*config, pos.at(0)))
        return 2;
    QJsonObject body { { u"job"_s, pos.at(0) }, { u"archive"_s, pos.at(1) } };
    if (pos.size() > 2)
        body.insert(u"paths"_s, QJsonArray::fromStringList(pos.mid(2)));
    if (parser.isSet(toOption))
        body.insert(u"target"_s, // relative to here; '..' is left for the agent to refuse
            QFileInfo(parser.value(toOption)).isAbsolute()
                ? parser.value(toOption)
                : QDir::current().filePath(parser.value(toOption)));
    if (parser.isSet(stripOption))
        body.insert(u"strip_components"_s, parser.value(stripOption).toInt());
    if (parser.isSet(databaseOption))
        body.insert(u"database"_s, parser.value(databaseOption));
    if (parser.isSet(createOption))
        body.insert(u"create_database"_s, true);
    auto request = AgentCommands::runRequest(
        *config, QString(protocol::type::RestoreExtract), body, {}, u"cli"_s);
    if (!request) {
        err() << "sparky-agent restore: " << request.error().message << "\n";
        err().flush();
        return 2;
    }
    const bool json = parser.isSet(jsonOption);
    return executeRun(*config, *request, parser.isSet(quietOption) || json, json);
}

int cmdDrill(const CliContext &ctx)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Run a restore drill of a job now: extract a sample of the latest archive, verify it "
        "against what borg recorded, restore database dumps into scratch databases."_s);
    addCommonOptions(parser);
    const QCommandLineOption jsonOption(
        u"json"_s, u"Print the result as JSON (the run.finished body)."_s);
    const QCommandLineOption quietOption({ u"q"_s, u"quiet"_s }, u"No progress lines."_s);
    parser.addOptions({ jsonOption, quietOption });
    parser.addPositionalArgument(u"job"_s, u"The job."_s);
    int code = 0;
    if (!parseCommand(parser, ctx, &code))
        return code;
    if (parser.positionalArguments().size() != 1) {
        err() << "sparky-agent drill: name exactly one job\n";
        err().flush();
        return 2;
    }
    auto config = loadConfigFromOptions(parser);
    if (!config)
        return 2;
    if (!knownJob(*config, parser.positionalArguments().first()))
        return 2;
    auto request = AgentCommands::runRequest(*config, QString(protocol::type::DrillRun),
        { { u"job"_s, parser.positionalArguments().first() } }, {}, u"cli"_s);
    if (!request) {
        err() << "sparky-agent drill: " << request.error().message << "\n";
        err().flush();
        return 2;
    }
    const bool json = parser.isSet(jsonOption);
    return executeRun(*config, *request, parser.isSet(quietOption) || json, json);
}

// The subcommands. agent/daemon adds "daemon" and "status" here (SPARKY_HAVE_AGENT_DAEMON).
const CliCommand kCommands[] = {
    { "check-config", "validate the configuration (exit 0 valid, 1 invalid)", cmdCheckConfig },
    { "run", "run a backup job now in the foreground (exit 0/1/2 like borg)", cmdRun },
    { "check", "run borg check for a job's repository now", cmdCheck },
    { "list-jobs", "list jobs with their next scheduled runs", cmdListJobs },
    { "archives", "list a job's archives with their statistics", cmdArchives },
    { "ls", "list a directory of an archive (paged)", cmdLs },
    { "restore", "restore paths of an archive (or a dump into a database)", cmdRestore },
    { "drill", "run a restore drill of a job now", cmdDrill },
#ifdef SPARKY_HAVE_AGENT_DAEMON
    { "daemon", "run the agent: schedules, commands, outbox, metrics",
        [](const CliContext &c) {
            return runDaemonCommand(QStringList { c.command } + c.arguments.mid(1));
        } },
    { "status", "show whether the daemon runs, its jobs and last results",
        [](const CliContext &c) {
            return runStatusCommand(QStringList { c.command } + c.arguments.mid(1));
        } },
#endif
};

} // namespace

void addCommonOptions(QCommandLineParser &parser)
{
    parser.addOption(kConfigOption);
    parser.addOption(kConfDirOption);
    parser.addOption(kVerboseOption);
}

Expected<AgentConfig> loadConfigFromOptions(const QCommandLineParser &parser)
{
    if (parser.isSet(kVerboseOption))
        installLogHandler(true);
    auto config = loadAgentConfig(parser.value(kConfigOption), parser.value(kConfDirOption));
    if (!config) {
        err() << config.error().message << "\n";
        err().flush();
    }
    return config;
}

int runCli(QCoreApplication &app)
{
    QCoreApplication::setApplicationName(QStringLiteral("sparky-agent"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SPARKY_VERSION));
    installLogHandler();

    const QStringList args = QCoreApplication::arguments();
    // The command is the first argument that is not an option.
    qsizetype at = -1;
    for (qsizetype i = 1; i < args.size(); ++i) {
        const QString &a = args.at(i);
        if (a == "-c"_L1 || a == "--config"_L1 || a == "--conf-dir"_L1) {
            ++i; // skip the option's value
            continue;
        }
        if (!a.startsWith(u'-')) {
            at = i;
            break;
        }
    }
    auto usage = [&](QTextStream &s) {
        s << "Usage: sparky-agent COMMAND [options]\n\n"
             "sparky-for-backup node agent: runs scheduled borg backups and takes commands from "
             "its queue.\n\n"
             "Commands:\n";
        for (const CliCommand &c : kCommands)
            s << "  " << QString::fromLatin1(c.name).leftJustified(14)
              << QString::fromLatin1(c.summary) << "\n";
        s << "\n`sparky-agent COMMAND --help` shows a command's options. Default configuration: "
          << kDefaultConfigPath << "\n";
        s.flush();
    };
    if (at < 0) {
        if (args.contains(u"--version"_s) || args.contains(u"-V"_s)) {
            out() << "sparky-agent " << SPARKY_VERSION << "\n";
            out().flush();
            return 0;
        }
        const bool help = args.contains(u"--help"_s) || args.contains(u"-h"_s);
        usage(help ? out() : err());
        return help ? 0 : 2;
    }
    CliContext ctx;
    ctx.app = &app;
    ctx.command = args.at(at);
    ctx.arguments = QStringList { args.first() + u' ' + ctx.command } + args.mid(1, at - 1)
        + args.mid(at + 1);
    for (const CliCommand &c : kCommands)
        if (ctx.command == QLatin1StringView(c.name))
            return c.run(ctx);
    err() << "sparky-agent: unknown command '" << ctx.command << "'\n\n";
    usage(err());
    return 2;
}

} // namespace sparky::agent
