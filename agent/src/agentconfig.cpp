#include "agentconfig.h"

#include "archivename.h"
#include "archivepath.h"
#include "optionpolicy.h"
#include "sparky/config.h"
#include "sparky/envelope.h"
#include "sparky/secrets.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSysInfo>
#include <QUrl>

namespace sparky::agent {

using namespace Qt::StringLiterals;
using config::Node;

namespace {

const QStringList kEncryptions { u"none"_s, u"authenticated"_s, u"authenticated-blake2"_s,
    u"repokey"_s, u"repokey-blake2"_s, u"keyfile"_s, u"keyfile-blake2"_s };
const QStringList kCommandTypes { u"backup.run"_s, u"backup.cancel"_s, u"agent.ping"_s,
    u"archives.list"_s, u"archive.browse"_s, u"restore.extract"_s, u"drill.run"_s,
    u"key.authorize"_s, u"key.revoke"_s };

bool validJobName(const QString &name)
{
    static const QRegularExpression re(u"^[a-z0-9][a-z0-9_-]{0,63}$"_s);
    return re.match(name).hasMatch();
}

bool validRepositoryName(const QString &name)
{
    static const QRegularExpression re(u"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"_s);
    return re.match(name).hasMatch();
}

bool validDatabaseName(const QString &name)
{
    static const QRegularExpression re(u"^[A-Za-z0-9_][A-Za-z0-9_.$-]{0,62}$"_s);
    return re.match(name).hasMatch();
}

bool validCompression(const QString &c)
{
    static const QRegularExpression re(
        u"^(auto,|obfuscate,\\d+,)?(none|lz4|zstd(,\\d{1,2})?|zlib(,\\d)?|lzma(,\\d)?)$"_s);
    return re.match(c).hasMatch();
}

QString defaultNodeId()
{
    QString host = QSysInfo::machineHostName().toLower();
    host = host.section(u'.', 0, 0);
    host.replace(QRegularExpression(u"[^a-z0-9-]"_s), u"-"_s);
    while (host.startsWith(u'-'))
        host.remove(0, 1);
    return host.left(63);
}

// Checks a secret file's mode at config time so `check-config` finds a loose file.
void checkSecretFile(const Node &node, const QString &path)
{
    if (path.isEmpty())
        return;
    if (!QFileInfo(path).isAbsolute()) {
        node.error(u"'%1' must be an absolute path"_s.arg(path));
        return;
    }
    if (auto r = checkSecretFileMode(path); !r)
        node.error(r.error().message);
}

void checkAbsolute(const Node &node, const QString &path)
{
    if (!path.isEmpty() && !QFileInfo(path).isAbsolute())
        node.error(u"'%1' must be an absolute path"_s.arg(path));
}

QList<HookConfig> parseHooks(const Node &hooks, const QString &key)
{
    QList<HookConfig> out;
    QSet<QString> names;
    int index = 0;
    for (const Node &h : hooks.list(key)) {
        HookConfig hook;
        if (h.isScalar()) {
            // A plain string is a shell command, as in borgmatic.
            hook.name = u"%1-%2"_s.arg(key).arg(++index);
            hook.command = { u"/bin/sh"_s, u"-c"_s, h.toString().value_or(QString()) };
            out.append(hook);
            continue;
        }
        ++index;
        h.allowKeys({ "name", "command", "timeout" });
        hook.name = h.string(u"name"_s, u"%1-%2"_s.arg(key).arg(index));
        static const QRegularExpression nameRe(u"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"_s);
        if (!nameRe.match(hook.name).hasMatch())
            h.child(u"name"_s).error(
                u"'%1' is not a valid hook name ([A-Za-z0-9][A-Za-z0-9_.-]*)"_s.arg(hook.name));
        if (names.contains(hook.name))
            h.child(u"name"_s).error(u"duplicate hook name '%1'"_s.arg(hook.name));
        names.insert(hook.name);
        const Node cmd = h.child(u"command"_s);
        if (!cmd.isDefined())
            cmd.error(u"required key is missing"_s);
        else if (cmd.isScalar())
            hook.command = { u"/bin/sh"_s, u"-c"_s, cmd.toString().value_or(QString()) };
        else
            hook.command = h.stringList(u"command"_s);
        if (cmd.isDefined() && (hook.command.isEmpty() || hook.command.first().isEmpty()))
            cmd.error(
                u"expected a command (a string for /bin/sh -c, or a list: program and arguments)"_s);
        hook.timeout = h.duration(u"timeout"_s, hook.timeout);
        out.append(hook);
    }
    return out;
}

void parsePostgres(const Node &pg, JobConfig &job)
{
    if (!pg.isDefined())
        return;
    pg.allowKeys({ "databases", "globals", "format", "host", "port", "user", "passfile",
        "extra_args", "timeout" });
    PostgresDumpConfig defaults;
    defaults.format = pg.string(u"format"_s, defaults.format);
    defaults.host = pg.string(u"host"_s);
    defaults.port = int(pg.integer(u"port"_s, defaults.port, 1, 65535));
    defaults.user = pg.string(u"user"_s);
    defaults.passfile = pg.string(u"passfile"_s);
    defaults.extraArgs = pg.stringList(u"extra_args"_s);
    defaults.timeout = pg.duration(u"timeout"_s, defaults.timeout);
    checkSecretFile(pg.child(u"passfile"_s), defaults.passfile);
    if (auto r = OptionPolicy::checkPgDumpArgs(defaults.extraArgs); !r)
        pg.child(u"extra_args"_s).error(r.error().message);
    job.postgresGlobals = pg.boolean(u"globals"_s, false);
    job.postgresDefaults = defaults;

    QSet<QString> seen;
    for (const Node &d : pg.list(u"databases"_s)) {
        PostgresDumpConfig db = defaults;
        // (config::Node must not be assigned: YAML::Node assignment rewrites the document.)
        const Node nameNode = d.isScalar() ? d : d.child(u"name"_s);
        if (d.isScalar()) {
            db.database = d.toString().value_or(QString());
        } else {
            d.allowKeys(
                { "name", "format", "host", "port", "user", "passfile", "extra_args", "timeout" });
            db.database = d.requiredString(u"name"_s);
            db.format = d.string(u"format"_s, db.format);
            db.host = d.string(u"host"_s, db.host);
            db.port = int(d.integer(u"port"_s, db.port, 1, 65535));
            db.user = d.string(u"user"_s, db.user);
            if (d.child(u"passfile"_s).isDefined()) {
                db.passfile = d.string(u"passfile"_s);
                checkSecretFile(d.child(u"passfile"_s), db.passfile);
            }
            if (d.child(u"extra_args"_s).isDefined()) {
                db.extraArgs = d.stringList(u"extra_args"_s);
                if (auto r = OptionPolicy::checkPgDumpArgs(db.extraArgs); !r)
                    d.child(u"extra_args"_s).error(r.error().message);
            }
            db.timeout = d.duration(u"timeout"_s, db.timeout);
        }
        if (!db.database.isEmpty() && !validDatabaseName(db.database))
            nameNode.error(
                u"'%1' is not a database name this agent accepts ([A-Za-z0-9_][A-Za-z0-9_.$-]*)"_s
                    .arg(db.database));
        if (seen.contains(db.database))
            nameNode.error(u"database '%1' is listed twice"_s.arg(db.database));
        seen.insert(db.database);
        if (db.format != "custom"_L1 && db.format != "plain"_L1)
            (d.isScalar() ? pg : d)
                .child(u"format"_s)
                .error(u"'%1' is not custom or plain"_s.arg(db.format));
        job.postgres.append(db);
    }
    if (job.postgres.isEmpty() && !job.postgresGlobals)
        pg.child(u"databases"_s).error(u"list at least one database (or set globals: true)"_s);
}

RetentionConfig parseRetention(const Node &r)
{
    RetentionConfig out;
    if (!r.isDefined())
        return out;
    r.allowKeys({ "keep_within", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly",
        "keep_yearly" });
    const auto within = r.duration(u"keep_within"_s, std::chrono::seconds(0));
    if (within.count() % 3600 != 0)
        r.child(u"keep_within"_s).error(u"must be a whole number of hours (e.g. 48h, 7d)"_s);
    out.keepWithin = int(within.count() / 3600);
    constexpr qint64 kMax = 100000;
    out.keepHourly = int(r.integer(u"keep_hourly"_s, 0, 0, kMax));
    out.keepDaily = int(r.integer(u"keep_daily"_s, 0, 0, kMax));
    out.keepWeekly = int(r.integer(u"keep_weekly"_s, 0, 0, kMax));
    out.keepMonthly = int(r.integer(u"keep_monthly"_s, 0, 0, kMax));
    out.keepYearly = int(r.integer(u"keep_yearly"_s, 0, 0, kMax));
    if (out.isEmpty())
        r.error(u"retention needs at least one keep_* value (omit the section to never prune)"_s);
    return out;
}

CheckConfig parseCheck(const Node &c, const QTimeZone &zone)
{
    CheckConfig out;
    if (!c.isDefined())
        return out;
    c.allowKeys({ "schedule", "repository_only", "archives_only", "verify_data", "timeout" });
    out.schedule = c.string(u"schedule"_s);
    if (!out.schedule.isEmpty())
        if (auto s = CronSchedule::parse(out.schedule, zone); !s)
            c.child(u"schedule"_s).error(s.error().message);
    out.repositoryOnly = c.boolean(u"repository_only"_s, false);
    out.archivesOnly = c.boolean(u"archives_only"_s, false);
    out.verifyData = c.boolean(u"verify_data"_s, false);
    out.timeout = c.duration(u"timeout"_s, out.timeout);
    if (out.repositoryOnly && out.archivesOnly)
        c.child(u"archives_only"_s)
            .error(u"repository_only and archives_only exclude each other"_s);
    if (out.repositoryOnly && out.verifyData)
        c.child(u"verify_data"_s)
            .error(u"verify_data checks archives; it cannot go with repository_only"_s);
    return out;
}

DrillConfig parseDrill(const Node &d, const QTimeZone &zone)
{
    DrillConfig out;
    if (!d.isDefined())
        return out;
    d.allowKeys({ "schedule", "paths", "random_files", "restore_dumps", "timeout" });
    out.schedule = d.string(u"schedule"_s);
    if (!out.schedule.isEmpty())
        if (auto s = CronSchedule::parse(out.schedule, zone); !s)
            d.child(u"schedule"_s).error(s.error().message);
    for (const QString &p : d.stringList(u"paths"_s)) {
        auto n = ArchivePath::normalize(p, u"path"_s);
        if (!n)
            d.child(u"paths"_s).error(n.error().message);
        else if (!ArchivePath::fitsPatternFile(*n))
            d.child(u"paths"_s)
                .error(u"'%1' cannot be a drill path (empty, or white space around it)"_s.arg(p));
        else if (!out.paths.contains(*n))
            out.paths.append(*n); // as borg stores it: relative, no leading '/'
    }
    out.randomFiles = int(d.integer(u"random_files"_s, out.randomFiles, 0, 10000));
    out.restoreDumps = d.boolean(u"restore_dumps"_s, out.restoreDumps);
    out.timeout = d.duration(u"timeout"_s, out.timeout);
    return out;
}

JobConfig parseJob(const QString &name, const Node &j)
{
    JobConfig job;
    job.name = name;
    j.allowKeys(
        { "repository", "sources", "excludes", "compression", "archive_name", "extra_create_args",
            "retention", "compact", "schedule", "time_zone", "jitter", "catch_up", "max_run_time",
            "create_timeout", "prune_timeout", "rpo", "hooks", "postgres", "check", "drill" });
    job.repository = j.requiredString(u"repository"_s);
    job.sources = j.stringList(u"sources"_s);
    for (const QString &s : std::as_const(job.sources)) {
        if (!QFileInfo(s).isAbsolute())
            j.child(u"sources"_s).error(u"'%1' must be an absolute path"_s.arg(s));
    }
    job.excludes = j.stringList(u"excludes"_s);
    job.compression = j.string(u"compression"_s, job.compression);
    if (!validCompression(job.compression))
        j.child(u"compression"_s)
            .error(u"'%1' is not a borg compression spec (e.g. lz4, zstd,3, auto,zstd,10)"_s.arg(
                job.compression));
    job.archiveName = j.string(u"archive_name"_s, job.archiveName);
    if (auto r = ArchiveName::validatePattern(job.archiveName); !r)
        j.child(u"archive_name"_s).error(r.error().message);
    job.extraCreateArgs = j.stringList(u"extra_create_args"_s);
    if (auto r = OptionPolicy::checkBorgCreateArgs(job.extraCreateArgs); !r)
        j.child(u"extra_create_args"_s).error(r.error().message);
    job.retention = parseRetention(j.child(u"retention"_s));
    job.compact = j.boolean(u"compact"_s, job.compact);

    const QString zoneName = j.string(u"time_zone"_s);
    if (!zoneName.isEmpty()) {
        const QTimeZone zone(zoneName.toUtf8());
        if (!zone.isValid())
            j.child(u"time_zone"_s)
                .error(u"'%1' is not a known time zone (e.g. Europe/Berlin, UTC)"_s.arg(zoneName));
        else
            job.timeZone = zone;
    }
    job.schedule = j.string(u"schedule"_s);
    if (!job.schedule.isEmpty())
        if (auto s = CronSchedule::parse(job.schedule, job.timeZone); !s)
            j.child(u"schedule"_s).error(s.error().message);
    job.jitter = j.duration(u"jitter"_s, job.jitter);
    job.catchUp = j.boolean(u"catch_up"_s, job.catchUp);
    job.maxRunTime = j.duration(u"max_run_time"_s, job.maxRunTime);
    job.createTimeout = j.duration(u"create_timeout"_s, job.createTimeout);
    job.pruneTimeout = j.duration(u"prune_timeout"_s, job.pruneTimeout);
    for (const char *key : { "max_run_time", "create_timeout", "prune_timeout" }) {
        const Node n = j.child(QString::fromLatin1(key));
        if (n.isDefined()
            && j.duration(QString::fromLatin1(key), std::chrono::seconds(1)).count() == 0)
            n.error(u"must be longer than 0s"_s);
    }
    if (j.child(u"rpo"_s).isDefined())
        job.rpo = j.duration(u"rpo"_s, std::chrono::seconds(0));

    const Node hooks = j.child(u"hooks"_s);
    if (hooks.isDefined()) {
        hooks.allowKeys({ "before", "after", "on_error" });
        job.beforeHooks = parseHooks(hooks, u"before"_s);
        job.afterHooks = parseHooks(hooks, u"after"_s);
        job.onErrorHooks = parseHooks(hooks, u"on_error"_s);
    }
    parsePostgres(j.child(u"postgres"_s), job);
    if (job.sources.isEmpty() && job.postgres.isEmpty() && !job.postgresGlobals)
        j.error(u"job has nothing to back up: give sources and/or postgres databases"_s);
    job.check = parseCheck(j.child(u"check"_s), job.timeZone);
    job.drill = parseDrill(j.child(u"drill"_s), job.timeZone);
    return job;
}

RepositoryConfig parseRepository(const QString &name, const Node &r)
{
    RepositoryConfig repo;
    repo.name = name;
    r.allowKeys({ "url", "passphrase_file", "passcommand", "encryption", "ssh_key", "ssh_options",
        "lock_wait", "append_only" });
    repo.url = r.requiredString(u"url"_s);
    if (!repo.url.isEmpty()) {
        if (repo.url.startsWith("ssh://"_L1)) {
            const QUrl u(repo.url, QUrl::StrictMode);
            if (!u.isValid() || u.host().isEmpty() || u.path().isEmpty())
                r.child(u"url"_s).error(
                    u"'%1' is not ssh://[user@]host[:port]/path"_s.arg(repo.displayUrl()));
            if (!u.password().isEmpty())
                r.child(u"url"_s).error(u"the URL must not carry a password (use ssh_key)"_s);
        } else if (!QFileInfo(repo.url).isAbsolute()) {
            r.child(u"url"_s).error(
                u"'%1' is neither an absolute path nor an ssh:// URL"_s.arg(repo.url));
        }
    }
    repo.passphraseFile = r.string(u"passphrase_file"_s);
    repo.passcommand = r.string(u"passcommand"_s);
    repo.encryption = r.string(u"encryption"_s, repo.encryption);
    if (!kEncryptions.contains(repo.encryption))
        r.child(u"encryption"_s)
            .error(u"'%1' is not one of: %2"_s.arg(repo.encryption, kEncryptions.join(u", "_s)));
    const bool needsPassphrase = repo.encryption != "none"_L1;
    if (!repo.passphraseFile.isEmpty() && !repo.passcommand.isEmpty())
        r.child(u"passcommand"_s).error(u"give either passphrase_file or passcommand, not both"_s);
    else if (needsPassphrase && repo.passphraseFile.isEmpty() && repo.passcommand.isEmpty())
        r.error(
            u"encryption %1 needs a passphrase: set passphrase_file (mode 0600) or passcommand"_s
                .arg(repo.encryption));
    checkSecretFile(r.child(u"passphrase_file"_s), repo.passphraseFile);
    repo.sshKey = r.string(u"ssh_key"_s);
    checkSecretFile(r.child(u"ssh_key"_s), repo.sshKey);
    repo.sshOptions = r.stringList(u"ssh_options"_s);
    if (auto res = OptionPolicy::checkSshOptions(repo.sshOptions); !res)
        r.child(u"ssh_options"_s).error(res.error().message);
    if ((!repo.sshKey.isEmpty() || !repo.sshOptions.isEmpty()) && !repo.isRemote())
        r.child(repo.sshKey.isEmpty() ? u"ssh_options"_s : u"ssh_key"_s)
            .error(u"ssh settings need an ssh:// repository URL"_s);
    repo.lockWait = r.duration(u"lock_wait"_s, repo.lockWait);
    repo.appendOnly = r.boolean(u"append_only"_s, repo.appendOnly);
    return repo;
}

QJsonValue secondsJson(std::chrono::seconds s)
{
    return QJsonValue(qint64(s.count()));
}

QJsonObject hookJson(const HookConfig &h)
{
    return { { u"name"_s, h.name }, { u"command"_s, QJsonArray::fromStringList(h.command) },
        { u"timeout"_s, secondsJson(h.timeout) } };
}

QJsonArray hooksJson(const QList<HookConfig> &hooks)
{
    QJsonArray a;
    for (const HookConfig &h : hooks)
        a.append(hookJson(h));
    return a;
}

// The effective configuration as canonical JSON (QJsonDocument sorts keys): same settings,
// same digest, whatever the comments, key order or file split.
QByteArray effectiveJson(const AgentConfig &c)
{
    QJsonArray repos;
    for (const RepositoryConfig &r : c.repositories)
        repos.append(QJsonObject { { u"name"_s, r.name }, { u"url"_s, r.url },
            { u"passphrase_file"_s, r.passphraseFile }, { u"passcommand"_s, r.passcommand },
            { u"encryption"_s, r.encryption }, { u"ssh_key"_s, r.sshKey },
            { u"ssh_options"_s, QJsonArray::fromStringList(r.sshOptions) },
            { u"lock_wait"_s, secondsJson(r.lockWait) }, { u"append_only"_s, r.appendOnly } });
    QJsonArray jobs;
    for (const JobConfig &j : c.jobs) {
        QJsonArray pg;
        for (const PostgresDumpConfig &d : j.postgres)
            pg.append(QJsonObject { { u"database"_s, d.database }, { u"format"_s, d.format },
                { u"host"_s, d.host }, { u"port"_s, d.port }, { u"user"_s, d.user },
                { u"passfile"_s, d.passfile },
                { u"extra_args"_s, QJsonArray::fromStringList(d.extraArgs) },
                { u"timeout"_s, secondsJson(d.timeout) } });
        const RetentionConfig &r = j.retention;
        jobs.append(QJsonObject {
            { u"name"_s, j.name },
            { u"repository"_s, j.repository },
            { u"sources"_s, QJsonArray::fromStringList(j.sources) },
            { u"excludes"_s, QJsonArray::fromStringList(j.excludes) },
            { u"compression"_s, j.compression },
            { u"archive_name"_s, j.archiveName },
            { u"extra_create_args"_s, QJsonArray::fromStringList(j.extraCreateArgs) },
            { u"retention"_s,
                QJsonArray { r.keepWithin, r.keepHourly, r.keepDaily, r.keepWeekly, r.keepMonthly,
                    r.keepYearly } },
            { u"compact"_s, j.compact },
            { u"schedule"_s, j.schedule },
            { u"time_zone"_s, QString::fromUtf8(j.timeZone.id()) },
            { u"jitter"_s, secondsJson(j.jitter) },
            { u"catch_up"_s, j.catchUp },
            { u"max_run_time"_s, secondsJson(j.maxRunTime) },
            { u"create_timeout"_s, secondsJson(j.createTimeout) },
            { u"prune_timeout"_s, secondsJson(j.pruneTimeout) },
            { u"rpo"_s, j.rpo ? secondsJson(*j.rpo) : QJsonValue() },
            { u"hooks"_s,
                QJsonArray { hooksJson(j.beforeHooks), hooksJson(j.afterHooks),
                    hooksJson(j.onErrorHooks) } },
            { u"postgres"_s, pg },
            { u"postgres_globals"_s, j.postgresGlobals },
            { u"check"_s,
                QJsonObject { { u"schedule"_s, j.check.schedule },
                    { u"repository_only"_s, j.check.repositoryOnly },
                    { u"archives_only"_s, j.check.archivesOnly },
                    { u"verify_data"_s, j.check.verifyData },
                    { u"timeout"_s, secondsJson(j.check.timeout) } } },
            { u"drill"_s,
                QJsonObject { { u"schedule"_s, j.drill.schedule },
                    { u"paths"_s, QJsonArray::fromStringList(j.drill.paths) },
                    { u"random_files"_s, j.drill.randomFiles },
                    { u"restore_dumps"_s, j.drill.restoreDumps },
                    { u"timeout"_s, secondsJson(j.drill.timeout) } } },
        });
    }
    QJsonObject broker;
    if (c.broker) {
        QJsonArray eps;
        for (const BrokerEndpoint &e : c.broker->endpoints)
            eps.append(e.toString());
        broker = { { u"endpoints"_s, eps }, { u"vhost"_s, c.broker->vhost },
            { u"user"_s, c.broker->user }, { u"token_file"_s, c.broker->tokenFile },
            { u"ca_file"_s, c.broker->caFile }, { u"cert_file"_s, c.broker->certFile },
            { u"key_file"_s, c.broker->keyFile }, { u"verify_peer"_s, c.broker->verifyPeer },
            { u"heartbeat"_s, secondsJson(c.broker->heartbeat) } };
    }
    const QJsonObject root {
        { u"node"_s, c.node },
        { u"hostname"_s, c.hostname },
        { u"state_dir"_s, c.stateDir },
        { u"borg_binary"_s, c.borgBinary },
        { u"postgres_bin_dir"_s, c.postgresBinDir },
        { u"broker"_s, broker },
        { u"metrics"_s,
            QJsonObject { { u"listen"_s, c.metrics.listen },
                { u"textfile"_s, c.metrics.textfilePath },
                { u"pushgateway"_s, c.metrics.pushgatewayUrl } } },
        { u"commands"_s,
            QJsonObject { { u"orchestrator_key"_s, c.commands.orchestratorKey },
                { u"allowed"_s, QJsonArray::fromStringList(c.commands.allowed) },
                { u"max_clock_skew"_s, secondsJson(c.commands.maxClockSkew) } } },
        { u"restore"_s,
            QJsonObject { { u"roots"_s, QJsonArray::fromStringList(c.restore.roots) },
                { u"allow_in_place"_s, c.restore.allowInPlace } } },
        { u"repository_host"_s,
            c.repositoryHost ? QJsonValue(QJsonObject {
                { u"borg_user"_s, c.repositoryHost->borgUser },
                { u"authorized_keys"_s, c.repositoryHost->authorizedKeys },
                { u"base_dir"_s, c.repositoryHost->baseDir },
                { u"allowed_nodes"_s, QJsonArray::fromStringList(c.repositoryHost->allowedNodes) },
                { u"max_keys_per_node"_s, c.repositoryHost->maxKeysPerNode } })
                             : QJsonValue() },
        { u"outbox_max_messages"_s, c.outboxMaxMessages },
        { u"heartbeat_interval"_s, secondsJson(c.heartbeatInterval) },
        { u"repositories"_s, repos },
        { u"jobs"_s, jobs },
    };
    return QJsonDocument(root).toJson(QJsonDocument::Compact);
}

// Reads repositories and jobs from one file (main or conf.d) into `out`.
void readRepositoriesAndJobs(const Node &root, AgentConfig &out,
    QHash<QString, QString> &repoLocations, QHash<QString, QString> &jobLocations,
    QList<std::pair<Node, QString>> &jobRepoRefs)
{
    for (const auto &[name, node] : root.namedMap(u"repositories"_s)) {
        if (!validRepositoryName(name))
            node.error(
                u"'%1' is not a valid repository name ([A-Za-z0-9][A-Za-z0-9_.-]*)"_s.arg(name));
        if (repoLocations.contains(name)) {
            node.error(
                u"repository '%1' is already defined at %2"_s.arg(name, repoLocations.value(name)));
            continue;
        }
        repoLocations.insert(name, node.location());
        out.repositories.append(parseRepository(name, node));
    }
    for (const auto &[name, node] : root.namedMap(u"jobs"_s)) {
        if (!validJobName(name))
            node.error(
                u"'%1' is not a valid job name ([a-z0-9][a-z0-9_-]*, at most 64 characters)"_s.arg(
                    name));
        if (jobLocations.contains(name)) {
            node.error(u"job '%1' is already defined at %2"_s.arg(name, jobLocations.value(name)));
            continue;
        }
        jobLocations.insert(name, node.location());
        out.jobs.append(parseJob(name, node));
        jobRepoRefs.append({ node.child(u"repository"_s), out.jobs.last().repository });
    }
}

} // namespace

QString RepositoryConfig::displayUrl() const
{
    if (!isRemote())
        return url;
    QUrl u(url);
    if (u.password().isEmpty())
        return url;
    u.setPassword(QString());
    return u.toString();
}

const JobConfig *AgentConfig::job(const QString &name) const
{
    for (const JobConfig &j : jobs)
        if (j.name == name)
            return &j;
    return nullptr;
}

const RepositoryConfig *AgentConfig::repository(const QString &name) const
{
    for (const RepositoryConfig &r : repositories)
        if (r.name == name)
            return &r;
    return nullptr;
}

CronSchedule AgentConfig::backupSchedule(const JobConfig &j) const
{
    if (j.schedule.isEmpty())
        return {};
    CronSchedule s = CronSchedule::parse(j.schedule, j.timeZone).valueOr(CronSchedule());
    s.setOffset(CronSchedule::jitterOffset(node, j.name, j.jitter));
    return s;
}

CronSchedule AgentConfig::drillSchedule(const JobConfig &j) const
{
    if (j.drill.schedule.isEmpty())
        return {};
    CronSchedule s = CronSchedule::parse(j.drill.schedule, j.timeZone).valueOr(CronSchedule());
    s.setOffset(CronSchedule::jitterOffset(node, j.name + u":drill"_s, j.jitter));
    return s;
}

CronSchedule AgentConfig::checkSchedule(const JobConfig &j) const
{
    if (j.check.schedule.isEmpty())
        return {};
    CronSchedule s = CronSchedule::parse(j.check.schedule, j.timeZone).valueOr(CronSchedule());
    s.setOffset(CronSchedule::jitterOffset(node, j.name + u":check"_s, j.jitter));
    return s;
}

QString AgentConfig::postgresProgram(const QString &name) const
{
    return postgresBinDir.isEmpty() ? name : QDir(postgresBinDir).filePath(name);
}

Expected<AgentConfig> loadAgentConfig(const QString &path, const QString &confDir)
{
    auto doc = config::Document::loadFile(path);
    if (!doc)
        return unexpected(doc.error());

    AgentConfig cfg;
    cfg.files.append(path);
    config::Errors errors;
    const Node root = doc->root(&errors);
    if (!root.isMap()) {
        root.error(u"expected a mapping of settings"_s);
        return errors.toResult().error();
    }
    root.allowKeys({ "node", "hostname", "state_dir", "borg_binary", "postgres_bin_dir", "broker",
        "metrics", "commands", "restore", "repository_host", "outbox_max_messages",
        "heartbeat_interval", "repositories", "jobs" });
    cfg.node = root.string(u"node"_s, defaultNodeId());
    if (!isValidNodeId(cfg.node))
        root.child(u"node"_s).error(
            u"'%1' is not a valid node id ([a-z0-9][a-z0-9-]*, at most 63 characters)"_s.arg(
                cfg.node));
    cfg.hostname = root.string(u"hostname"_s, QSysInfo::machineHostName());
    cfg.stateDir = root.string(u"state_dir"_s, cfg.stateDir);
    checkAbsolute(root.child(u"state_dir"_s), cfg.stateDir);
    cfg.borgBinary = root.string(u"borg_binary"_s, cfg.borgBinary);
    cfg.postgresBinDir = root.string(u"postgres_bin_dir"_s);
    checkAbsolute(root.child(u"postgres_bin_dir"_s), cfg.postgresBinDir);
    cfg.outboxMaxMessages
        = root.integer(u"outbox_max_messages"_s, cfg.outboxMaxMessages, 100, 100000000);
    cfg.heartbeatInterval = root.duration(u"heartbeat_interval"_s, cfg.heartbeatInterval);
    if (cfg.heartbeatInterval.count() < 1)
        root.child(u"heartbeat_interval"_s).error(u"must be at least 1s"_s);

    if (root.child(u"broker"_s).isDefined()) {
        const Node brokerNode = root.child(u"broker"_s);
        BrokerSettings b = BrokerSettings::fromConfig(brokerNode, cfg.node);
        if (b.user.isEmpty() && !b.usesExternalAuth())
            b.user = cfg.node;
        else if (!b.user.isEmpty() && b.user != cfg.node)
            brokerNode.child(u"user"_s).error(
                u"the broker user must be the node id '%1'"_s.arg(cfg.node));
        if (b.connectionName.isEmpty())
            b.connectionName = u"sparky-agent "_s + cfg.node;
        cfg.broker = b;
    }

    const Node metrics = root.child(u"metrics"_s);
    if (metrics.isDefined()) {
        metrics.allowKeys({ "listen", "textfile", "pushgateway" });
        cfg.metrics.listen = metrics.string(u"listen"_s, cfg.metrics.listen);
        cfg.metrics.textfilePath = metrics.string(u"textfile"_s);
        checkAbsolute(metrics.child(u"textfile"_s), cfg.metrics.textfilePath);
        cfg.metrics.pushgatewayUrl = metrics.string(u"pushgateway"_s);
        if (!cfg.metrics.pushgatewayUrl.isEmpty()) {
            const QUrl u(cfg.metrics.pushgatewayUrl, QUrl::StrictMode);
            if (!u.isValid() || (u.scheme() != "http"_L1 && u.scheme() != "https"_L1))
                metrics.child(u"pushgateway"_s).error(u"expected an http:// or https:// URL"_s);
        }
    }
    const Node commands = root.child(u"commands"_s);
    if (commands.isDefined()) {
        commands.allowKeys({ "orchestrator_key", "allowed", "max_clock_skew" });
        cfg.commands.orchestratorKey = commands.string(u"orchestrator_key"_s);
        if (commands.child(u"allowed"_s).isDefined())
            cfg.commands.allowed = commands.stringList(u"allowed"_s);
        for (const QString &t : std::as_const(cfg.commands.allowed))
            if (!kCommandTypes.contains(t))
                commands.child(u"allowed"_s)
                    .error(u"unknown command type '%1' (known: %2)"_s.arg(
                        t, kCommandTypes.join(u", "_s)));
        cfg.commands.maxClockSkew
            = commands.duration(u"max_clock_skew"_s, cfg.commands.maxClockSkew);
    }
    if (cfg.broker && cfg.commands.orchestratorKey.isEmpty())
        root.child(u"commands"_s)
            .child(u"orchestrator_key"_s)
            .error(u"with a broker configured, the orchestrator's public key must be pinned"_s);
    const Node restore = root.child(u"restore"_s);
    if (restore.isDefined()) {
        restore.allowKeys({ "roots", "allow_in_place" });
        if (restore.child(u"roots"_s).isDefined())
            cfg.restore.roots = restore.stringList(u"roots"_s);
        for (const QString &r : std::as_const(cfg.restore.roots))
            checkAbsolute(restore.child(u"roots"_s), r);
        cfg.restore.allowInPlace = restore.boolean(u"allow_in_place"_s, false);
    }
    const Node repoHost = root.child(u"repository_host"_s);
    if (repoHost.isDefined()) {
        repoHost.allowKeys(
            { "borg_user", "authorized_keys", "base_dir", "allowed_nodes", "max_keys_per_node" });
        RepositoryHostConfig h;
        h.borgUser = repoHost.string(u"borg_user"_s, h.borgUser);
        static const QRegularExpression userRe(u"^[a-z_][a-z0-9_-]{0,31}$"_s);
        if (!userRe.match(h.borgUser).hasMatch())
            repoHost.child(u"borg_user"_s)
                .error(u"'%1' is not a user name this agent accepts"_s.arg(h.borgUser));
        h.authorizedKeys = repoHost.string(u"authorized_keys"_s);
        checkAbsolute(repoHost.child(u"authorized_keys"_s), h.authorizedKeys);
        h.baseDir = repoHost.requiredString(u"base_dir"_s);
        checkAbsolute(repoHost.child(u"base_dir"_s), h.baseDir);
        if (h.baseDir == "/"_L1)
            repoHost.child(u"base_dir"_s).error(u"'/' cannot be the repository base directory"_s);
        h.allowedNodes = repoHost.stringList(u"allowed_nodes"_s);
        for (const QString &n : std::as_const(h.allowedNodes))
            if (!isValidNodeId(n))
                repoHost.child(u"allowed_nodes"_s).error(u"'%1' is not a valid node id"_s.arg(n));
        h.maxKeysPerNode = int(repoHost.integer(u"max_keys_per_node"_s, h.maxKeysPerNode, 1, 64));
        cfg.repositoryHost = h;
    }
    for (const char *t : { "key.authorize", "key.revoke" })
        if (!cfg.repositoryHost && cfg.commands.allowed.contains(QString::fromLatin1(t)))
            root.child(u"commands"_s)
                .child(u"allowed"_s)
                .error(u"%1 needs a repository_host section"_s.arg(QString::fromLatin1(t)));

    QHash<QString, QString> repoLocations, jobLocations;
    QList<std::pair<Node, QString>> jobRepoRefs;
    readRepositoriesAndJobs(root, cfg, repoLocations, jobLocations, jobRepoRefs);

    // conf.d: more repositories and jobs, nothing else. Documents are kept alive for the
    // Nodes that refer to them until validation ends.
    QList<config::Document> confDocs;
    const QString dir = confDir.isEmpty() ? QFileInfo(path).dir().filePath(u"conf.d"_s) : confDir;
    if (QFileInfo(dir).isDir()) {
        const QStringList names
            = QDir(dir).entryList({ u"*.yaml"_s, u"*.yml"_s }, QDir::Files, QDir::Name);
        for (const QString &n : names) {
            const QString file = QDir(dir).filePath(n);
            auto d = config::Document::loadFile(file);
            if (!d) {
                errors.add(d.error().message);
                continue;
            }
            cfg.files.append(file);
            confDocs.append(*d);
            const Node r = confDocs.last().root(&errors);
            if (!r.isDefined())
                continue; // an empty file is fine
            r.allowKeys({ "repositories", "jobs" });
            readRepositoriesAndJobs(r, cfg, repoLocations, jobLocations, jobRepoRefs);
        }
    }

    for (const auto &[node, repoName] : jobRepoRefs)
        if (!repoName.isEmpty() && !cfg.repository(repoName))
            node.error(u"unknown repository '%1'%2"_s.arg(repoName,
                repoLocations.isEmpty()
                    ? u" (no repositories are defined)"_s
                    : u" (defined: "_s + QStringList(repoLocations.keys()).join(u", "_s) + u')'));
    if (auto r = errors.toResult(); !r)
        return r.error();
    cfg.digest = QCryptographicHash::hash(effectiveJson(cfg), QCryptographicHash::Sha256).toHex();
    return cfg;
}

} // namespace sparky::agent
