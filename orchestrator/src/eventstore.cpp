#include "eventstore.h"

#include "orchestratorlogging.h"
#include "sparky/jsonfields.h"

#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

constexpr int kIdsPerStatement = 250; // (id, received_at) pairs per INSERT … RETURNING

qint64 ms(const QDateTime &t)
{
    return t.isValid() ? t.toMSecsSinceEpoch() : 0;
}

QVariant msOrNull(const QDateTime &t)
{
    return t.isValid() ? QVariant(t.toMSecsSinceEpoch()) : sqlNull();
}

QVariant textOrNull(const QString &s)
{
    return s.isEmpty() ? QVariant(QMetaType::fromType<QString>()) : QVariant(s);
}

// The first bytes of a refused message as text an operator can read (and every SQL engine
// can store: no NUL or other control characters).
QString printableExcerpt(const QByteArray &bytes)
{
    QString text = QString::fromUtf8(bytes.left(512));
    for (QChar &c : text) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f || c.isSurrogate()
            || c == QChar::ReplacementCharacter)
            c = u'?';
    }
    return text;
}

QString runKey(const QString &node, const QString &runId)
{
    return node + u':' + runId;
}

int commandRank(proto::CommandUpdate::State s)
{
    switch (s) {
    case proto::CommandUpdate::State::Received:
        return 2;
    case proto::CommandUpdate::State::Running:
        return 3;
    case proto::CommandUpdate::State::Rejected:
    case proto::CommandUpdate::State::Succeeded:
    case proto::CommandUpdate::State::Failed:
    case proto::CommandUpdate::State::Expired:
        return 4;
    }
    return 4;
}

template<typename T>
Expected<IncomingEvent> wrap(Envelope env, const Expected<T> &parsed, bool configApplied = false)
{
    if (!parsed)
        return parsed.error();
    IncomingEvent e;
    e.envelope = std::move(env);
    e.body = *parsed;
    e.configApplied = configApplied;
    return e;
}

} // namespace

Expected<IncomingEvent> decodeEvent(Envelope env)
{
    // The typed parsers are exactly what protocol::validateEventBody() runs for these
    // types; parsing once keeps ingestion cheap. Everything else goes through it.
    const QString &t = env.type;
    if (t == proto::type::AgentHello)
        return wrap(env, proto::AgentHello::fromJson(env.body));
    if (t == proto::type::ConfigApplied)
        return wrap(env, proto::AgentHello::fromJson(env.body), true);
    if (t == proto::type::AgentHeartbeat)
        return wrap(env, proto::AgentHeartbeat::fromJson(env.body));
    if (t == proto::type::RunStarted)
        return wrap(env, proto::RunStarted::fromJson(env.body));
    if (t == proto::type::RunProgress)
        return wrap(env, proto::RunProgress::fromJson(env.body));
    if (t == proto::type::RunFinished)
        return wrap(env, proto::RunFinished::fromJson(env.body));
    if (t == proto::type::CommandUpdate)
        return wrap(env, proto::CommandUpdate::fromJson(env.body));
    if (t == proto::type::ConfigRejected) {
        if (auto ok = proto::validateEventBody(env); !ok)
            return ok.error();
        IncomingEvent e;
        e.body = ConfigRejectedBody { env.body.value("error"_L1).toString() };
        e.envelope = std::move(env);
        return e;
    }
    if (auto ok = proto::validateEventBody(env); !ok)
        return ok.error();
    return unexpected(ErrorCode::Validation, u"unknown event type '%1'"_s.arg(t));
}

EventStore::EventStore(Database &database)
    : m_db(database)
{ }

Expected<BatchOutcome> EventStore::applyBatch(
    const QList<IncomingEvent> &events, const QList<RejectedEvent> &rejected, const QDateTime &now)
{
    BatchOutcome outcome;
    const qint64 nowMs = now.toMSecsSinceEpoch();
    m_touchedJobs.clear();
    if (auto ok = m_db.begin(); !ok)
        return ok.error();
    auto fail = [this](const Error &e) -> Expected<BatchOutcome> {
        m_db.rollback();
        return e;
    };

    // Within the batch, the first copy of an id wins; later copies are duplicates.
    QList<const IncomingEvent *> unique;
    unique.reserve(events.size());
    {
        QSet<QString> inBatch;
        for (const IncomingEvent &e : events) {
            if (inBatch.contains(e.envelope.id)) {
                ++outcome.duplicates;
                continue;
            }
            inBatch.insert(e.envelope.id);
            unique.append(&e);
        }
    }
    auto fresh = claimIds(unique, nowMs);
    if (!fresh)
        return fail(fresh.error());

    // Run events are idempotent "latest wins" writes: keep the newest of each type per run
    // in this batch and write each type with multi-row statements (a few statements per
    // batch instead of one per event — what makes PostgreSQL keep up).
    auto runEventKey = [](const IncomingEvent &e) -> QString {
        if (const auto *p = std::get_if<proto::RunProgress>(&e.body))
            return u"p\n"_s + runKey(e.envelope.node, p->runId);
        if (const auto *st = std::get_if<proto::RunStarted>(&e.body))
            return u"s\n"_s + runKey(e.envelope.node, st->runId);
        if (const auto *f = std::get_if<proto::RunFinished>(&e.body))
            return u"f\n"_s + runKey(e.envelope.node, f->runId);
        return {};
    };
    QHash<QString, const IncomingEvent *> latestRun;
    for (const IncomingEvent *e : std::as_const(unique)) {
        if (!fresh->contains(e->envelope.id))
            continue;
        const QString key = runEventKey(*e);
        if (key.isEmpty())
            continue;
        const IncomingEvent *&slot = latestRun[key];
        if (!slot || slot->envelope.ts <= e->envelope.ts)
            slot = e;
    }

    QList<const IncomingEvent *> started, progress, finished;
    QHash<QString, qint64> seen; // node → newest event time (never in the future)
    for (const IncomingEvent *e : std::as_const(unique)) {
        if (!fresh->contains(e->envelope.id)) {
            ++outcome.duplicates;
            continue;
        }
        ++outcome.stored;
        const qint64 t = std::min(ms(e->envelope.ts), nowMs);
        qint64 &slot = seen[e->envelope.node];
        slot = std::max(slot, t);
        if (const QString key = runEventKey(*e); !key.isEmpty()) {
            if (latestRun.value(key) != e)
                continue;
            (key.startsWith(u's') ? started : key.startsWith(u'p') ? progress : finished).append(e);
            continue;
        }
        if (auto ok = apply(*e, nowMs, outcome); !ok)
            return fail(ok.error().wrapped(u"event %1 (%2 from %3)"_s.arg(
                e->envelope.id, e->envelope.type, e->envelope.node)));
    }
    if (auto ok = applyRuns(started, progress, finished, nowMs); !ok)
        return fail(ok.error());
    outcome.runsFinished = outcome.runsFinished || !finished.isEmpty();
    for (auto it = seen.constBegin(); it != seen.constEnd(); ++it) {
        if (auto ok = touchNode(it.key(), it.value(), nowMs); !ok)
            return fail(ok.error());
        outcome.nodes.insert(it.key());
    }
    for (const RejectedEvent &r : rejected) {
        if (auto ok = recordRejected(r); !ok)
            return fail(ok.error());
    }
    if (auto ok = m_db.commit(); !ok)
        return ok.error();
    return outcome;
}

Expected<QSet<QString>> EventStore::claimIds(
    const QList<const IncomingEvent *> &events, qint64 nowMs)
{
    QSet<QString> fresh;
    for (qsizetype start = 0; start < events.size(); start += kIdsPerStatement) {
        const qsizetype n = std::min<qsizetype>(kIdsPerStatement, events.size() - start);
        QString sql = u"INSERT INTO message_ids (id, received_at) VALUES "_s;
        QVariantList values;
        values.reserve(n * 2);
        for (qsizetype i = 0; i < n; ++i) {
            sql += i == 0 ? u"(?, ?)"_s : u", (?, ?)"_s;
            values << events.at(start + i)->envelope.id << nowMs;
        }
        sql += u" ON CONFLICT (id) DO NOTHING RETURNING id"_s;
        auto q = m_db.run(sql, values);
        if (!q)
            return q.error().wrapped(u"recording message ids"_s);
        while ((*q)->next())
            fresh.insert((*q)->value(0).toString());
        (*q)->finish();
    }
    return fresh;
}

Result EventStore::apply(const IncomingEvent &e, qint64 nowMs, BatchOutcome &outcome)
{
    const QString &node = e.envelope.node;
    const qint64 ts = std::min(ms(e.envelope.ts), nowMs);
    return std::visit(
        [&](const auto &body) -> Result {
            using T = std::decay_t<decltype(body)>;
            if constexpr (std::is_same_v<T, proto::AgentHello>) {
                return applyHello(node, body, ts, nowMs, e.configApplied);
            } else if constexpr (std::is_same_v<T, proto::AgentHeartbeat>) {
                return applyHeartbeat(node, body, ts);
            } else if constexpr (
                std::is_same_v<T,
                    proto::
                        RunStarted> || std::is_same_v<T, proto::RunProgress> || std::is_same_v<T, proto::RunFinished>) {
                Q_UNUSED(body);
                return unexpected(ErrorCode::Internal, u"run events are written by applyRuns()"_s);
            } else if constexpr (std::is_same_v<T, proto::CommandUpdate>) {
                outcome.commandsChanged = true;
                return applyCommandUpdate(node, body, ts, nowMs);
            } else {
                static_assert(std::is_same_v<T, ConfigRejectedBody>);
                if (auto ok = touchNode(node, ts, nowMs); !ok)
                    return ok;
                auto q = m_db.run(
                    u"UPDATE nodes SET config_state = 'rejected', config_error = ?, config_at = ?"
                    " WHERE node = ? AND (config_at IS NULL OR config_at <= ?)"_s,
                    { body.error.left(4096), ts, node, ts });
                if (!q)
                    return q.error();
                return {};
            }
        },
        e.body);
}

Result EventStore::touchNode(const QString &node, qint64 seenMs, qint64 nowMs)
{
    auto q = m_db.run(u"INSERT INTO nodes (node, first_seen, last_seen, state, state_changed_at)"
                      " VALUES (?, ?, ?, 'online', ?)"
                      " ON CONFLICT (node) DO UPDATE SET last_seen = excluded.last_seen"
                      " WHERE nodes.last_seen < excluded.last_seen"_s,
        { node, nowMs, seenMs, nowMs });
    if (!q)
        return q.error().wrapped(u"updating node %1"_s.arg(node));
    return {};
}

Result EventStore::touchJob(
    const QString &node, const QString &job, const QString &repository, qint64 nowMs)
{
    // Once per (node, job) and batch is enough: it only makes sure the row exists.
    const QString key = node + u'\n' + job;
    if (m_touchedJobs.contains(key))
        return {};
    m_touchedJobs.insert(key);
    auto q = m_db.run(u"INSERT INTO jobs (node, job, repository, first_seen, updated_at)"
                      " VALUES (?, ?, ?, ?, ?) ON CONFLICT (node, job) DO NOTHING"_s,
        { node, job, textOrNull(repository), nowMs, nowMs });
    if (!q)
        return q.error();
    return {};
}

Result EventStore::applyHello(
    const QString &node, const proto::AgentHello &h, qint64 ts, qint64 nowMs, bool configApplied)
{
    if (auto ok = touchNode(node, ts, nowMs); !ok)
        return ok;
    auto q
        = m_db.run(u"UPDATE nodes SET hostname = ?, version = ?, config_digest = ?, started_at = ?,"
                   " hello_at = ? WHERE node = ? AND (hello_at IS NULL OR hello_at <= ?)"_s,
            { textOrNull(h.hostname), h.version, textOrNull(h.configDigest), msOrNull(h.startedAt),
                ts, node, ts });
    if (!q)
        return q.error();
    if (configApplied) {
        auto c = m_db.run(
            u"UPDATE nodes SET config_state = 'applied', config_error = NULL, config_at = ?"
            " WHERE node = ? AND (config_at IS NULL OR config_at <= ?)"_s,
            { ts, node, ts });
        if (!c)
            return c.error();
    }
    QStringList listed;
    for (const proto::JobInfo &j : h.jobs) {
        listed.append(j.name);
        auto u = m_db.run(
            u"INSERT INTO jobs (node, job, repository, schedule, rpo_seconds, active, info_at,"
            " first_seen, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)"
            " ON CONFLICT (node, job) DO UPDATE SET repository = excluded.repository,"
            " schedule = excluded.schedule, rpo_seconds = excluded.rpo_seconds, active = 1,"
            " info_at = excluded.info_at, updated_at = excluded.updated_at"
            " WHERE jobs.info_at IS NULL OR jobs.info_at <= excluded.info_at"_s,
            { node, j.name, textOrNull(j.repository), textOrNull(j.schedule), j.rpoSeconds, ts,
                nowMs, nowMs });
        if (!u)
            return u.error();
        if (!j.repository.isEmpty()) {
            auto r = m_db.run(
                u"INSERT INTO repositories (node, repository, first_seen) VALUES (?, ?, ?)"
                " ON CONFLICT (node, repository) DO NOTHING"_s,
                { node, j.repository, nowMs });
            if (!r)
                return r.error();
        }
    }
    // Jobs the node no longer configures leave the status reports (their runs stay).
    QString retire
        = u"UPDATE jobs SET active = 0, info_at = ?, updated_at = ? WHERE node = ? AND active = 1"
          " AND (info_at IS NULL OR info_at < ?)"_s;
    QVariantList values { ts, nowMs, node, ts };
    if (!listed.isEmpty()) {
        retire += u" AND job NOT IN (?"_s + u", ?"_s.repeated(listed.size() - 1) + u')';
        for (const QString &name : std::as_const(listed))
            values.append(name);
    }
    if (auto r = m_db.exec(retire, values); !r)
        return r.error();
    return {};
}

Result EventStore::applyHeartbeat(const QString &node, const proto::AgentHeartbeat &h, qint64 ts)
{
    // touchNode runs for every event of the batch afterwards; the row may not exist yet.
    auto q = m_db.run(
        u"INSERT INTO nodes (node, first_seen, last_seen, version, config_digest,"
        " heartbeat_at, outbox_messages, running_runs, uptime_seconds)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node) DO UPDATE SET"
        " version = excluded.version, config_digest = excluded.config_digest,"
        " heartbeat_at = excluded.heartbeat_at, outbox_messages = excluded.outbox_messages,"
        " running_runs = excluded.running_runs, uptime_seconds = excluded.uptime_seconds"
        " WHERE nodes.heartbeat_at IS NULL OR nodes.heartbeat_at <= excluded.heartbeat_at"_s,
        { node, ts, ts, h.version, textOrNull(h.configDigest), ts, h.outboxMessages,
            json::compactText(QJsonArray::fromStringList(h.runningRuns)), h.uptimeSeconds });
    if (!q)
        return q.error();
    return {};
}

namespace {

constexpr int kRowsPerStatement = 100;

// "INSERT INTO runs (cols) VALUES (?, …), (?, …) <tail>" for `rows` rows.
QString multiRow(const QString &head, int columns, qsizetype rows, const QString &tail)
{
    QString one = u"("_s;
    for (int c = 0; c < columns; ++c)
        one += c ? u", ?"_s : u"?"_s;
    one += u')';
    QString sql = head + u" VALUES "_s;
    for (qsizetype r = 0; r < rows; ++r)
        sql += r ? u", "_s + one : one;
    return sql + u' ' + tail;
}

} // namespace

Result EventStore::writeRows(
    const QString &head, int columns, const QString &tail, const QList<QVariantList> &rows)
{
    for (qsizetype start = 0; start < rows.size(); start += kRowsPerStatement) {
        const qsizetype n = std::min<qsizetype>(kRowsPerStatement, rows.size() - start);
        QVariantList values;
        values.reserve(n * columns);
        for (qsizetype i = 0; i < n; ++i)
            values += rows.at(start + i);
        auto q = m_db.run(multiRow(head, columns, n, tail), values);
        if (!q)
            return q.error();
    }
    return {};
}

Result EventStore::applyRuns(const QList<const IncomingEvent *> &started,
    const QList<const IncomingEvent *> &progress, const QList<const IncomingEvent *> &finished,
    qint64 nowMs)
{
    for (const IncomingEvent *e : started) {
        const auto &r = std::get<proto::RunStarted>(e->body);
        if (auto ok = touchJob(e->envelope.node, r.job, r.repository, nowMs); !ok)
            return ok;
    }
    for (const IncomingEvent *e : finished) {
        const auto &r = std::get<proto::RunFinished>(e->body);
        if (auto ok = touchJob(e->envelope.node, r.job, r.repository, nowMs); !ok)
            return ok;
    }

    // run.started: a run that already finished keeps its final state.
    QList<QVariantList> rows;
    for (const IncomingEvent *e : started) {
        const QString &node = e->envelope.node;
        const auto &r = std::get<proto::RunStarted>(e->body);
        rows.append({ runKey(node, r.runId), node, r.runId, r.job, proto::runKindName(r.kind),
            textOrNull(r.trigger), textOrNull(r.commandId), textOrNull(r.repository), u"running"_s,
            ms(r.startedAt), nowMs });
    }
    if (auto ok = writeRows(
            u"INSERT INTO runs (id, node, run_id, job, kind, run_trigger, command_id, repository,"
            " status, started_at, updated_at)"_s,
            11,
            u"ON CONFLICT (id) DO UPDATE SET job = excluded.job, kind = excluded.kind,"
            " run_trigger = excluded.run_trigger, command_id = excluded.command_id,"
            " repository = excluded.repository, started_at = excluded.started_at,"
            " updated_at = excluded.updated_at WHERE runs.status = 'running'"_s,
            rows);
        !ok)
        return ok.error().wrapped(u"storing run.started"_s);

    // run.progress before run.started creates the row (kind and start fixed by run.started);
    // only newer progress replaces older, and never on a finished run.
    rows.clear();
    for (const IncomingEvent *e : progress) {
        const QString &node = e->envelope.node;
        const auto &p = std::get<proto::RunProgress>(e->body);
        const qint64 ts = std::min(ms(e->envelope.ts), nowMs);
        QJsonObject body { { u"step"_s, p.step }, { u"original_size"_s, p.originalSize },
            { u"compressed_size"_s, p.compressedSize },
            { u"deduplicated_size"_s, p.deduplicatedSize }, { u"files"_s, p.files } };
        if (!p.currentPath.isEmpty())
            body.insert(u"current_path"_s, p.currentPath);
        rows.append({ runKey(node, p.runId), node, p.runId, p.job, u"backup"_s, u"running"_s, ts,
            json::compactText(body), ts, nowMs });
    }
    if (auto ok
        = writeRows(u"INSERT INTO runs (id, node, run_id, job, kind, status, started_at, progress,"
                    " progress_at, updated_at)"_s,
            10,
            u"ON CONFLICT (id) DO UPDATE SET progress = excluded.progress,"
            " progress_at = excluded.progress_at, updated_at = excluded.updated_at"
            " WHERE runs.status = 'running' AND (runs.progress_at IS NULL"
            " OR runs.progress_at <= excluded.progress_at)"_s,
            rows);
        !ok)
        return ok.error().wrapped(u"storing run.progress"_s);

    // run.finished is final whatever came before.
    rows.clear();
    struct RepoMark
    {
        qint64 backupAt = 0;
        qint64 checkAt = 0;
        QString checkStatus;
    };
    QHash<std::pair<QString, QString>, RepoMark> repos;
    for (const IncomingEvent *e : finished) {
        const QString &node = e->envelope.node;
        const auto &r = std::get<proto::RunFinished>(e->body);
        QJsonArray steps;
        for (const proto::StepResult &st : r.steps)
            steps.append(st.toJson());
        const proto::RunStats stats = r.stats.value_or(proto::RunStats {});
        const bool hasStats = r.stats.has_value();
        auto statOrNull = [hasStats](qint64 v) { return hasStats ? QVariant(v) : sqlNull(); };
        const qint64 startedAt = ms(r.startedAt);
        const qint64 finishedAt = ms(r.finishedAt);
        rows.append({ runKey(node, r.runId), node, r.runId, r.job, proto::runKindName(r.kind),
            textOrNull(r.trigger), textOrNull(r.commandId), textOrNull(r.repository),
            proto::statusName(r.status), proto::severity(r.status), startedAt, finishedAt,
            // The run's wall time (hooks, dumps, prune, compact and waiting for the repository
            // included): what an operator plans around. borg's own create time stays in steps.
            r.startedAt.isValid() && r.finishedAt.isValid() ? finishedAt - startedAt
                : hasStats                                   ? qint64(stats.durationSeconds * 1000)
                                                             : qint64(0),
            statOrNull(stats.originalSize), statOrNull(stats.compressedSize),
            statOrNull(stats.deduplicatedSize), statOrNull(stats.files),
            textOrNull(stats.archiveName), textOrNull(stats.archiveId), textOrNull(r.failedStep),
            textOrNull(r.error), textOrNull(r.logTail.right(proto::kMaxLogTail)), json::compactText(steps),
            r.details.isEmpty() ? QVariant(QMetaType::fromType<QString>())
                                : QVariant(json::compactText(r.details)),
            nowMs });
        if (!r.repository.isEmpty()) {
            RepoMark &mark = repos[{ node, r.repository }];
            const bool good
                = r.status == proto::Status::Success || r.status == proto::Status::Warning;
            if (r.kind == proto::RunKind::Backup && good)
                mark.backupAt = std::max(mark.backupAt, finishedAt);
            if (r.kind == proto::RunKind::Check && finishedAt > mark.checkAt) {
                mark.checkAt = finishedAt;
                mark.checkStatus = proto::statusName(r.status);
            }
        }
    }
    if (auto ok = writeRows(
            u"INSERT INTO runs (id, node, run_id, job, kind, run_trigger, command_id, repository, "
            u"status,"
            " severity, started_at, finished_at, duration_ms, original_size, compressed_size,"
            " deduplicated_size, files, archive_name, archive_id, failed_step, error, log_tail, "
            "steps,"
            " details, updated_at)"_s,
            25,
            u"ON CONFLICT (id) DO UPDATE SET job = excluded.job, kind = excluded.kind,"
            " run_trigger = excluded.run_trigger, command_id = excluded.command_id,"
            " repository = excluded.repository, status = excluded.status, severity = "
            "excluded.severity,"
            " started_at = excluded.started_at, finished_at = excluded.finished_at,"
            " duration_ms = excluded.duration_ms, original_size = excluded.original_size,"
            " compressed_size = excluded.compressed_size, deduplicated_size = "
            "excluded.deduplicated_size,"
            " files = excluded.files, archive_name = excluded.archive_name, archive_id = "
            "excluded.archive_id,"
            " failed_step = excluded.failed_step, error = excluded.error, log_tail = "
            "excluded.log_tail,"
            " steps = excluded.steps, details = excluded.details, updated_at = excluded.updated_at"_s,
            rows);
        !ok)
        return ok.error().wrapped(u"storing run.finished"_s);

    for (auto it = repos.constBegin(); it != repos.constEnd(); ++it) {
        const auto &[node, repository] = it.key();
        if (it->backupAt > 0) {
            auto u = m_db.run(
                u"INSERT INTO repositories (node, repository, first_seen, last_backup_at) VALUES "
                u"(?, ?, ?, ?)"
                " ON CONFLICT (node, repository) DO UPDATE SET last_backup_at = "
                "excluded.last_backup_at"
                " WHERE repositories.last_backup_at IS NULL OR repositories.last_backup_at < excluded.last_backup_at"_s,
                { node, repository, nowMs, it->backupAt });
            if (!u)
                return u.error();
        }
        if (it->checkAt > 0) {
            auto u = m_db.run(
                u"INSERT INTO repositories (node, repository, first_seen, last_check_at, "
                u"last_check_status)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (node, repository) DO UPDATE SET"
                " last_check_at = excluded.last_check_at, last_check_status = "
                "excluded.last_check_status"
                " WHERE repositories.last_check_at IS NULL OR repositories.last_check_at < excluded.last_check_at"_s,
                { node, repository, nowMs, it->checkAt, it->checkStatus });
            if (!u)
                return u.error();
        }
    }
    return {};
}

Result EventStore::applyCommandUpdate(
    const QString &node, const proto::CommandUpdate &u, qint64 ts, qint64 nowMs)
{
    using State = proto::CommandUpdate::State;
    State state = u.state;
    QString error = u.error;
    QVariant result = QVariant(QMetaType::fromType<QString>());
    if (!u.result.isEmpty()) {
        const QByteArray text = QJsonDocument(u.result).toJson(QJsonDocument::Compact);
        if (text.size() > kMaxCommandResultBytes) {
            qCWarning(lcIngest).noquote()
                << "command" << u.commandId << "of" << node << ": result of" << text.size()
                << "bytes dropped (limit" << kMaxCommandResultBytes << ")";
            state = State::Failed;
            error = u"the agent's result (%1 bytes) is larger than the orchestrator keeps (%2 "
                    "bytes); ask for less (a smaller page)"_s.arg(text.size())
                        .arg(kMaxCommandResultBytes);
        } else {
            result = QString::fromUtf8(text);
        }
    }
    const int rank = commandRank(state);
    QString column;
    switch (state) {
    case State::Received:
        column = u"received_at"_s;
        break;
    case State::Running:
        column = u"running_at"_s;
        break;
    default:
        column = u"finished_at"_s;
        break;
    }
    // The agent is the authority on its commands: its report also replaces an 'expired'
    // the orchestrator inferred on its own.
    auto q = m_db.run(u"UPDATE commands SET state = ?, state_rank = ?, "_s + column
            + u" = ?, run_id = COALESCE(?, run_id), result = COALESCE(?, result),"
              " error = COALESCE(?, error), updated_at = ?"
              " WHERE id = ? AND node = ? AND (state_rank < ? OR state = 'expired')"_s,
        { proto::CommandUpdate::stateName(state), rank, ts, textOrNull(u.runId), result,
            textOrNull(error), nowMs, u.commandId, node, rank });
    if (!q)
        return q.error();
    if ((*q)->numRowsAffected() == 0)
        qCDebug(lcIngest).noquote() << "command.update for" << u.commandId << "from" << node
                                    << "changed nothing (unknown command or older state)";
    return {};
}

Result EventStore::recordRejected(const RejectedEvent &r)
{
    // The id is the message id when the sender gave one; otherwise a fresh one.
    const QString id = !r.messageId.isEmpty() && isValidMessageId(r.messageId)
        ? r.userId + u'/' + r.messageId
        : newMessageId();
    auto q = m_db.run(u"INSERT INTO rejected_messages (id, ts, user_id, routing_key, message_id, "
                      u"type, reason, excerpt)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"_s,
        { id.left(200), ms(r.at), textOrNull(r.userId.left(128)),
            textOrNull(r.routingKey.left(256)), textOrNull(r.messageId.left(128)),
            textOrNull(r.type.left(64)), r.reason.left(2048),
            textOrNull(printableExcerpt(r.excerpt)) });
    if (!q)
        return q.error().wrapped(u"recording a rejected message"_s);
    return {};
}

} // namespace sparky::orchestrator
