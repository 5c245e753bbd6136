#include "orchestratorcli.h"

#include "database.h"
#include "orchestratorconfig.h"
#include "orchestratordaemon.h"
#include "orchestratorlogging.h"
#include "reportbuilder.h"
#include "reportformatter.h"
#include "sparky/logging.h"
#include "sparky/secrets.h"
#include "sparky/signing.h"
#include "unixsignalnotifier.h"

#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
#include "brokermanagement.h"
#endif

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFile>
#include <QSaveFile>
#include <cstdio>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConfig
    = 78; // EX_CONFIG: systemd does not restart on it (RestartPreventExitStatus)

void err(const QString &text)
{
    std::fputs(qPrintable(text + u'\n'), stderr);
}

void out(const QByteArray &bytes)
{
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stdout);
    std::fflush(stdout);
}

Expected<OrchestratorConfig> loadConfig(const QString &path, bool requireBroker)
{
    auto c = OrchestratorConfig::load(path, requireBroker);
    if (!c)
        return c.error().wrapped(path);
    return c;
}

int runDaemon(QCoreApplication &app, const QString &configPath)
{
    auto config = loadConfig(configPath, true);
    if (!config) {
        err(config.error().toString());
        return kExitConfig;
    }
    UnixSignalNotifier signals;
    OrchestratorDaemon daemon(*config);
    if (auto ok = daemon.start(); !ok) {
        qCCritical(lcDaemon).noquote() << "cannot start:" << ok.error().toString();
        return ok.error().code == ErrorCode::Config || ok.error().code == ErrorCode::Permission
            ? kExitConfig
            : kExitFailure;
    }
    QObject::connect(&signals, &UnixSignalNotifier::terminateRequested, &daemon, [&](int signo) {
        qCInfo(lcDaemon) << "signal" << signo << "received";
        daemon.shutdown();
    });
    QObject::connect(&signals, &UnixSignalNotifier::hangup, &daemon, [&] {
        if (auto ok = daemon.reloadRoles(); !ok)
            qCWarning(lcDaemon).noquote()
                << "reload failed, keeping the old roles:" << ok.error().toString();
    });
    QObject::connect(
        &daemon, &OrchestratorDaemon::stopped, &app, [] { QCoreApplication::exit(0); });
    return QCoreApplication::exec();
}

int runKeygen(const QString &outPath, bool force)
{
    if (outPath.isEmpty()) {
        err(u"keygen: --out FILE is required"_s);
        return kExitUsage;
    }
    if (QFile::exists(outPath) && !force) {
        err(u"keygen: %1 exists; refusing to replace a signing key (use --force)"_s.arg(outPath));
        return kExitFailure;
    }
    auto key = SigningKey::generate();
    if (!key) {
        err(key.error().toString());
        return kExitFailure;
    }
    if (auto ok = writeSecretFile(outPath, key->toPem()); !ok) {
        err(ok.error().toString());
        return kExitFailure;
    }
    err(u"private key written to %1 (mode 0600); pin this public key in every agent's "
        "commands.orchestrator_key:"_s.arg(outPath));
    out(key->publicKeyBase64().toUtf8() + '\n');
    return kExitOk;
}

Expected<std::chrono::seconds> parseSince(const QString &text, const QDateTime &now)
{
    if (text.isEmpty())
        return std::chrono::seconds(0);
    if (auto t = parseTimestamp(text)) {
        if (*t > now)
            return unexpected(
                ErrorCode::InvalidArgument, u"--since %1 is in the future"_s.arg(text));
        return std::chrono::seconds(t->secsTo(now));
    }
    if (auto d = config::parseDuration(text))
        return *d;
    return unexpected(ErrorCode::InvalidArgument,
        u"--since '%1': expected a timestamp (2026-11-25T00:00:00Z) or a duration (7d)"_s.arg(
            text));
}

int runReport(const QString &configPath, const QString &formatName, const QString &since,
    const QString &node, const QString &outPath)
{
    auto format = ReportFormatter::parseFormat(formatName);
    if (!format) {
        err(format.error().message);
        return kExitUsage;
    }
    auto config = loadConfig(configPath, false);
    if (!config) {
        err(config.error().toString());
        return kExitUsage;
    }
    ReportOptions o;
    o.window = config->reportWindow;
    o.offlineAfter = config->offlineAfter;
    o.node = node;
    auto window = parseSince(since, o.now);
    if (!window) {
        err(window.error().message);
        return kExitUsage;
    }
    if (window->count() > 0)
        o.window = *window;
    auto db = Database::open(config->store, u"sparky-report"_s, false);
    if (!db) {
        err(db.error().toString());
        return kExitFailure;
    }
    ReportBuilder builder(**db);
    auto report = builder.build(o);
    if (!report) {
        err(report.error().toString());
        return kExitFailure;
    }
    const QByteArray text = ReportFormatter::render(*report, *format);
    if (outPath.isEmpty() || outPath == u"-") {
        out(text);
        return kExitOk;
    }
    QSaveFile f(outPath);
    if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size() || !f.commit()) {
        err(u"cannot write %1: %2"_s.arg(outPath, f.errorString()));
        return kExitFailure;
    }
    return kExitOk;
}

int runMigrate(const QString &configPath)
{
    auto config = loadConfig(configPath, false);
    if (!config) {
        err(config.error().toString());
        return kExitUsage;
    }
    auto db = Database::open(config->store, u"sparky-migrate"_s, true);
    if (!db) {
        err(db.error().toString());
        return kExitFailure;
    }
    auto v = (*db)->schemaVersion();
    err(u"store %1 is at schema version %2"_s.arg(config->store.describe()).arg(v.valueOr(-1)));
    return kExitOk;
}

int runNode(const QString &configPath, const QStringList &args, const QString &tokenFile)
{
    if (args.size() != 3) {
        err(u"usage: sparky-orchestrator node add|remove|rotate-token NODE [-c FILE] [--token-file FILE]"_s);
        return kExitUsage;
    }
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
    const QString action = args.at(1);
    const QString node = args.at(2);
    auto config = loadConfig(configPath, false);
    if (!config) {
        err(config.error().toString());
        return kExitUsage;
    }
    if (!config->management) {
        err(u"%1: a management section (url, user, password_file, ca_file) is needed for node commands"_s
                .arg(configPath));
        return kExitUsage;
    }
    BrokerManagement mgmt(*config->management);
    Expected<QByteArray> token = QByteArray();
    if (action == u"add") {
        token = mgmt.addNode(node);
    } else if (action == u"rotate-token") {
        token = mgmt.rotateToken(node);
    } else if (action == u"remove") {
        if (auto ok = mgmt.removeNode(node); !ok) {
            err(ok.error().toString());
            return kExitFailure;
        }
        err(u"node %1 removed: broker user, permissions, queue and binding deleted"_s.arg(node));
        return kExitOk;
    } else {
        err(u"node: unknown action '%1' (add, remove, rotate-token)"_s.arg(action));
        return kExitUsage;
    }
    if (!token) {
        err(token.error().toString());
        return kExitFailure;
    }
    if (!tokenFile.isEmpty()) {
        if (auto ok = writeSecretFile(tokenFile, *token); !ok) {
            err(ok.error().toString());
            return kExitFailure;
        }
        err(u"node %1: token written to %2 (mode 0600); it is stored nowhere else"_s.arg(
            node, tokenFile));
    } else {
        err(u"node %1: token (shown once, stored nowhere; put it in the agent's broker.token_file):"_s
                .arg(node));
        out(*token + '\n');
    }
    return kExitOk;
#else
    Q_UNUSED(configPath);
    Q_UNUSED(tokenFile);
    err(u"this build has no broker management (orchestrator/edge)"_s);
    return kExitFailure;
#endif
}

} // namespace

int runCli(QCoreApplication &app)
{
    QCoreApplication::setApplicationName(QStringLiteral("sparky-orchestrator"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SPARKY_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"sparky-for-backup orchestrator: stores results, dispatches commands, reports and "
        u"exports.\n\n"
        "Commands:\n"
        "  daemon                          run the service\n"
        "  check-config                    validate the configuration and exit\n"
        "  migrate                         bring the store's schema up to date and exit\n"
        "  keygen --out FILE               make the command signing key; prints the public key\n"
        "  report                          print the fleet report from the store\n"
        "  node add|remove|rotate-token N  enroll or remove a node on the broker"_s);
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption configOpt({ u"c"_s, u"config"_s }, u"Configuration file."_s, u"FILE"_s,
        u"/etc/sparky/orchestrator.yaml"_s);
    const QCommandLineOption outOpt(u"out"_s,
        u"Output file (keygen: the private key; report: instead of stdout)."_s, u"FILE"_s);
    const QCommandLineOption forceOpt(u"force"_s, u"keygen: replace an existing key file."_s);
    const QCommandLineOption formatOpt(
        u"format"_s, u"report: table, json or csv."_s, u"FORMAT"_s, u"table"_s);
    const QCommandLineOption sinceOpt(
        u"since"_s, u"report: window start, a timestamp or a duration (7d)."_s, u"TIME"_s);
    const QCommandLineOption nodeOpt(u"node"_s, u"report: only this node."_s, u"NODE"_s);
    const QCommandLineOption tokenOpt(u"token-file"_s,
        u"node add/rotate-token: write the token here (0600) "
        "instead of printing it."_s,
        u"FILE"_s);
    const QCommandLineOption debugOpt(u"debug"_s, u"Debug logging."_s);
    parser.addOptions(
        { configOpt, outOpt, forceOpt, formatOpt, sinceOpt, nodeOpt, tokenOpt, debugOpt });
    parser.addPositionalArgument(
        u"command"_s, u"daemon, check-config, migrate, keygen, report or node."_s);
    parser.process(app);
    installLogHandler(parser.isSet(debugOpt));

    const QStringList args = parser.positionalArguments();
    if (args.isEmpty()) {
        err(parser.helpText());
        return kExitUsage;
    }
    const QString command = args.first();
    const QString configPath = parser.value(configOpt);
    if (command == u"daemon")
        return runDaemon(app, configPath);
    if (command == u"check-config") {
        auto config = loadConfig(configPath, true);
        if (!config) {
            err(config.error().toString());
            return kExitFailure;
        }
        err(u"%1: ok"_s.arg(configPath));
        return kExitOk;
    }
    if (command == u"migrate")
        return runMigrate(configPath);
    if (command == u"keygen")
        return runKeygen(parser.value(outOpt), parser.isSet(forceOpt));
    if (command == u"report")
        return runReport(configPath, parser.value(formatOpt), parser.value(sinceOpt),
            parser.value(nodeOpt), parser.value(outOpt));
    if (command == u"node")
        return runNode(configPath, args, parser.value(tokenOpt));
    err(u"unknown command '%1'\n\n"_s.arg(command) + parser.helpText());
    return kExitUsage;
}

} // namespace sparky::orchestrator
