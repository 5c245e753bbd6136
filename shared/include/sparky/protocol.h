#pragma once

// Names and bodies of every sparky message (docs/protocol.md is the prose version).
// Agent and orchestrator both build and parse bodies through these types, so the two
// sides cannot drift apart. Parsing is strict and names the field that is wrong.

#include "sparky/envelope.h"
#include "sparky/error.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace sparky::protocol {

// ---- broker topology (broker-config/definitions.json) ----
inline constexpr QLatin1StringView kCommandsExchange{"sparky.commands"};
inline constexpr QLatin1StringView kEventsExchange{"sparky.events"};
inline constexpr QLatin1StringView kRpcExchange{"sparky.rpc"};
inline constexpr QLatin1StringView kDeadLetterExchange{"sparky.dlx"};
inline constexpr QLatin1StringView kEventsQueue{"sparky.orchestrator.events"};
inline constexpr QLatin1StringView kRpcQueue{"sparky.orchestrator.rpc"};
inline constexpr QLatin1StringView kDeadLetterQueue{"sparky.orchestrator.dead"};
inline constexpr QLatin1StringView kRpcRoutingKey{"rpc"};
inline constexpr QLatin1StringView kDirectReplyTo{"amq.rabbitmq.reply-to"};
// The node id the orchestrator uses in envelopes it sends (replies, commands use the target).
inline constexpr QLatin1StringView kOrchestratorNode{"orchestrator"};

QString agentQueue(const QString &node);                         // sparky.agent.<node>
QString eventRoutingKey(const QString &node, const QString &type); // <node>.<type>

// ---- message types ----
namespace type {
// events: agent → orchestrator
inline constexpr QLatin1StringView AgentHello{"agent.hello"};
inline constexpr QLatin1StringView AgentHeartbeat{"agent.heartbeat"};
inline constexpr QLatin1StringView RunStarted{"run.started"};
inline constexpr QLatin1StringView RunProgress{"run.progress"};
inline constexpr QLatin1StringView RunFinished{"run.finished"};
inline constexpr QLatin1StringView CommandUpdate{"command.update"};
inline constexpr QLatin1StringView ConfigApplied{"config.applied"};
inline constexpr QLatin1StringView ConfigRejected{"config.rejected"};
// commands: orchestrator → agent
inline constexpr QLatin1StringView BackupRun{"backup.run"};
inline constexpr QLatin1StringView BackupCancel{"backup.cancel"};
inline constexpr QLatin1StringView AgentPing{"agent.ping"};
inline constexpr QLatin1StringView ArchivesList{"archives.list"};
inline constexpr QLatin1StringView ArchiveBrowse{"archive.browse"};
inline constexpr QLatin1StringView RestoreExtract{"restore.extract"};
inline constexpr QLatin1StringView DrillRun{"drill.run"};
// repository host role (key rotation, DESIGN "Key rotation")
inline constexpr QLatin1StringView KeyAuthorize{"key.authorize"};
inline constexpr QLatin1StringView KeyRevoke{"key.revoke"};
// rpc: admin → orchestrator requests carry the method as type; replies are rpc.reply
inline constexpr QLatin1StringView RpcReply{"rpc.reply"};
} // namespace type

// ---- status with a severity order: the worst wins in every roll-up ----
enum class Status {
    Success = 0,
    Warning = 1,
    Cancelled = 2,
    Failed = 3,
};
QString statusName(Status s);                       // "success", "warning", "cancelled", "failed"
std::optional<Status> statusFromName(QStringView name);
int severity(Status s);                             // larger is worse
Status worst(Status a, Status b);
// borg exit codes: 0 → success, 1 → warning, anything else → failed.
Status statusFromBorgExit(int exitCode);

enum class RunKind { Backup, Check, Drill, Restore };
QString runKindName(RunKind k);                     // "backup", "check", "drill", "restore"
std::optional<RunKind> runKindFromName(QStringView name);

// ---- bodies ----
struct JobInfo
{
    QString name;
    QString repository;   // borg URL with any password stripped
    QString schedule;     // cron text as configured
    qint64 rpoSeconds = 0;
    QJsonObject toJson() const;
    static Expected<JobInfo> fromJson(const QJsonObject &o, QLatin1StringView context);
};

struct AgentHello
{
    QString version;
    QString configDigest; // sha256 of the effective config
    QString hostname;
    QDateTime startedAt;
    QList<JobInfo> jobs;
    QJsonObject toJson() const;
    static Expected<AgentHello> fromJson(const QJsonObject &body);
};

struct AgentHeartbeat
{
    QString version;
    QString configDigest;
    qint64 outboxMessages = 0;
    QStringList runningRuns;
    qint64 uptimeSeconds = 0;
    QJsonObject toJson() const;
    static Expected<AgentHeartbeat> fromJson(const QJsonObject &body);
};

struct RunStats
{
    QString archiveName;
    QString archiveId;
    qint64 originalSize = 0;
    qint64 compressedSize = 0;
    qint64 deduplicatedSize = 0;
    qint64 files = 0;
    double durationSeconds = 0;
    QJsonObject toJson() const;
    static Expected<RunStats> fromJson(const QJsonObject &o);
};

struct StepResult
{
    QString name;          // "init", "hook:before:<name>", "dump:<db>", "create", "prune", "compact", …
    Status status = Status::Success;
    QDateTime startedAt;
    QDateTime finishedAt;
    std::optional<int> exitCode;
    QString error;         // human text; empty on success
    QJsonObject toJson() const;
    static Expected<StepResult> fromJson(const QJsonObject &o, QLatin1StringView context);
};

struct RunStarted
{
    QString runId;
    QString job;
    RunKind kind = RunKind::Backup;
    QString repository;
    QString trigger;       // "schedule", "catchup", "command", "cli"
    QString commandId;     // when trigger is "command"
    QDateTime startedAt;
    QJsonObject toJson() const;
    static Expected<RunStarted> fromJson(const QJsonObject &body);
};

struct RunProgress
{
    QString runId;
    QString job;
    QString step;
    qint64 originalSize = 0;
    qint64 compressedSize = 0;
    qint64 deduplicatedSize = 0;
    qint64 files = 0;
    QString currentPath;
    QJsonObject toJson() const;
    static Expected<RunProgress> fromJson(const QJsonObject &body);
};

struct RunFinished
{
    QString runId;
    QString job;
    RunKind kind = RunKind::Backup;
    QString repository;
    QString trigger;
    QString commandId;
    Status status = Status::Success;
    QDateTime startedAt;
    QDateTime finishedAt;
    QList<StepResult> steps;
    QString failedStep;    // name of the first step that failed, if any
    QString error;         // what went wrong, for the operator
    std::optional<RunStats> stats;
    QString logTail;       // redacted; at most kMaxLogTail bytes
    QJsonObject details;   // kind-specific extras (e.g. drill: files checked)
    QJsonObject toJson() const;
    static Expected<RunFinished> fromJson(const QJsonObject &body);
};
inline constexpr qsizetype kMaxLogTail = 64 * 1024;

struct CommandUpdate
{
    enum class State { Received, Rejected, Running, Succeeded, Failed, Expired };
    QString commandId;
    QString commandType;
    State state = State::Received;
    QString error;         // for Rejected/Failed/Expired
    QJsonObject result;    // command-specific (e.g. archives.list → {"archives": […]})
    QString runId;         // when the command started a run
    QJsonObject toJson() const;
    static Expected<CommandUpdate> fromJson(const QJsonObject &body);
    static QString stateName(State s);
    static std::optional<State> stateFromName(QStringView name);
};

// Parses and validates a body by the envelope's type. Used by the orchestrator's ingest to
// reject a bad event before it reaches the store.
Result validateEventBody(const Envelope &event);

} // namespace sparky::protocol
