#include "sparky/protocol.h"

#include "sparky/jsonfields.h"

#include <QJsonArray>

namespace sparky::protocol {

using namespace Qt::StringLiterals;
namespace j = sparky::json;

QString agentQueue(const QString &node)
{
    return u"sparky.agent."_s + node;
}

QString eventRoutingKey(const QString &node, const QString &type)
{
    return node + u'.' + type;
}

QString statusName(Status s)
{
    switch (s) {
    case Status::Success: return u"success"_s;
    case Status::Warning: return u"warning"_s;
    case Status::Cancelled: return u"cancelled"_s;
    case Status::Failed: return u"failed"_s;
    }
    return u"failed"_s;
}

std::optional<Status> statusFromName(QStringView name)
{
    if (name == u"success") return Status::Success;
    if (name == u"warning") return Status::Warning;
    if (name == u"cancelled") return Status::Cancelled;
    if (name == u"failed") return Status::Failed;
    return std::nullopt;
}

int severity(Status s)
{
    return int(s);
}

Status worst(Status a, Status b)
{
    return severity(a) >= severity(b) ? a : b;
}

Status statusFromBorgExit(int exitCode)
{
    if (exitCode == 0)
        return Status::Success;
    if (exitCode == 1)
        return Status::Warning;
    return Status::Failed;
}

QString runKindName(RunKind k)
{
    switch (k) {
    case RunKind::Backup: return u"backup"_s;
    case RunKind::Check: return u"check"_s;
    case RunKind::Drill: return u"drill"_s;
    case RunKind::Restore: return u"restore"_s;
    }
    return u"backup"_s;
}

std::optional<RunKind> runKindFromName(QStringView name)
{
    if (name == u"backup") return RunKind::Backup;
    if (name == u"check") return RunKind::Check;
    if (name == u"drill") return RunKind::Drill;
    if (name == u"restore") return RunKind::Restore;
    return std::nullopt;
}

namespace {

// Small helpers that keep the fromJson bodies readable: each returns early on error.
#define SPARKY_TRY(var, expr)                                                                      \
    auto var = (expr);                                                                             \
    if (!var)                                                                                      \
        return var.error();

Expected<QDateTime> requireTime(const QJsonObject &o, QLatin1StringView key, QLatin1StringView ctx)
{
    SPARKY_TRY(s, j::requireString(o, key, ctx, 64));
    auto t = parseTimestamp(*s);
    if (!t)
        return unexpected(ErrorCode::Validation,
                          QString(ctx) + u'.' + key + u": expected an RFC 3339 UTC timestamp"_s);
    return *t;
}

Expected<std::optional<QDateTime>> optionalTime(const QJsonObject &o, QLatin1StringView key,
                                                QLatin1StringView ctx)
{
    if (!o.contains(key) || o.value(key).isNull())
        return std::optional<QDateTime>();
    SPARKY_TRY(t, requireTime(o, key, ctx));
    return std::optional<QDateTime>(*t);
}

Expected<Status> requireStatus(const QJsonObject &o, QLatin1StringView key, QLatin1StringView ctx)
{
    SPARKY_TRY(s, j::requireString(o, key, ctx, 32));
    auto st = statusFromName(*s);
    if (!st)
        return unexpected(ErrorCode::Validation,
                          QString(ctx) + u'.' + key + u": unknown status '%1'"_s.arg(*s));
    return *st;
}

Expected<RunKind> requireKind(const QJsonObject &o, QLatin1StringView ctx)
{
    SPARKY_TRY(s, j::requireString(o, "kind"_L1, ctx, 32));
    auto k = runKindFromName(*s);
    if (!k)
        return unexpected(ErrorCode::Validation, QString(ctx) + u".kind: unknown run kind '%1'"_s.arg(*s));
    return *k;
}

QString optString(const Expected<std::optional<QString>> &v)
{
    return v && v->has_value() ? **v : QString();
}

constexpr qint64 kMaxCount = qint64(1) << 53; // exact in a JSON double

void putTime(QJsonObject &o, QLatin1StringView key, const QDateTime &t)
{
    if (t.isValid())
        o.insert(key, formatTimestamp(t));
}

void putString(QJsonObject &o, QLatin1StringView key, const QString &s)
{
    if (!s.isEmpty())
        o.insert(key, s);
}

} // namespace

QJsonObject JobInfo::toJson() const
{
    return QJsonObject{{u"name"_s, name}, {u"repository"_s, repository},
                       {u"schedule"_s, schedule}, {u"rpo_seconds"_s, rpoSeconds}};
}

Expected<JobInfo> JobInfo::fromJson(const QJsonObject &o, QLatin1StringView ctx)
{
    JobInfo j;
    SPARKY_TRY(name, j::requireString(o, "name"_L1, ctx, 128));
    j.name = *name;
    SPARKY_TRY(repo, j::optionalString(o, "repository"_L1, ctx, 2048));
    j.repository = optString(repo);
    SPARKY_TRY(schedule, j::optionalString(o, "schedule"_L1, ctx, 256));
    j.schedule = optString(schedule);
    SPARKY_TRY(rpo, j::optionalInteger(o, "rpo_seconds"_L1, 0, kMaxCount, ctx));
    j.rpoSeconds = rpo->value_or(0);
    return j;
}

QJsonObject AgentHello::toJson() const
{
    QJsonArray js;
    for (const JobInfo &j : jobs)
        js.append(j.toJson());
    QJsonObject o{{u"version"_s, version}, {u"config_digest"_s, configDigest},
                  {u"hostname"_s, hostname}, {u"jobs"_s, js}};
    putTime(o, "started_at"_L1, startedAt);
    return o;
}

Expected<AgentHello> AgentHello::fromJson(const QJsonObject &b)
{
    AgentHello h;
    SPARKY_TRY(version, j::requireString(b, "version"_L1, "body"_L1, 64));
    h.version = *version;
    SPARKY_TRY(digest, j::optionalString(b, "config_digest"_L1, "body"_L1, 128));
    h.configDigest = optString(digest);
    SPARKY_TRY(host, j::optionalString(b, "hostname"_L1, "body"_L1, 255));
    h.hostname = optString(host);
    SPARKY_TRY(started, optionalTime(b, "started_at"_L1, "body"_L1));
    h.startedAt = started->value_or(QDateTime());
    const QJsonValue jobs = b.value("jobs"_L1);
    if (!jobs.isUndefined() && !jobs.isArray())
        return unexpected(ErrorCode::Validation, u"body.jobs: expected an array"_s);
    const QJsonArray arr = jobs.toArray();
    if (arr.size() > 1000)
        return unexpected(ErrorCode::Validation, u"body.jobs: more than 1000 jobs"_s);
    for (qsizetype i = 0; i < arr.size(); ++i) {
        if (!arr.at(i).isObject())
            return unexpected(ErrorCode::Validation, u"body.jobs[%1]: expected an object"_s.arg(i));
        const QByteArray ctx = "body.jobs[" + QByteArray::number(i) + ']';
        SPARKY_TRY(job, JobInfo::fromJson(arr.at(i).toObject(), QLatin1StringView(ctx)));
        h.jobs.append(*job);
    }
    return h;
}

QJsonObject AgentHeartbeat::toJson() const
{
    return QJsonObject{{u"version"_s, version},
                       {u"config_digest"_s, configDigest},
                       {u"outbox_messages"_s, outboxMessages},
                       {u"running_runs"_s, QJsonArray::fromStringList(runningRuns)},
                       {u"uptime_seconds"_s, uptimeSeconds}};
}

Expected<AgentHeartbeat> AgentHeartbeat::fromJson(const QJsonObject &b)
{
    AgentHeartbeat h;
    SPARKY_TRY(version, j::requireString(b, "version"_L1, "body"_L1, 64));
    h.version = *version;
    SPARKY_TRY(digest, j::optionalString(b, "config_digest"_L1, "body"_L1, 128));
    h.configDigest = optString(digest);
    SPARKY_TRY(outbox, j::optionalInteger(b, "outbox_messages"_L1, 0, kMaxCount));
    h.outboxMessages = outbox->value_or(0);
    if (b.contains("running_runs"_L1)) {
        SPARKY_TRY(running, j::requireStringList(b, "running_runs"_L1, 1000, "body"_L1, 64));
        h.runningRuns = *running;
    }
    SPARKY_TRY(uptime, j::optionalInteger(b, "uptime_seconds"_L1, 0, kMaxCount));
    h.uptimeSeconds = uptime->value_or(0);
    return h;
}

QJsonObject RunStats::toJson() const
{
    QJsonObject o{{u"original_size"_s, originalSize},
                  {u"compressed_size"_s, compressedSize},
                  {u"deduplicated_size"_s, deduplicatedSize},
                  {u"files"_s, files},
                  {u"duration_seconds"_s, durationSeconds}};
    putString(o, "archive_name"_L1, archiveName);
    putString(o, "archive_id"_L1, archiveId);
    return o;
}

Expected<RunStats> RunStats::fromJson(const QJsonObject &o)
{
    constexpr QLatin1StringView ctx("body.stats");
    RunStats s;
    SPARKY_TRY(name, j::optionalString(o, "archive_name"_L1, ctx, 512));
    s.archiveName = optString(name);
    SPARKY_TRY(id, j::optionalString(o, "archive_id"_L1, ctx, 128));
    s.archiveId = optString(id);
    SPARKY_TRY(orig, j::optionalInteger(o, "original_size"_L1, 0, kMaxCount, ctx));
    s.originalSize = orig->value_or(0);
    SPARKY_TRY(comp, j::optionalInteger(o, "compressed_size"_L1, 0, kMaxCount, ctx));
    s.compressedSize = comp->value_or(0);
    SPARKY_TRY(dedup, j::optionalInteger(o, "deduplicated_size"_L1, 0, kMaxCount, ctx));
    s.deduplicatedSize = dedup->value_or(0);
    SPARKY_TRY(files, j::optionalInteger(o, "files"_L1, 0, kMaxCount, ctx));
    s.files = files->value_or(0);
    const QJsonValue d = o.value("duration_seconds"_L1);
    if (!d.isUndefined() && (!d.isDouble() || d.toDouble() < 0))
        return unexpected(ErrorCode::Validation, u"body.stats.duration_seconds: expected a non-negative number"_s);
    s.durationSeconds = d.toDouble();
    return s;
}

QJsonObject StepResult::toJson() const
{
    QJsonObject o{{u"name"_s, name}, {u"status"_s, statusName(status)}};
    putTime(o, "started_at"_L1, startedAt);
    putTime(o, "finished_at"_L1, finishedAt);
    if (exitCode)
        o.insert(u"exit_code"_s, *exitCode);
    putString(o, "error"_L1, error);
    return o;
}

Expected<StepResult> StepResult::fromJson(const QJsonObject &o, QLatin1StringView ctx)
{
    StepResult s;
    SPARKY_TRY(name, j::requireString(o, "name"_L1, ctx, 256));
    s.name = *name;
    SPARKY_TRY(status, requireStatus(o, "status"_L1, ctx));
    s.status = *status;
    SPARKY_TRY(started, optionalTime(o, "started_at"_L1, ctx));
    s.startedAt = started->value_or(QDateTime());
    SPARKY_TRY(finished, optionalTime(o, "finished_at"_L1, ctx));
    s.finishedAt = finished->value_or(QDateTime());
    SPARKY_TRY(code, j::optionalInteger(o, "exit_code"_L1, -1024, 1024, ctx));
    if (code->has_value())
        s.exitCode = int(**code);
    SPARKY_TRY(error, j::optionalString(o, "error"_L1, ctx, 8192));
    s.error = optString(error);
    return s;
}

QJsonObject RunStarted::toJson() const
{
    QJsonObject o{{u"run_id"_s, runId}, {u"job"_s, job}, {u"kind"_s, runKindName(kind)},
                  {u"repository"_s, repository}, {u"trigger"_s, trigger}};
    putString(o, "command_id"_L1, commandId);
    putTime(o, "started_at"_L1, startedAt);
    return o;
}

Expected<RunStarted> RunStarted::fromJson(const QJsonObject &b)
{
    RunStarted r;
    SPARKY_TRY(id, j::requireString(b, "run_id"_L1, "body"_L1, 64));
    r.runId = *id;
    SPARKY_TRY(job, j::requireString(b, "job"_L1, "body"_L1, 128));
    r.job = *job;
    SPARKY_TRY(kind, requireKind(b, "body"_L1));
    r.kind = *kind;
    SPARKY_TRY(repo, j::optionalString(b, "repository"_L1, "body"_L1, 2048));
    r.repository = optString(repo);
    SPARKY_TRY(trigger, j::optionalString(b, "trigger"_L1, "body"_L1, 32));
    r.trigger = optString(trigger);
    SPARKY_TRY(cmd, j::optionalString(b, "command_id"_L1, "body"_L1, 64));
    r.commandId = optString(cmd);
    SPARKY_TRY(started, requireTime(b, "started_at"_L1, "body"_L1));
    r.startedAt = *started;
    return r;
}

QJsonObject RunProgress::toJson() const
{
    QJsonObject o{{u"run_id"_s, runId},
                  {u"job"_s, job},
                  {u"step"_s, step},
                  {u"original_size"_s, originalSize},
                  {u"compressed_size"_s, compressedSize},
                  {u"deduplicated_size"_s, deduplicatedSize},
                  {u"files"_s, files}};
    putString(o, "current_path"_L1, currentPath);
    return o;
}

Expected<RunProgress> RunProgress::fromJson(const QJsonObject &b)
{
    RunProgress p;
    SPARKY_TRY(id, j::requireString(b, "run_id"_L1, "body"_L1, 64));
    p.runId = *id;
    SPARKY_TRY(job, j::requireString(b, "job"_L1, "body"_L1, 128));
    p.job = *job;
    SPARKY_TRY(step, j::optionalString(b, "step"_L1, "body"_L1, 256));
    p.step = optString(step);
    SPARKY_TRY(orig, j::optionalInteger(b, "original_size"_L1, 0, kMaxCount));
    p.originalSize = orig->value_or(0);
    SPARKY_TRY(comp, j::optionalInteger(b, "compressed_size"_L1, 0, kMaxCount));
    p.compressedSize = comp->value_or(0);
    SPARKY_TRY(dedup, j::optionalInteger(b, "deduplicated_size"_L1, 0, kMaxCount));
    p.deduplicatedSize = dedup->value_or(0);
    SPARKY_TRY(files, j::optionalInteger(b, "files"_L1, 0, kMaxCount));
    p.files = files->value_or(0);
    SPARKY_TRY(path, j::optionalString(b, "current_path"_L1, "body"_L1, 4096));
    p.currentPath = optString(path);
    return p;
}

QJsonObject RunFinished::toJson() const
{
    QJsonArray st;
    for (const StepResult &s : steps)
        st.append(s.toJson());
    QJsonObject o{{u"run_id"_s, runId},     {u"job"_s, job},
                  {u"kind"_s, runKindName(kind)}, {u"repository"_s, repository},
                  {u"trigger"_s, trigger},  {u"status"_s, statusName(status)},
                  {u"steps"_s, st}};
    putString(o, "command_id"_L1, commandId);
    putTime(o, "started_at"_L1, startedAt);
    putTime(o, "finished_at"_L1, finishedAt);
    putString(o, "failed_step"_L1, failedStep);
    putString(o, "error"_L1, error);
    if (stats)
        o.insert(u"stats"_s, stats->toJson());
    putString(o, "log_tail"_L1, logTail.right(kMaxLogTail));
    if (!details.isEmpty())
        o.insert(u"details"_s, details);
    return o;
}

Expected<RunFinished> RunFinished::fromJson(const QJsonObject &b)
{
    RunFinished r;
    SPARKY_TRY(id, j::requireString(b, "run_id"_L1, "body"_L1, 64));
    r.runId = *id;
    SPARKY_TRY(job, j::requireString(b, "job"_L1, "body"_L1, 128));
    r.job = *job;
    SPARKY_TRY(kind, requireKind(b, "body"_L1));
    r.kind = *kind;
    SPARKY_TRY(repo, j::optionalString(b, "repository"_L1, "body"_L1, 2048));
    r.repository = optString(repo);
    SPARKY_TRY(trigger, j::optionalString(b, "trigger"_L1, "body"_L1, 32));
    r.trigger = optString(trigger);
    SPARKY_TRY(cmd, j::optionalString(b, "command_id"_L1, "body"_L1, 64));
    r.commandId = optString(cmd);
    SPARKY_TRY(status, requireStatus(b, "status"_L1, "body"_L1));
    r.status = *status;
    SPARKY_TRY(started, requireTime(b, "started_at"_L1, "body"_L1));
    r.startedAt = *started;
    SPARKY_TRY(finished, requireTime(b, "finished_at"_L1, "body"_L1));
    r.finishedAt = *finished;
    if (r.finishedAt < r.startedAt)
        return unexpected(ErrorCode::Validation, u"body.finished_at: before started_at"_s);
    const QJsonValue steps = b.value("steps"_L1);
    if (!steps.isUndefined() && !steps.isArray())
        return unexpected(ErrorCode::Validation, u"body.steps: expected an array"_s);
    const QJsonArray arr = steps.toArray();
    if (arr.size() > 256)
        return unexpected(ErrorCode::Validation, u"body.steps: more than 256 steps"_s);
    for (qsizetype i = 0; i < arr.size(); ++i) {
        if (!arr.at(i).isObject())
            return unexpected(ErrorCode::Validation, u"body.steps[%1]: expected an object"_s.arg(i));
        const QByteArray ctx = "body.steps[" + QByteArray::number(i) + ']';
        SPARKY_TRY(step, StepResult::fromJson(arr.at(i).toObject(), QLatin1StringView(ctx)));
        r.steps.append(*step);
    }
    SPARKY_TRY(failedStep, j::optionalString(b, "failed_step"_L1, "body"_L1, 256));
    r.failedStep = optString(failedStep);
    SPARKY_TRY(error, j::optionalString(b, "error"_L1, "body"_L1, 16384));
    r.error = optString(error);
    if (b.contains("stats"_L1)) {
        if (!b.value("stats"_L1).isObject())
            return unexpected(ErrorCode::Validation, u"body.stats: expected an object"_s);
        SPARKY_TRY(stats, RunStats::fromJson(b.value("stats"_L1).toObject()));
        r.stats = *stats;
    }
    SPARKY_TRY(tail, j::optionalString(b, "log_tail"_L1, "body"_L1, kMaxLogTail));
    r.logTail = optString(tail);
    if (b.contains("details"_L1)) {
        if (!b.value("details"_L1).isObject())
            return unexpected(ErrorCode::Validation, u"body.details: expected an object"_s);
        r.details = b.value("details"_L1).toObject();
    }
    return r;
}

QString CommandUpdate::stateName(State s)
{
    switch (s) {
    case State::Received: return u"received"_s;
    case State::Rejected: return u"rejected"_s;
    case State::Running: return u"running"_s;
    case State::Succeeded: return u"succeeded"_s;
    case State::Failed: return u"failed"_s;
    case State::Expired: return u"expired"_s;
    }
    return u"failed"_s;
}

std::optional<CommandUpdate::State> CommandUpdate::stateFromName(QStringView n)
{
    if (n == u"received") return State::Received;
    if (n == u"rejected") return State::Rejected;
    if (n == u"running") return State::Running;
    if (n == u"succeeded") return State::Succeeded;
    if (n == u"failed") return State::Failed;
    if (n == u"expired") return State::Expired;
    return std::nullopt;
}

QJsonObject CommandUpdate::toJson() const
{
    QJsonObject o{{u"command_id"_s, commandId}, {u"command_type"_s, commandType},
                  {u"state"_s, stateName(state)}};
    putString(o, "error"_L1, error);
    putString(o, "run_id"_L1, runId);
    if (!result.isEmpty())
        o.insert(u"result"_s, result);
    return o;
}

Expected<CommandUpdate> CommandUpdate::fromJson(const QJsonObject &b)
{
    CommandUpdate u;
    SPARKY_TRY(id, j::requireString(b, "command_id"_L1, "body"_L1, 64));
    u.commandId = *id;
    SPARKY_TRY(type, j::requireString(b, "command_type"_L1, "body"_L1, 64));
    u.commandType = *type;
    SPARKY_TRY(stateText, j::requireString(b, "state"_L1, "body"_L1, 32));
    auto state = stateFromName(*stateText);
    if (!state)
        return unexpected(ErrorCode::Validation, u"body.state: unknown command state '%1'"_s.arg(*stateText));
    u.state = *state;
    SPARKY_TRY(error, j::optionalString(b, "error"_L1, "body"_L1, 16384));
    u.error = optString(error);
    SPARKY_TRY(run, j::optionalString(b, "run_id"_L1, "body"_L1, 64));
    u.runId = optString(run);
    if (b.contains("result"_L1)) {
        if (!b.value("result"_L1).isObject())
            return unexpected(ErrorCode::Validation, u"body.result: expected an object"_s);
        u.result = b.value("result"_L1).toObject();
    }
    return u;
}

Result validateEventBody(const Envelope &e)
{
    auto check = [](const auto &parsed) -> Result {
        if (!parsed)
            return parsed.error();
        return {};
    };
    if (e.type == type::AgentHello || e.type == type::ConfigApplied)
        return check(AgentHello::fromJson(e.body));
    if (e.type == type::AgentHeartbeat)
        return check(AgentHeartbeat::fromJson(e.body));
    if (e.type == type::RunStarted)
        return check(RunStarted::fromJson(e.body));
    if (e.type == type::RunProgress)
        return check(RunProgress::fromJson(e.body));
    if (e.type == type::RunFinished)
        return check(RunFinished::fromJson(e.body));
    if (e.type == type::CommandUpdate)
        return check(CommandUpdate::fromJson(e.body));
    if (e.type == type::ConfigRejected)
        return check(j::requireString(e.body, "error"_L1));
    return unexpected(ErrorCode::Validation, u"unknown event type '%1'"_s.arg(e.type));
}

#undef SPARKY_TRY

} // namespace sparky::protocol
