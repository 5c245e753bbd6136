#include "daemoncli.h"

#include "agentconfig.h"
#include "agentdaemon.h"
#include "statusreport.h"
#include "unixsignalwatcher.h"

#include "sparky/config.h"
#include "sparky/logging.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QJsonDocument>

#include <csignal>
#include <cstdio>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

const QString kDefaultConfig = u"/etc/sparky/agent.yaml"_s;

void printErr(const QString &text)
{
    std::fprintf(stderr, "%s\n", text.toLocal8Bit().constData());
}

} // namespace

int runDaemonCommand(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Runs the agent: schedules, commands, outbox, metrics."_s);
    parser.addHelpOption();
    const QCommandLineOption configOpt({u"c"_s, u"config"_s}, u"Config file (default %1)."_s.arg(kDefaultConfig),
                                       u"FILE"_s, kDefaultConfig);
    const QCommandLineOption confDirOpt(u"conf-dir"_s, u"Directory of extra *.yaml (default: conf.d beside the config)."_s,
                                        u"DIR"_s);
    const QCommandLineOption graceOpt(u"shutdown-grace"_s,
                                      u"On SIGTERM, how long running backups may go on before they are cancelled (default 60s)."_s,
                                      u"DURATION"_s, u"60s"_s);
    const QCommandLineOption debugOpt({u"v"_s, u"verbose"_s, u"debug"_s}, u"Debug logging."_s);
    parser.addOptions({configOpt, confDirOpt, graceOpt, debugOpt});
    if (!parser.parse(arguments)) {
        printErr(parser.errorText());
        return 2;
    }
    if (parser.isSet(u"help"_s)) {
        std::fprintf(stdout, "%s", parser.helpText().toLocal8Bit().constData());
        return 0;
    }
    if (parser.isSet(debugOpt))
        installLogHandler(true);

    DaemonOptions options;
    options.configPath = parser.value(configOpt);
    options.confDir = parser.value(confDirOpt);
    auto grace = config::parseDuration(parser.value(graceOpt));
    if (!grace) {
        printErr(u"--shutdown-grace: '%1' is not a duration (e.g. 90s, 5m)"_s.arg(parser.value(graceOpt)));
        return 2;
    }
    options.shutdownGrace = *grace;

    // Signals first, so a SIGTERM during start-up is not lost.
    // (socketpair + QSocketNotifier: the handler itself makes no Qt calls.)
    UnixSignalWatcher watcher({SIGTERM, SIGINT, SIGHUP});
    AgentDaemon daemon(options);
    int exitCode = 0;
    QObject::connect(&watcher, &UnixSignalWatcher::received, &daemon, [&daemon](int sig) {
        if (sig == SIGHUP)
            daemon.reload();
        else
            daemon.shutdown(sig == SIGINT ? u"SIGINT"_s : u"SIGTERM"_s);
    });
    QObject::connect(&daemon, &AgentDaemon::stopped, &daemon, [&exitCode](int code) {
        exitCode = code;
        QCoreApplication::exit(code);
    });
    if (auto ok = daemon.start(); !ok) {
        const bool config = ok.error().code == ErrorCode::Config || ok.error().code == ErrorCode::Parse
                            || ok.error().code == ErrorCode::Validation;
        qCritical().noquote() << "sparky-agent daemon cannot start:" << ok.error().toString();
        return config ? kExitConfig : 1;
    }
    QCoreApplication::exec();
    return exitCode;
}

int runStatusCommand(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Shows what the agent did and will do (reads its state database)."_s);
    parser.addHelpOption();
    const QCommandLineOption configOpt({u"c"_s, u"config"_s}, u"Config file (default %1)."_s.arg(kDefaultConfig),
                                       u"FILE"_s, kDefaultConfig);
    const QCommandLineOption confDirOpt(u"conf-dir"_s, u"Directory of extra *.yaml."_s, u"DIR"_s);
    const QCommandLineOption stateOpt(u"state-dir"_s, u"State directory (default: state_dir from the config)."_s,
                                      u"DIR"_s);
    const QCommandLineOption jsonOpt(u"json"_s, u"Print JSON."_s);
    parser.addOptions({configOpt, confDirOpt, stateOpt, jsonOpt});
    if (!parser.parse(arguments)) {
        printErr(parser.errorText());
        return 2;
    }
    if (parser.isSet(u"help"_s)) {
        std::fprintf(stdout, "%s", parser.helpText().toLocal8Bit().constData());
        return 0;
    }
    QString stateDir = parser.value(stateOpt);
    QStringList jobs;
    auto cfg = loadAgentConfig(parser.value(configOpt), parser.value(confDirOpt));
    if (cfg) {
        if (stateDir.isEmpty())
            stateDir = cfg->stateDir;
        for (const JobConfig &j : cfg->jobs)
            jobs << j.name;
    } else if (stateDir.isEmpty()) {
        printErr(u"cannot read the config (give --state-dir to read the state anyway):\n%1"_s.arg(cfg.error().message));
        return 1;
    }
    auto report = StatusReport::read(stateDir, jobs);
    if (!report) {
        printErr(report.error().toString());
        return 1;
    }
    if (parser.isSet(jsonOpt))
        std::fprintf(stdout, "%s", QJsonDocument(report->toJson()).toJson(QJsonDocument::Indented).constData());
    else
        std::fprintf(stdout, "%s", report->toText().toLocal8Bit().constData());
    if (!cfg)
        printErr(u"(the config could not be read, so jobs never run are not listed: %1)"_s.arg(
            cfg.error().message.section(u'\n', 0, 0)));
    return report->daemonRunning ? 0 : kExitNotRunning;
}

} // namespace sparky::agent
