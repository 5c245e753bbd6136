#include "agentcli.h"

#include "repositorylocks.h"
#include "runexecutor.h"
#include "sparky/logging.h"
#include "unixsignalwatcher.h"

#include <QCommandLineParser>
#include <QCoreApplication>
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
    if (!r.failedStep.isEmpty())
        out() << "failed step: " << r.failedStep << "\n";
    if (!r.error.isEmpty() && r.status != protocol::Status::Success)
        out() << "error: " << r.error << "\n";
    out().flush();
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
    if (!config->job(jobName)) {
        QStringList names;
        for (const JobConfig &j : config->jobs)
            names.append(j.name);
        err() << "sparky-agent: unknown job '" << jobName << "' (jobs: " << names.join(u", "_s)
              << ")\n";
        err().flush();
        return 2;
    }
    RepositoryLocks locks;
    RunRequest request;
    request.kind = kind;
    request.job = jobName;
    request.trigger = u"cli"_s;
    RunExecutor executor(*config, request, &locks);
    const bool quiet = parser.isSet(quietOption) || parser.isSet(jsonOption);
    QObject::connect(
        &executor, &RunExecutor::progress, &executor, [quiet](const protocol::RunProgress &p) {
            if (quiet)
                return;
            err() << p.step << ": " << p.files << " files, original " << humanBytes(p.originalSize)
                  << ", deduplicated " << humanBytes(p.deduplicatedSize) << "  " << p.currentPath
                  << "\n";
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
            if (parser.isSet(jsonOption)) {
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
    }
    out().flush();
    return 0;
}

// The subcommands. agent/daemon adds "daemon" and "status" here (SPARKY_HAVE_AGENT_DAEMON).
const CliCommand kCommands[] = {
    { "check-config", "validate the configuration (exit 0 valid, 1 invalid)", cmdCheckConfig },
    { "run", "run a backup job now in the foreground (exit 0/1/2 like borg)", cmdRun },
    { "check", "run borg check for a job's repository now", cmdCheck },
    { "list-jobs", "list jobs with their next scheduled runs", cmdListJobs },
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
