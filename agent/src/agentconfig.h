#pragma once

// The agent's configuration: /etc/sparky/agent.yaml plus conf.d/*.yaml (sorted by name;
// conf.d files may add repositories and jobs, nothing else). Loaded and validated as a
// whole; every problem is reported with file:line and the field (see sparky/config.h).
// docs/configuration.md documents every key with its default.
//
// Plain value types; a loaded AgentConfig is immutable and shared by const reference.

#include "cronschedule.h"

#include "sparky/brokersettings.h"
#include "sparky/error.h"

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>
#include <QTimeZone>

#include <chrono>
#include <optional>

namespace sparky::agent {

struct RepositoryConfig
{
    QString name;                   // key under `repositories:`
    QString url;                    // borg URL: /path or ssh://user@host:port/path
    QString passphraseFile;         // 0600 file with the passphrase, or …
    QString passcommand;            // … BORG_PASSCOMMAND (one of the two is required unless encryption none)
    QString encryption = QStringLiteral("repokey-blake2"); // for `borg init`
    QString sshKey;                 // private key for BORG_RSH (ssh -i …)
    QStringList sshOptions;         // extra `-o` options for BORG_RSH
    std::chrono::seconds lockWait{600};
    bool appendOnly = false;        // client may not prune; pruning runs on the repository host

    bool isRemote() const { return url.startsWith(QStringLiteral("ssh://")); }
    // The URL with any password removed (for messages, reports and metrics labels).
    QString displayUrl() const;
};

struct HookConfig
{
    QString name;                   // shown in results: step "hook:before:<name>"
    QStringList command;            // argv; no shell unless the command itself is ["sh","-c",…]
    std::chrono::seconds timeout{300};
};

struct PostgresDumpConfig
{
    QString database;               // one archive entry per database
    QString format = QStringLiteral("custom"); // custom | plain
    QString host;                   // connection options; password via PGPASSFILE, never inline
    int port = 5432;
    QString user;
    QString passfile;               // PGPASSFILE (0600)
    QStringList extraArgs;          // allow-listed pg_dump options
    std::chrono::seconds timeout{std::chrono::hours(6)};
};

struct RetentionConfig
{
    int keepWithin = 0;             // hours; 0 = unset
    int keepHourly = 0, keepDaily = 0, keepWeekly = 0, keepMonthly = 0, keepYearly = 0;
    bool isEmpty() const
    {
        return keepWithin == 0 && keepHourly == 0 && keepDaily == 0 && keepWeekly == 0
               && keepMonthly == 0 && keepYearly == 0;
    }
};

struct CheckConfig
{
    QString schedule;               // cron; empty = no periodic check
    bool repositoryOnly = false;    // --repository-only
    bool archivesOnly = false;      // --archives-only
    bool verifyData = false;        // --verify-data
    std::chrono::seconds timeout{std::chrono::hours(12)};
};

struct DrillConfig
{
    QString schedule;               // cron; empty = no drills
    QStringList paths;              // sample these archive paths (normalised: "etc/hosts"), or …
    int randomFiles = 10;           // … this many random files from the latest archive
    bool restoreDumps = true;       // restore database dumps into a scratch database
    std::chrono::seconds timeout{std::chrono::hours(2)};
};

struct JobConfig
{
    QString name;                   // [a-z0-9][a-z0-9_-]*
    QString repository;             // RepositoryConfig::name
    QStringList sources;
    QStringList excludes;           // borg --exclude patterns
    QString compression = QStringLiteral("zstd,3");
    QString archiveName = QStringLiteral("{hostname}-{job}-{now:%Y-%m-%dT%H:%M:%S}");
    QStringList extraCreateArgs;    // allow-listed borg create options only
    RetentionConfig retention;
    bool compact = true;            // borg compact after prune
    QString schedule;               // 5-field cron or @hourly/@daily/@weekly/@monthly; empty = manual only
    QTimeZone timeZone = QTimeZone::systemTimeZone();
    std::chrono::seconds jitter{0}; // deterministic per node and job, in [0, jitter)
    bool catchUp = true;            // a run missed while the agent was down runs once at start
    std::chrono::seconds maxRunTime{std::chrono::hours(12)};
    std::chrono::seconds createTimeout{std::chrono::hours(12)};
    std::chrono::seconds pruneTimeout{std::chrono::hours(2)};
    std::optional<std::chrono::seconds> rpo; // max age of the last good archive
    QList<HookConfig> beforeHooks, afterHooks, onErrorHooks;
    QList<PostgresDumpConfig> postgres;
    bool postgresGlobals = false;   // pg_dumpall --globals-only into the archive too
    PostgresDumpConfig postgresDefaults; // the `postgres:` section's own connection settings (globals use them)
    CheckConfig check;
    DrillConfig drill;
};

struct MetricsConfig
{
    QString listen = QStringLiteral("127.0.0.1:9465"); // empty = no exposer
    QString textfilePath;           // node_exporter textfile collector output (atomic rename)
    QString pushgatewayUrl;         // push after each run when set
};

struct CommandsConfig
{
    QString orchestratorKey;        // base64 ed25519 public key that signs commands (pinned)
    QStringList allowed{QStringLiteral("backup.run"), QStringLiteral("backup.cancel"),
                        QStringLiteral("agent.ping")};
    std::chrono::seconds maxClockSkew{300};
};

struct RestoreConfig
{
    QStringList roots{QStringLiteral("/var/lib/sparky/restore")};
    bool allowInPlace = false;
};

// The repository-host role (DESIGN "Repository host role", "Key rotation"): this agent
// manages the borg user's authorized_keys for the client nodes whose repositories live here.
struct RepositoryHostConfig
{
    QString borgUser = QStringLiteral("borg"); // owns the repositories and authorized_keys
    QString authorizedKeys;         // default: ~<borg_user>/.ssh/authorized_keys
    QString baseDir;                // every authorized repository path lies below it
    QStringList allowedNodes;       // node ids that may be authorized; empty = any
    int maxKeysPerNode = 4;         // old + new during a rotation, with room to spare
};

struct AgentConfig
{
    QString node;                   // node id; also the broker user
    QString hostname;               // for archive names; default: the machine's host name
    QString stateDir = QStringLiteral("/var/lib/sparky"); // outbox, run state, catch-up marks
    QString borgBinary = QStringLiteral("borg");
    QString postgresBinDir;         // where pg_dump/pg_dumpall live; empty = $PATH
    std::optional<BrokerSettings> broker; // absent: local-only (CLI runs, tests)
    MetricsConfig metrics;
    CommandsConfig commands;
    RestoreConfig restore;
    std::optional<RepositoryHostConfig> repositoryHost; // absent: not a repository host
    qint64 outboxMaxMessages = 100000;
    std::chrono::seconds heartbeatInterval{60};
    QList<RepositoryConfig> repositories;
    QList<JobConfig> jobs;
    QStringList files;              // the files it was read from, in order
    QByteArray digest;              // sha256 hex of the effective config (for agent.hello)

    const JobConfig *job(const QString &name) const;
    const RepositoryConfig *repository(const QString &name) const;

    // The job's backup schedule with its per-node jitter applied (offset = jitterOffset(node,
    // job, jitter)); an invalid CronSchedule when the job has no schedule.
    CronSchedule backupSchedule(const JobConfig &job) const;
    // The job's periodic `borg check` schedule (jitter keyed on "<job>:check").
    CronSchedule checkSchedule(const JobConfig &job) const;
    // The job's restore drill schedule (jitter keyed on "<job>:drill").
    CronSchedule drillSchedule(const JobConfig &job) const;
    // pg_dump / pg_dumpall with postgresBinDir applied.
    QString postgresProgram(const QString &name) const;
};

inline constexpr QLatin1StringView kDefaultConfigPath{"/etc/sparky/agent.yaml"};

// Reads `path` and, if it exists, `confDir` (default: <dir of path>/conf.d). All problems
// at once, one per line, each "file:line:col: field: message".
Expected<AgentConfig> loadAgentConfig(const QString &path, const QString &confDir = {});

} // namespace sparky::agent
