#include "eventstore.h"

#include "orchestratorlogging.h"
#include "sparky/jsonfields.h"

#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <charconv>
#include <optional>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

// The rows of one multi-row INSERT as a single bound text: a JSON object whose keys are the
// rows' primary keys (unique within the object: jsonb keeps only the last of duplicate keys)
// and whose values are arrays of the other columns, read back by a JsonInsert. One value
// instead of one QVariant per column and row (Qt Sql's per-value binding was most of the
// ingest writer's CPU), and nearly the same statement on both stores: json_each()/jsonb_each()
// over an object and `->>` with an array index mean the same in SQLite (3.38 or later) and
// PostgreSQL.
class JsonRows
{
public:
    qsizetype size() const { return m_rows; }

    JsonRows &row(QStringView key)
    {
        m_text += m_rows++ ? u"],\""_s : u"{\""_s;
        escaped(key);
        m_text += u"\":["_s;
        m_first = true;
        return *this;
    }
    JsonRows &text(QStringView s)
    {
        separator();
        m_text += u'"';
        escaped(s);
        m_text += u'"';
        return *this;
    }
    JsonRows &textOrNull(QStringView s) { return s.isEmpty() ? null() : text(s); }
    JsonRows &integer(qint64 v)
    {
        separator();
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
        m_text += QLatin1StringView(digits, end - digits);
        return *this;
    }
    JsonRows &integerOrNull(std::optional<qint64> v) { return v ? integer(*v) : null(); }
    JsonRows &null()
    {
        separator();
        m_text += u"null"_s;
        return *this;
    }
    // The JSON text; the builder is empty again afterwards.
    QString take()
    {
        m_text += m_rows ? u"]}"_s : u"{}"_s;
        m_rows = 0;
        return std::exchange(m_text, {});
    }

private:
    void separator()
    {
        if (!m_first)
            m_text += u',';
        m_first = false;
    }
    void escaped(QStringView s)
    {
        qsizetype from = 0;
        for (qsizetype i = 0; i < s.size(); ++i) {
            const char16_t c = s[i].unicode();
            if (c >= 0x20 && c != u'"' && c != u'\\')
                continue;
            m_text += s.sliced(from, i - from);
            if (c == u'"' || c == u'\\') {
                m_text += u'\\';
                m_text += QChar(c);
            } else if (c == 0) {
                m_text += QChar::ReplacementCharacter; // as Database::run stores it
            } else {
                static constexpr char16_t hex[] = u"0123456789abcdef";
                const char16_t esc[] = { u'\\', u'u', u'0', u'0', hex[c >> 4], hex[c & 0xf] };
                m_text += QStringView(esc, 6);
            }
            from = i + 1;
        }
        m_text += s.sliced(from);
    }

    QString m_text;
    qsizetype m_rows = 0;
    bool m_first = true;
};

// "WITH r(k, v) AS (SELECT key, value FROM json_each(?)) <head> SELECT k, v->>0,
// CAST(v->>1 AS BIGINT), … FROM r WHERE true <tail>" for the columns after the key: one
// letter each in `kinds`, t(ext) or i(nteger). (`WHERE true` tells SQLite's parser that ON
// CONFLICT belongs to the INSERT.) The engines differ only in how the rows are read:
//  - SQLite (3.40 has no jsonb): the CTE is MATERIALIZED, so each row's array is rendered
//    once and its `->>`s share one parse; read straight from json_each, every `->>` renders
//    and parses the row again (twice the CPU of the whole insert).
//  - PostgreSQL: jsonb_each(CAST(? AS jsonb)) parses the text once, and `->>` on jsonb
//    indexes the array; on json it would lex the row text again for every column.
class JsonInsert
{
public:
    JsonInsert(QStringView head, QLatin1StringView kinds, QStringView tail)
    {
        Q_ASSERT_X(head.count(u',') == kinds.size(), "JsonInsert", "one kind per column");
        QString select = head + u" SELECT k"_s;
        for (qsizetype i = 0; i < kinds.size(); ++i) {
            const QString element = u"v->>"_s + QString::number(i);
            if (kinds.at(i) == 'i'_L1)
                select += u", CAST("_s + element + u" AS BIGINT)"_s;
            else
                select += u", "_s + element;
        }
        select += u" FROM r WHERE true "_s + tail;
        m_sqlite = u"WITH r(k, v) AS MATERIALIZED (SELECT key, value FROM json_each(?)) "_s
            + select;
        m_postgres
            = u"WITH r(k, v) AS (SELECT key, value FROM jsonb_each(CAST(? AS jsonb))) "_s + select;
    }
    const QString &sql(Database::Dialect dialect) const
    {
        return dialect == Database::Dialect::Postgres ? m_postgres : m_sqlite;
    }

private:
    QString m_sqlite;
    QString m_postgres;
};

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

// A runs row's key and the columns run.started and run.finished both set: node, run_id, job,
// kind, run_trigger, command_id, repository.
template<typename Run>
JsonRows &runRow(JsonRows &rows, const QString &node, const Run &r)
{
    return rows.row(runKey(node, r.runId))
        .text(node)
        .text(r.runId)
        .text(r.job)
        .text(proto::runKindName(r.kind))
        .textOrNull(r.trigger)
        .textOrNull(r.commandId)
        .textOrNull(r.repository);
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

    // A run whose run.finished is in this batch needs neither its run.started nor its
    // run.progress written first: run.finished sets every column run.started sets, and
    // carries the newest progress along (one row written instead of three — what a backlog
    // after an outage is mostly made of). The stored row is the same either way.
    QList<const IncomingEvent *> started, progress, finished;
    QHash<QString, const IncomingEvent *> progressOfFinished; // run key → run.progress
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
            if (key.startsWith(u'f')) {
                finished.append(e);
            } else if (latestRun.contains(u"f"_s + QStringView(key).sliced(1))) {
                if (key.startsWith(u'p'))
                    progressOfFinished.insert(key.sliced(2), e);
            } else {
                (key.startsWith(u's') ? started : progress).append(e);
            }
            continue;
        }
        if (auto ok = apply(*e, nowMs, outcome); !ok)
            return fail(ok.error().wrapped(u"event %1 (%2 from %3)"_s.arg(
                e->envelope.id, e->envelope.type, e->envelope.node)));
    }
    if (auto ok = applyRuns(started, progress, finished, progressOfFinished, nowMs); !ok)
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
    if (events.isEmpty())
        return fresh;
    static const JsonInsert insert(u"INSERT INTO message_ids (id, received_at)", "i"_L1,
        u"ON CONFLICT (id) DO NOTHING RETURNING id");
    JsonRows ids;
    for (const IncomingEvent *e : events)
        ids.row(e->envelope.id).integer(nowMs);
    auto q = m_db.run(insert.sql(m_db.dialect()), { ids.take() });
    if (!q)
        return q.error().wrapped(u"recording message ids"_s);
    fresh.reserve(events.size());
    while ((*q)->next())
        fresh.insert((*q)->value(0).toString());
    (*q)->finish();
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

Result EventStore::applyRuns(const QList<const IncomingEvent *> &started,
    const QList<const IncomingEvent *> &progress, const QList<const IncomingEvent *> &finished,
    const QHash<QString, const IncomingEvent *> &progressOfFinished, qint64 nowMs)
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
    auto write = [this](const JsonInsert &insert, JsonRows &rows) -> Result {
        if (rows.size() == 0)
            return {};
        auto q = m_db.run(insert.sql(m_db.dialect()), { rows.take() });
        if (!q)
            return q.error();
        return {};
    };
    JsonRows rows;

    // run.started: a run that already finished keeps its final state.
    static const JsonInsert startedSql(
        u"INSERT INTO runs (id, node, run_id, job, kind, run_trigger, command_id, repository,"
        " status, started_at, updated_at)",
        "ttttttttii"_L1,
        u"ON CONFLICT (id) DO UPDATE SET job = excluded.job, kind = excluded.kind,"
        " run_trigger = excluded.run_trigger, command_id = excluded.command_id,"
        " repository = excluded.repository, started_at = excluded.started_at,"
        " updated_at = excluded.updated_at WHERE runs.status = 'running'");
    for (const IncomingEvent *e : started) {
        const QString &node = e->envelope.node;
        const auto &r = std::get<proto::RunStarted>(e->body);
        runRow(rows, node, r)
            .text(u"running")
            .integer(ms(r.startedAt))
            .integer(nowMs);
    }
    if (auto ok = write(startedSql, rows); !ok)
        return ok.error().wrapped(u"storing run.started"_s);

    // run.progress before run.started creates the row (kind and start fixed by run.started);
    // only newer progress replaces older, and never on a finished run.
    static const JsonInsert progressSql(
        u"INSERT INTO runs (id, node, run_id, job, kind, status, started_at, progress,"
        " progress_at, updated_at)",
        "tttttitii"_L1,
        u"ON CONFLICT (id) DO UPDATE SET progress = excluded.progress,"
        " progress_at = excluded.progress_at, updated_at = excluded.updated_at"
        " WHERE runs.status = 'running' AND (runs.progress_at IS NULL"
        " OR runs.progress_at <= excluded.progress_at)");
    // The progress column and its time, as run.progress `e` sets them.
    auto progressOf = [nowMs](const IncomingEvent &e) {
        const auto &p = std::get<proto::RunProgress>(e.body);
        QJsonObject body { { u"step"_s, p.step }, { u"original_size"_s, p.originalSize },
            { u"compressed_size"_s, p.compressedSize },
            { u"deduplicated_size"_s, p.deduplicatedSize }, { u"files"_s, p.files } };
        if (!p.currentPath.isEmpty())
            body.insert(u"current_path"_s, p.currentPath);
        return std::pair { json::compactText(body), std::min(ms(e.envelope.ts), nowMs) };
    };
    for (const IncomingEvent *e : progress) {
        const QString &node = e->envelope.node;
        const auto &p = std::get<proto::RunProgress>(e->body);
        const auto [body, ts] = progressOf(*e);
        rows.row(runKey(node, p.runId))
            .text(node)
            .text(p.runId)
            .text(p.job)
            .text(u"backup")
            .text(u"running")
            .integer(ts)
            .text(body)
            .integer(ts)
            .integer(nowMs);
    }
    if (auto ok = write(progressSql, rows); !ok)
        return ok.error().wrapped(u"storing run.progress"_s);

    // run.finished is final whatever came before. The run's progress from this batch (see
    // applyBatch) follows run.progress's own rule: on a running row, never older over newer.
    static const QString progressApplies = u"runs.status = 'running'"
        " AND excluded.progress_at IS NOT NULL"
        " AND (runs.progress_at IS NULL OR runs.progress_at <= excluded.progress_at)"_s;
    static const QString finishedTail
        = u"ON CONFLICT (id) DO UPDATE SET job = excluded.job, kind = excluded.kind,"
          " run_trigger = excluded.run_trigger, command_id = excluded.command_id,"
          " repository = excluded.repository, status = excluded.status,"
          " severity = excluded.severity, started_at = excluded.started_at,"
          " finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,"
          " original_size = excluded.original_size, compressed_size = excluded.compressed_size,"
          " deduplicated_size = excluded.deduplicated_size, files = excluded.files,"
          " archive_name = excluded.archive_name, archive_id = excluded.archive_id,"
          " failed_step = excluded.failed_step, error = excluded.error,"
          " log_tail = excluded.log_tail, steps = excluded.steps, details = excluded.details,"
          " progress = CASE WHEN "_s
        + progressApplies + u" THEN excluded.progress ELSE runs.progress END,"
        + u" progress_at = CASE WHEN "_s + progressApplies
        + u" THEN excluded.progress_at ELSE runs.progress_at END,"
        + u" updated_at = excluded.updated_at"_s;
    static const JsonInsert finishedSql(
        u"INSERT INTO runs (id, node, run_id, job, kind, run_trigger, command_id, repository,"
        " status, severity, started_at, finished_at, duration_ms, original_size, compressed_size,"
        " deduplicated_size, files, archive_name, archive_id, failed_step, error, log_tail, steps,"
        " details, progress, progress_at, updated_at)",
        "ttttttttiiiiiiiittttttttii"_L1, finishedTail);
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
        const std::optional<proto::RunStats> &stats = r.stats;
        auto stat = [&stats](qint64 proto::RunStats::*field) -> std::optional<qint64> {
            return stats ? std::optional<qint64>((*stats).*field) : std::nullopt;
        };
        const qint64 startedAt = ms(r.startedAt);
        const qint64 finishedAt = ms(r.finishedAt);
        // The run's wall time (hooks, dumps, prune, compact and waiting for the repository
        // included): what an operator plans around. borg's own create time stays in steps.
        const qint64 durationMs = r.startedAt.isValid() && r.finishedAt.isValid()
            ? finishedAt - startedAt
            : stats ? qint64(stats->durationSeconds * 1000)
                    : qint64(0);
        runRow(rows, node, r)
            .text(proto::statusName(r.status))
            .integer(proto::severity(r.status))
            .integer(startedAt)
            .integer(finishedAt)
            .integer(durationMs)
            .integerOrNull(stat(&proto::RunStats::originalSize))
            .integerOrNull(stat(&proto::RunStats::compressedSize))
            .integerOrNull(stat(&proto::RunStats::deduplicatedSize))
            .integerOrNull(stat(&proto::RunStats::files))
            .textOrNull(stats ? QStringView(stats->archiveName) : QStringView())
            .textOrNull(stats ? QStringView(stats->archiveId) : QStringView())
            .textOrNull(r.failedStep)
            .textOrNull(r.error)
            .textOrNull(QStringView(r.logTail).right(proto::kMaxLogTail))
            .text(json::compactText(steps))
            .textOrNull(r.details.isEmpty() ? QString() : json::compactText(r.details));
        if (const IncomingEvent *p = progressOfFinished.value(runKey(node, r.runId))) {
            const auto [body, ts] = progressOf(*p);
            rows.text(body).integer(ts);
        } else {
            rows.null().null();
        }
        rows.integer(nowMs);
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
    if (auto ok = write(finishedSql, rows); !ok)
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
