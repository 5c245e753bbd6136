#include "admincli.h"

#include "ctlconfig.h"
#include "ctlformat.h"
#include "ctlsession.h"
#include "sparky/config.h"
#include "sparky/envelope.h"
#include "sparky/logging.h"

#include <QCommandLineParser>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <algorithm>
#include <cstdio>
#include <optional>

namespace sparky::ctl {

using namespace Qt::StringLiterals;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitWarning = 1;
constexpr int kExitError = 2;

void out(const QString &text)
{
    const QByteArray bytes = text.toUtf8();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stdout);
    std::fflush(stdout);
}

void err(const QString &text)
{
    const QByteArray bytes = (text + u'\n').toUtf8();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stderr);
    std::fflush(stderr);
}

void printJson(const QJsonObject &o)
{
    out(QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Indented)));
}

// What an error code means, in words, before the orchestrator's message.
QString label(const QString &code)
{
    static const QHash<QString, QString> labels {
        { u"node_offline"_s, u"node offline"_s },
        { u"agent_timeout"_s, u"timeout"_s },
        { u"agent_rejected"_s, u"refused by the agent"_s },
        { u"command_failed"_s, u"failed"_s },
        { u"command_expired"_s, u"expired"_s },
        { u"forbidden"_s, u"not allowed"_s },
        { u"timeout"_s, u"no answer from the orchestrator"_s },
        { u"transport"_s, u"transport"_s },
        { u"invalid_params"_s, u"invalid request"_s },
        { u"not_found"_s, u"not found"_s },
        { u"unavailable"_s, u"unavailable"_s },
        { u"unknown_method"_s, u"unknown method (orchestrator too old?)"_s },
    };
    return labels.value(code, code);
}

int exitForStatus(const QString &status)
{
    if (status == u"success")
        return kExitOk;
    if (status == u"warning")
        return kExitWarning;
    return kExitError;
}

bool isFinal(const QString &state)
{
    return state == u"succeeded" || state == u"failed" || state == u"rejected"
        || state == u"expired";
}

struct Options
{
    bool json = false;
    std::chrono::milliseconds timeout { 30000 };
    std::optional<std::chrono::milliseconds> waitTimeout; // --wait-timeout; none = no limit
};

class Commands final
{
public:
    Commands(CtlSession &session, Options options)
        : m_s(session)
        , m_o(options)
    { }

    // Prints the failure (stderr; stdout too with --json) and returns the exit code.
    int fail(const CallResult &r, const QString &what)
    {
        err(u"sparky-admin-cli: %1: %2: %3"_s.arg(what, label(r.code), r.message));
        if (m_o.json)
            printJson(QJsonObject { { u"ok"_s, false },
                { u"error"_s,
                    r.error.isEmpty()
                        ? QJsonObject { { u"code"_s, r.code }, { u"message"_s, r.message } }
                        : r.error } });
        return kExitError;
    }

    CallResult call(const QString &method, const QJsonObject &params)
    {
        return m_s.call(method, params, m_o.timeout);
    }

    // A method that waits for the agent: the agent gets `timeout`, the call a little more.
    CallResult ask(const QString &method, QJsonObject params)
    {
        params.insert(u"timeout_ms"_s, qint64(m_o.timeout.count()));
        return m_s.call(method, params, m_o.timeout + std::chrono::seconds(10));
    }

    int simple(const QString &method, const QJsonObject &params,
        QString (*render)(const QJsonObject &), const QString &what)
    {
        const CallResult r = call(method, params);
        if (!r.ok)
            return fail(r, what);
        if (m_o.json)
            printJson(r.result);
        else
            out(render(r.result));
        if (!m_o.json && r.result.value("next_cursor"_L1).isString())
            err(u"more: add --cursor %1"_s.arg(r.result.value("next_cursor"_L1).toString()));
        return kExitOk;
    }

    // Issued a command that starts a run (backup, restore, drill): print it, follow it.
    int started(const CallResult &r, const QString &what, bool wait)
    {
        if (!r.ok)
            return fail(r, what);
        const QString id = r.result.value("command_id"_L1).toString();
        const QString node = r.result.value("command"_L1).toObject().value("node"_L1).toString();
        if (r.result.value("warning"_L1).isString())
            err(u"warning: "_s + r.result.value("warning"_L1).toString());
        if (!wait) {
            if (m_o.json)
                printJson(r.result);
            else
                out(id + u'\n');
            err(u"%1: command %2 sent to %3; follow it with: sparky-admin-cli command %2"_s.arg(
                what, id, node));
            return kExitOk;
        }
        err(u"%1: command %2 sent to %3, waiting for the agent …"_s.arg(what, id, node));
        return follow(id, node, what);
    }

    // Follows a command and its run until the run finished; exit code by its status.
    int follow(const QString &commandId, const QString &node, const QString &what)
    {
        QElapsedTimer clock;
        clock.start();
        const QDeadlineTimer deadline
            = m_o.waitTimeout ? QDeadlineTimer(*m_o.waitTimeout) : QDeadlineTimer::Forever;
        QString lastProgress;
        QString announced;
        int transient = 0;
        int finalPolls = 0;
        for (;;) {
            const CallResult r = call(u"command.get"_s, { { u"command_id"_s, commandId } });
            if (!r.ok) {
                // A busy or restarting orchestrator: keep following for a while.
                if ((r.code == u"timeout" || r.code == u"transport" || r.code == u"unavailable")
                    && ++transient < 5) {
                    err(u"(%1; retrying)"_s.arg(r.message));
                    CtlSession::pause(1000);
                    continue;
                }
                return fail(r, what);
            }
            transient = 0;
            const QJsonObject c = r.result;
            const QString state = c.value("state"_L1).toString();
            const QJsonObject run = c.value("run"_L1).toObject();
            const QString elapsed = u"[%1]"_s.arg(CtlFormat::duration(clock.elapsed() / 1000.0));
            if (!run.isEmpty()) {
                const QString runId = run.value("run_id"_L1).toString();
                if (announced.isEmpty()) {
                    announced = runId;
                    err(u"%1 run %2 started on %3"_s.arg(elapsed, runId, node));
                }
                const QString status = run.value("status"_L1).toString();
                if (status != u"running") {
                    const CallResult full
                        = call(u"run.get"_s, { { u"node"_s, node }, { u"run_id"_s, runId } });
                    const QJsonObject report = full.ok ? full.result : run;
                    if (m_o.json)
                        printJson(QJsonObject { { u"command"_s, c }, { u"run"_s, report } });
                    else
                        out(CtlFormat::runReport(report));
                    return exitForStatus(status);
                }
                const QString line = CtlFormat::progress(run);
                if (!line.isEmpty() && line != lastProgress) {
                    err(elapsed + u' ' + line);
                    lastProgress = line;
                }
            }
            if (isFinal(state)) {
                if (c.value("run_id"_L1).toString().isEmpty()) {
                    if (m_o.json)
                        printJson(QJsonObject { { u"command"_s, c } });
                    if (state == u"succeeded") {
                        if (!m_o.json)
                            out(u"%1: done (command %2 succeeded)\n"_s.arg(what, commandId));
                        return kExitOk;
                    }
                    err(u"sparky-admin-cli: %1: %2: command %3 on node '%4': %5"_s.arg(what,
                        label(state == u"rejected" ? u"agent_rejected"_s
                                : state == u"expired" ? u"command_expired"_s
                                                      : u"command_failed"_s),
                        commandId, node, c.value("error"_L1).toString()));
                    return kExitError;
                }
                // The run's own events travel right behind the command's final update.
                if (++finalPolls > 20) {
                    err(u"sparky-admin-cli: %1: command %2 is %3 but its run %4 has not reported "
                        "finishing: %5"_s.arg(what, commandId, state,
                            c.value("run_id"_L1).toString(), c.value("error"_L1).toString()));
                    return state == u"succeeded" ? kExitOk : kExitError;
                }
            }
            if (deadline.hasExpired()) {
                err(u"sparky-admin-cli: %1: still %2 after --wait-timeout; it goes on — follow it "
                    "with: sparky-admin-cli command %3"_s.arg(what, state, commandId));
                return kExitError;
            }
            CtlSession::pause(run.isEmpty() ? 300 : 1000);
        }
    }

    int archives(const QString &node, const QString &job, const QJsonObject &extra)
    {
        QJsonObject params { { u"node"_s, node }, { u"job"_s, job } };
        for (auto it = extra.constBegin(); it != extra.constEnd(); ++it)
            params.insert(it.key(), it.value());
        const CallResult r = ask(u"archives.list"_s, params);
        if (!r.ok)
            return fail(r, u"archives"_s);
        if (m_o.json)
            printJson(r.result);
        else
            out(CtlFormat::archives(r.result.value("result"_L1).toObject()));
        return kExitOk;
    }

    int ls(const QJsonObject &params)
    {
        const CallResult r = ask(u"archive.browse"_s, params);
        if (!r.ok)
            return fail(r, u"ls"_s);
        const QJsonObject page = r.result.value("result"_L1).toObject();
        if (m_o.json) {
            printJson(r.result);
            return kExitOk;
        }
        out(CtlFormat::listing(page));
        const qint64 shown = page.value("entries"_L1).toArray().size();
        const qint64 offset = page.value("offset"_L1).toInteger();
        QString footer = u"%1 entries in /%2"_s.arg(page.value("total"_L1).toInteger())
                             .arg(page.value("path"_L1).toString());
        if (shown > 0)
            footer += u" (showing %1–%2)"_s.arg(offset + 1).arg(offset + shown);
        err(footer);
        if (page.value("next_cursor"_L1).isString())
            err(u"more: add --cursor %1"_s.arg(page.value("next_cursor"_L1).toString()));
        return kExitOk;
    }

    int cancel(const QString &node, const QString &run)
    {
        const CallResult r = call(u"backup.cancel"_s, { { u"node"_s, node }, { u"run_id"_s, run } });
        if (!r.ok)
            return fail(r, u"cancel"_s);
        const QString id = r.result.value("command_id"_L1).toString();
        QDeadlineTimer deadline(m_o.timeout);
        for (;;) {
            const CallResult c = call(u"command.get"_s, { { u"command_id"_s, id } });
            if (!c.ok)
                return fail(c, u"cancel"_s);
            const QString state = c.result.value("state"_L1).toString();
            if (isFinal(state)) {
                if (m_o.json)
                    printJson(c.result);
                if (state == u"succeeded") {
                    if (!m_o.json)
                        out(u"cancel of run %1 on %2 accepted (command %3)\n"_s.arg(run, node, id));
                    return kExitOk;
                }
                err(u"sparky-admin-cli: cancel: run %1 on %2: command %3 %4: %5"_s.arg(
                    run, node, id, state, c.result.value("error"_L1).toString()));
                return kExitError;
            }
            if (deadline.hasExpired()) {
                err(u"sparky-admin-cli: cancel: node '%1' has not answered command %2 (%3) "
                    "within %4 ms; it may still act on it"_s.arg(node, id, state)
                        .arg(m_o.timeout.count()));
                return kExitError;
            }
            CtlSession::pause(300);
        }
    }

    int ping(const QString &node)
    {
        QElapsedTimer clock;
        clock.start();
        const CallResult r = ask(u"node.ping"_s, { { u"node"_s, node } });
        if (!r.ok)
            return fail(r, u"ping"_s);
        if (m_o.json) {
            printJson(r.result);
            return kExitOk;
        }
        const QJsonObject a = r.result.value("result"_L1).toObject();
        QString line = u"%1: alive, agent %2, answered in %3 ms"_s.arg(node,
            a.value("version"_L1).toString(u"?"_s))
                           .arg(clock.elapsed());
        if (auto t = parseTimestamp(a.value("time"_L1).toString()))
            line += u" (its clock said %1)"_s.arg(formatTimestamp(*t));
        out(line + u'\n');
        return kExitOk;
    }

private:
    CtlSession &m_s;
    Options m_o;
};

std::optional<qint64> intOption(
    const QCommandLineParser &p, const QCommandLineOption &o, qint64 min, qint64 max)
{
    bool ok = false;
    const qint64 v = p.value(o).toLongLong(&ok);
    if (!ok || v < min || v > max) {
        err(u"sparky-admin-cli: --%1 '%2': expected a number %3 … %4"_s.arg(
            o.names().constLast(), p.value(o))
                .arg(min)
                .arg(max));
        return std::nullopt;
    }
    return v;
}

std::optional<std::chrono::milliseconds> durationOption(
    const QCommandLineParser &p, const QCommandLineOption &o)
{
    auto d = config::parseDuration(p.value(o));
    if (!d || d->count() < 1) {
        err(u"sparky-admin-cli: --%1 '%2': expected a duration like 30s, 5m or 1h"_s.arg(
            o.names().constLast(), p.value(o)));
        return std::nullopt;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

} // namespace

int runAdminCli(QCoreApplication &app)
{
    QCoreApplication::setApplicationName(u"sparky-admin-cli"_s);
    QCoreApplication::setApplicationVersion(QStringLiteral(SPARKY_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"sparky-for-backup from a terminal: the orchestrator's RPC as an operator.\n\n"
        "Commands:\n"
        "  status [--node N]                     fleet at a glance\n"
        "  runs [--node N] [--job J] [--status S] [--kind K] [--limit N]\n"
        "  run NODE JOB [--wait] [--expires-in D] back up now (--wait: follow, exit 0/1/2)\n"
        "  archives NODE JOB [--last N] [--no-stats]\n"
        "  ls NODE JOB ARCHIVE [PATH] [--page N | --cursor C] [--page-size N]\n"
        "  restore NODE JOB ARCHIVE [PATH...] [--to DIR] [--strip-components N]\n"
        "          [--database DB [--create-database]] [--wait]\n"
        "  drill NODE JOB [--wait]               restore drill now\n"
        "  commands [--node N] [--state S] [--limit N]\n"
        "  command ID                            one command and its run\n"
        "  cancel NODE RUN                       cancel a running backup\n"
        "  ping NODE                             is the agent alive right now?\n\n"
        "Exit codes: 0 ok, 1 the run ended with a warning, 2 failure or bad usage."_s);
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption configOpt({ u"c"_s, u"config"_s },
        u"Configuration file (default: $SPARKY_CTL_CONFIG, ~/.config/sparky/ctl.yaml, "
        "/etc/sparky/ctl.yaml)."_s,
        u"FILE"_s);
    const QCommandLineOption jsonOpt(u"json"_s, u"Print results as JSON (for scripts)."_s);
    const QCommandLineOption timeoutOpt(u"timeout"_s,
        u"How long a call (and an agent answering archives/ls/ping) may take (default: the "
        "config's rpc.timeout, 30s)."_s,
        u"DURATION"_s);
    const QCommandLineOption waitOpt(u"wait"_s, u"run/restore/drill: follow until it finishes."_s);
    const QCommandLineOption waitTimeoutOpt(
        u"wait-timeout"_s, u"With --wait: give up after this long (default: never)."_s, u"DURATION"_s);
    const QCommandLineOption nodeOpt(u"node"_s, u"Only this node."_s, u"NODE"_s);
    const QCommandLineOption jobOpt(u"job"_s, u"runs: only this job."_s, u"JOB"_s);
    const QCommandLineOption statusOpt(
        u"status"_s, u"runs: success, warning, cancelled, failed or running."_s, u"STATUS"_s);
    const QCommandLineOption kindOpt(u"kind"_s, u"runs: backup, check, drill or restore."_s, u"KIND"_s);
    const QCommandLineOption stateOpt(u"state"_s, u"commands: only in this state."_s, u"STATE"_s);
    const QCommandLineOption limitOpt(u"limit"_s, u"runs/commands: rows (1 … 500)."_s, u"N"_s);
    const QCommandLineOption cursorOpt(u"cursor"_s, u"The next page (as printed)."_s, u"CURSOR"_s);
    const QCommandLineOption pageOpt(u"page"_s, u"ls: page number (0-based)."_s, u"N"_s);
    const QCommandLineOption pageSizeOpt(u"page-size"_s, u"ls: entries per page (1 … 1000)."_s, u"N"_s);
    const QCommandLineOption lastOpt(u"last"_s, u"archives: only the newest N."_s, u"N"_s);
    const QCommandLineOption noStatsOpt(u"no-stats"_s, u"archives: skip sizes (faster)."_s);
    const QCommandLineOption toOpt(u"to"_s,
        u"restore: into this directory (under the node's restore roots; default: a new one "
        "there)."_s,
        u"DIR"_s);
    const QCommandLineOption stripOpt(
        u"strip-components"_s, u"restore: drop this many leading path elements."_s, u"N"_s);
    const QCommandLineOption databaseOpt(
        u"database"_s, u"restore: a database dump archive into this database."_s, u"DB"_s);
    const QCommandLineOption createDbOpt(
        u"create-database"_s, u"restore: create the database first."_s);
    const QCommandLineOption expiresOpt(u"expires-in"_s,
        u"run/restore/drill: the command expires (is never executed) if the agent has not taken "
        "it within this long, e.g. while its node is offline (default: the orchestrator's "
        "commands.default_lifetime)."_s,
        u"DURATION"_s);
    const QCommandLineOption debugOpt(u"debug"_s, u"Log the transport."_s);
    parser.addOptions({ configOpt, jsonOpt, timeoutOpt, waitOpt, waitTimeoutOpt, nodeOpt, jobOpt,
        statusOpt, kindOpt, stateOpt, limitOpt, cursorOpt, pageOpt, pageSizeOpt, lastOpt,
        noStatsOpt, toOpt, stripOpt, databaseOpt, createDbOpt, expiresOpt, debugOpt });
    parser.addPositionalArgument(u"command"_s, u"status, runs, run, archives, ls, restore, "
                                               "drill, commands, command, cancel or ping."_s);
    parser.process(app);
    installLogHandler(parser.isSet(debugOpt));
    if (!parser.isSet(debugOpt))
        QLoggingCategory::setFilterRules(u"sparky.*.info=false\nsparky.*.debug=false"_s);

    const QStringList args = parser.positionalArguments();
    if (args.isEmpty()) {
        err(parser.helpText());
        return kExitError;
    }
    const QString command = args.first();
    const QStringList rest = args.mid(1);
    struct Shape
    {
        QString name;
        int min;
        int max; // -1: any
        QString usage;
    };
    static const QList<Shape> shapes {
        { u"status"_s, 0, 0, u"status [--node N]"_s },
        { u"runs"_s, 0, 0, u"runs [--node N] [--job J] [--status S] [--kind K] [--limit N]"_s },
        { u"run"_s, 2, 2, u"run NODE JOB [--wait]"_s },
        { u"archives"_s, 2, 2, u"archives NODE JOB [--last N] [--no-stats]"_s },
        { u"ls"_s, 3, 4, u"ls NODE JOB ARCHIVE [PATH] [--page N | --cursor C] [--page-size N]"_s },
        { u"restore"_s, 3, -1,
            u"restore NODE JOB ARCHIVE [PATH...] [--to DIR] [--strip-components N] "
            "[--database DB] [--wait]"_s },
        { u"drill"_s, 2, 2, u"drill NODE JOB [--wait]"_s },
        { u"commands"_s, 0, 0, u"commands [--node N] [--state S] [--limit N]"_s },
        { u"command"_s, 1, 1, u"command ID"_s },
        { u"cancel"_s, 2, 2, u"cancel NODE RUN"_s },
        { u"ping"_s, 1, 1, u"ping NODE"_s },
    };
    const Shape *shape = nullptr;
    for (const Shape &s : shapes)
        if (s.name == command)
            shape = &s;
    if (!shape) {
        err(u"sparky-admin-cli: unknown command '%1'\n\n"_s.arg(command) + parser.helpText());
        return kExitError;
    }
    if (rest.size() < shape->min || (shape->max >= 0 && rest.size() > shape->max)) {
        err(u"usage: sparky-admin-cli [-c FILE] [--json] "_s + shape->usage);
        return kExitError;
    }

    // Params from options, checked before anything touches the network.
    QJsonObject filter;
    auto addText = [&](const QCommandLineOption &o, const QString &key) {
        if (parser.isSet(o))
            filter.insert(key, parser.value(o));
    };
    auto addInt = [&](const QCommandLineOption &o, const QString &key, qint64 min, qint64 max) {
        if (!parser.isSet(o))
            return true;
        auto v = intOption(parser, o, min, max);
        if (!v)
            return false;
        filter.insert(key, *v);
        return true;
    };
    addText(nodeOpt, u"node"_s);
    addText(cursorOpt, u"cursor"_s);
    if (command == u"runs") {
        addText(jobOpt, u"job"_s);
        addText(statusOpt, u"status"_s);
        addText(kindOpt, u"kind"_s);
    }
    if (command == u"commands")
        addText(stateOpt, u"state"_s);
    if (!addInt(limitOpt, u"limit"_s, 1, 500) || !addInt(pageOpt, u"page"_s, 0, 1000000)
        || !addInt(pageSizeOpt, u"page_size"_s, 1, 1000) || !addInt(lastOpt, u"last"_s, 1, 10000)
        || !addInt(stripOpt, u"strip_components"_s, 0, 64))
        return kExitError;

    Options options;
    options.json = parser.isSet(jsonOpt);

    auto path = CtlConfig::locate(parser.value(configOpt));
    if (!path) {
        err(u"sparky-admin-cli: "_s + path.error().message);
        return kExitError;
    }
    auto config = CtlConfig::load(*path);
    if (!config) {
        err(u"sparky-admin-cli: "_s + config.error().toString());
        return kExitError;
    }
    options.timeout = config->timeout;
    if (parser.isSet(timeoutOpt)) {
        auto t = durationOption(parser, timeoutOpt);
        if (!t)
            return kExitError;
        options.timeout = *t;
    }
    if (parser.isSet(waitTimeoutOpt)) {
        auto t = durationOption(parser, waitTimeoutOpt);
        if (!t)
            return kExitError;
        options.waitTimeout = *t;
    }
    // run/restore/drill: the command's lifetime (whole seconds; the orchestrator caps it).
    QJsonObject lifetime;
    if (parser.isSet(expiresOpt)) {
        auto t = durationOption(parser, expiresOpt);
        if (!t)
            return kExitError;
        lifetime.insert(u"lifetime_seconds"_s,
            qint64(std::max<qint64>(1, std::chrono::duration_cast<std::chrono::seconds>(*t).count())));
    }
    auto withLifetime = [&lifetime](QJsonObject p) {
        for (auto it = lifetime.constBegin(); it != lifetime.constEnd(); ++it)
            p.insert(it.key(), it.value());
        return p;
    };

    CtlSession session(config->broker);
    if (auto ok = session.connect(); !ok) {
        err(u"sparky-admin-cli: "_s + ok.error().message);
        return kExitError;
    }
    Commands c(session, options);
    const bool wait = parser.isSet(waitOpt);
    int code = kExitError;
    if (command == u"status") {
        QJsonObject p;
        if (filter.contains("node"_L1))
            p.insert(u"node"_s, filter.value("node"_L1));
        code = c.simple(u"fleet.summary"_s, p, &CtlFormat::fleet, command);
    } else if (command == u"runs") {
        code = c.simple(u"runs.query"_s, filter, &CtlFormat::runs, command);
    } else if (command == u"commands") {
        code = c.simple(u"commands.query"_s, filter, &CtlFormat::commands, command);
    } else if (command == u"command") {
        code = c.simple(u"command.get"_s, { { u"command_id"_s, rest.at(0) } }, &CtlFormat::command,
            command);
    } else if (command == u"run") {
        code = c.started(c.call(u"backup.start"_s,
                             withLifetime({ { u"node"_s, rest.at(0) }, { u"job"_s, rest.at(1) } })),
            u"backup"_s, wait);
    } else if (command == u"drill") {
        code = c.started(c.call(u"drill.start"_s,
                             withLifetime({ { u"node"_s, rest.at(0) }, { u"job"_s, rest.at(1) } })),
            u"drill"_s, wait);
    } else if (command == u"restore") {
        QJsonObject p { { u"node"_s, rest.at(0) }, { u"job"_s, rest.at(1) },
            { u"archive"_s, rest.at(2) } };
        if (rest.size() > 3)
            p.insert(u"paths"_s, QJsonArray::fromStringList(rest.mid(3)));
        if (parser.isSet(toOpt))
            p.insert(u"target"_s, parser.value(toOpt));
        if (filter.contains("strip_components"_L1))
            p.insert(u"strip_components"_s, filter.value("strip_components"_L1));
        if (parser.isSet(databaseOpt))
            p.insert(u"database"_s, parser.value(databaseOpt));
        if (parser.isSet(createDbOpt))
            p.insert(u"create_database"_s, true);
        code = c.started(c.call(u"restore.start"_s, withLifetime(p)), u"restore"_s, wait);
    } else if (command == u"archives") {
        QJsonObject extra;
        if (filter.contains("last"_L1))
            extra.insert(u"last"_s, filter.value("last"_L1));
        if (parser.isSet(noStatsOpt))
            extra.insert(u"stats"_s, false);
        code = c.archives(rest.at(0), rest.at(1), extra);
    } else if (command == u"ls") {
        QJsonObject p { { u"node"_s, rest.at(0) }, { u"job"_s, rest.at(1) },
            { u"archive"_s, rest.at(2) } };
        if (rest.size() > 3)
            p.insert(u"path"_s, rest.at(3));
        for (const char *key : { "page", "page_size", "cursor" })
            if (filter.contains(QLatin1StringView(key)))
                p.insert(QString::fromLatin1(key), filter.value(QLatin1StringView(key)));
        code = c.ls(p);
    } else if (command == u"cancel") {
        code = c.cancel(rest.at(0), rest.at(1));
    } else if (command == u"ping") {
        code = c.ping(rest.at(0));
    }
    session.close();
    return code;
}

} // namespace sparky::ctl
