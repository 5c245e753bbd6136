#include "storequeries.h"

#include "sparky/jsonfields.h"
#include "sparky/protocol.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QSqlRecord>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;
namespace j = sparky::json;

namespace {

const QString kRunColumns
    = u"id, node, run_id, job, kind, run_trigger, command_id, repository, status, started_at,"
      " finished_at, duration_ms, original_size, compressed_size, deduplicated_size, files,"
      " archive_name, archive_id, failed_step, error, progress"_s;

QJsonValue timeValue(const QVariant &v)
{
    if (v.isNull())
        return QJsonValue::Null;
    return formatTimestamp(QDateTime::fromMSecsSinceEpoch(v.toLongLong(), Qt::UTC));
}

QJsonValue intValue(const QVariant &v)
{
    return v.isNull() ? QJsonValue(QJsonValue::Null) : QJsonValue(v.toLongLong());
}

QJsonValue textValue(const QVariant &v)
{
    return v.isNull() ? QJsonValue(QJsonValue::Null) : QJsonValue(v.toString());
}

QJsonValue jsonValue(const QVariant &v)
{
    if (v.isNull())
        return QJsonValue::Null;
    const QJsonDocument doc = QJsonDocument::fromJson(v.toString().toUtf8());
    if (doc.isArray())
        return doc.array();
    if (doc.isObject())
        return doc.object();
    return QJsonValue::Null;
}

QJsonObject runSummary(const QSqlQuery &q)
{
    QJsonObject o { { u"node"_s, q.value(1).toString() }, { u"run_id"_s, q.value(2).toString() },
        { u"job"_s, q.value(3).toString() }, { u"kind"_s, q.value(4).toString() },
        { u"trigger"_s, textValue(q.value(5)) }, { u"command_id"_s, textValue(q.value(6)) },
        { u"repository"_s, textValue(q.value(7)) }, { u"status"_s, q.value(8).toString() },
        { u"started_at"_s, timeValue(q.value(9)) }, { u"finished_at"_s, timeValue(q.value(10)) },
        { u"duration_seconds"_s,
            q.value(11).isNull() ? QJsonValue(QJsonValue::Null)
                                 : QJsonValue(q.value(11).toLongLong() / 1000.0) },
        { u"original_size"_s, intValue(q.value(12)) },
        { u"compressed_size"_s, intValue(q.value(13)) },
        { u"deduplicated_size"_s, intValue(q.value(14)) }, { u"files"_s, intValue(q.value(15)) },
        { u"archive_name"_s, textValue(q.value(16)) }, { u"archive_id"_s, textValue(q.value(17)) },
        { u"failed_step"_s, textValue(q.value(18)) },
        { u"error"_s,
            q.value(19).isNull() ? QJsonValue(QJsonValue::Null)
                                 : QJsonValue(q.value(19).toString().left(512)) } };
    if (!q.value(20).isNull())
        o.insert(u"progress"_s, jsonValue(q.value(20)));
    return o;
}

Unexpected bad(const QString &message)
{
    return unexpected(ErrorCode::InvalidArgument, message);
}

// Cursor: base64url("<t>|<id>"): the sort key of the last row of the previous page.
QString makeCursor(qint64 t, const QString &id)
{
    return QString::fromLatin1(
        QByteArray(QByteArray::number(t) + '|' + id.toUtf8())
            .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

Expected<std::pair<qint64, QString>> readCursor(const QString &cursor)
{
    const auto decoded = QByteArray::fromBase64Encoding(
        cursor.toLatin1(), QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return bad(u"params.cursor: not a cursor returned by this method"_s);
    const QByteArray &raw = decoded.decoded;
    const qsizetype bar = raw.indexOf('|');
    bool ok = false;
    const qint64 t = raw.left(bar).toLongLong(&ok);
    if (bar <= 0 || !ok)
        return bad(u"params.cursor: not a cursor returned by this method"_s);
    return std::pair<qint64, QString> { t, QString::fromUtf8(raw.mid(bar + 1)) };
}

Expected<std::optional<QDateTime>> optionalTime(const QJsonObject &o, QLatin1StringView key)
{
    auto s = j::optionalString(o, key, "params"_L1, 64);
    if (!s)
        return s.error();
    if (!s->has_value())
        return std::optional<QDateTime>();
    auto t = parseTimestamp(**s);
    if (!t)
        return bad(
            u"params.%1: expected an RFC 3339 UTC timestamp like 2026-11-25T15:20:31Z"_s.arg(key));
    return std::optional<QDateTime>(*t);
}

Expected<int> readLimit(const QJsonObject &o)
{
    auto limit = j::optionalInteger(o, "limit"_L1, 1, kMaxPageSize, "params"_L1);
    if (!limit)
        return limit.error();
    return int(limit->value_or(50));
}

Expected<QString> optionalText(const QJsonObject &o, QLatin1StringView key, qsizetype max = 128)
{
    auto s = j::optionalString(o, key, "params"_L1, max);
    if (!s)
        return s.error();
    return s->value_or(QString());
}

} // namespace

Expected<RunFilter> RunFilter::fromJson(const QJsonObject &p)
{
    if (auto ok = j::rejectUnknownKeys(p,
            { "node"_L1, "job"_L1, "status"_L1, "kind"_L1, "since"_L1, "until"_L1, "order"_L1,
                "limit"_L1, "cursor"_L1 },
            "params"_L1);
        !ok)
        return ok.error();
    RunFilter f;
    auto node = optionalText(p, "node"_L1, 64);
    if (!node)
        return node.error();
    f.node = *node;
    if (!f.node.isEmpty() && !isValidNodeId(f.node))
        return bad(u"params.node: '%1' is not a valid node id"_s.arg(f.node));
    auto job = optionalText(p, "job"_L1, 128);
    if (!job)
        return job.error();
    f.job = *job;
    auto status = optionalText(p, "status"_L1, 32);
    if (!status)
        return status.error();
    f.status = *status;
    if (!f.status.isEmpty() && f.status != u"running" && !protocol::statusFromName(f.status))
        return bad(
            u"params.status: '%1' is not success, warning, cancelled, failed or running"_s.arg(
                f.status));
    auto kind = optionalText(p, "kind"_L1, 32);
    if (!kind)
        return kind.error();
    f.kind = *kind;
    if (!f.kind.isEmpty() && !protocol::runKindFromName(f.kind))
        return bad(u"params.kind: '%1' is not backup, check, drill or restore"_s.arg(f.kind));
    auto since = optionalTime(p, "since"_L1);
    if (!since)
        return since.error();
    f.since = *since;
    auto until = optionalTime(p, "until"_L1);
    if (!until)
        return until.error();
    f.until = *until;
    auto order = optionalText(p, "order"_L1, 8);
    if (!order)
        return order.error();
    if (!order->isEmpty() && *order != u"asc" && *order != u"desc")
        return bad(u"params.order: expected \"asc\" or \"desc\""_s);
    f.ascending = *order == u"asc";
    auto limit = readLimit(p);
    if (!limit)
        return limit.error();
    f.limit = *limit;
    auto cursor = optionalText(p, "cursor"_L1, 512);
    if (!cursor)
        return cursor.error();
    f.cursor = *cursor;
    return f;
}

Expected<CommandFilter> CommandFilter::fromJson(const QJsonObject &p)
{
    if (auto ok = j::rejectUnknownKeys(p,
            { "node"_L1, "state"_L1, "type"_L1, "since"_L1, "until"_L1, "limit"_L1, "cursor"_L1 },
            "params"_L1);
        !ok)
        return ok.error();
    CommandFilter f;
    auto node = optionalText(p, "node"_L1, 64);
    if (!node)
        return node.error();
    f.node = *node;
    if (!f.node.isEmpty() && !isValidNodeId(f.node))
        return bad(u"params.node: '%1' is not a valid node id"_s.arg(f.node));
    auto state = optionalText(p, "state"_L1, 32);
    if (!state)
        return state.error();
    f.state = *state;
    static const QStringList states { u"pending"_s, u"published"_s, u"received"_s, u"running"_s,
        u"succeeded"_s, u"failed"_s, u"rejected"_s, u"expired"_s };
    if (!f.state.isEmpty() && !states.contains(f.state))
        return bad(u"params.state: '%1' is not one of %2"_s.arg(f.state, states.join(u", "_s)));
    auto type = optionalText(p, "type"_L1, 64);
    if (!type)
        return type.error();
    f.type = *type;
    auto since = optionalTime(p, "since"_L1);
    if (!since)
        return since.error();
    f.since = *since;
    auto until = optionalTime(p, "until"_L1);
    if (!until)
        return until.error();
    f.until = *until;
    auto limit = readLimit(p);
    if (!limit)
        return limit.error();
    f.limit = *limit;
    auto cursor = optionalText(p, "cursor"_L1, 512);
    if (!cursor)
        return cursor.error();
    f.cursor = *cursor;
    return f;
}

StoreQueries::StoreQueries(Database &database)
    : m_db(database)
{ }

Expected<QJsonObject> StoreQueries::runs(const RunFilter &f)
{
    QString sql = u"SELECT "_s + kRunColumns + u" FROM runs WHERE 1 = 1"_s;
    QVariantList values;
    if (!f.node.isEmpty()) {
        sql += u" AND node = ?"_s;
        values << f.node;
    }
    if (!f.job.isEmpty()) {
        sql += u" AND job = ?"_s;
        values << f.job;
    }
    if (!f.status.isEmpty()) {
        sql += u" AND status = ?"_s;
        values << f.status;
    }
    if (!f.kind.isEmpty()) {
        sql += u" AND kind = ?"_s;
        values << f.kind;
    }
    if (f.since) {
        sql += u" AND started_at >= ?"_s;
        values << f.since->toMSecsSinceEpoch();
    }
    if (f.until) {
        sql += u" AND started_at < ?"_s;
        values << f.until->toMSecsSinceEpoch();
    }
    if (!f.cursor.isEmpty()) {
        auto c = readCursor(f.cursor);
        if (!c)
            return c.error();
        // The redundant bound on started_at alone lets both planners range-scan the index.
        if (f.ascending)
            sql += u" AND started_at >= ? AND (started_at > ? OR id > ?)"_s;
        else
            sql += u" AND started_at <= ? AND (started_at < ? OR id < ?)"_s;
        values << c->first << c->first << c->second;
    }
    sql += f.ascending ? u" ORDER BY started_at ASC, id ASC LIMIT ?"_s
                       : u" ORDER BY started_at DESC, id DESC LIMIT ?"_s;
    values << f.limit + 1;
    auto q = m_db.exec(sql, values);
    if (!q)
        return q.error().wrapped(u"runs.query"_s);
    QJsonArray rows;
    qint64 lastT = 0;
    QString lastId;
    bool more = false;
    while (q->next()) {
        if (rows.size() == f.limit) {
            more = true;
            break;
        }
        rows.append(runSummary(*q));
        lastT = q->value(9).toLongLong();
        lastId = q->value(0).toString();
    }
    return QJsonObject { { u"runs"_s, rows },
        { u"next_cursor"_s, more ? QJsonValue(makeCursor(lastT, lastId)) : QJsonValue::Null } };
}

Expected<QJsonObject> StoreQueries::run(const QString &node, const QString &runId)
{
    auto q = m_db.exec(u"SELECT "_s + kRunColumns
            + u", severity, log_tail, steps, details, progress_at, updated_at FROM runs"
              " WHERE id = ?"_s,
        { QString(node + u':' + runId) });
    if (!q)
        return q.error();
    if (!q->next())
        return unexpected(ErrorCode::NotFound, u"no run '%1' of node '%2'"_s.arg(runId, node));
    QJsonObject o = runSummary(*q);
    o.insert(u"error"_s, textValue(q->value(19)));
    o.insert(u"log_tail"_s, textValue(q->value(22)));
    o.insert(
        u"steps"_s, q->value(23).isNull() ? QJsonValue(QJsonArray()) : jsonValue(q->value(23)));
    o.insert(
        u"details"_s, q->value(24).isNull() ? QJsonValue(QJsonObject()) : jsonValue(q->value(24)));
    o.insert(u"progress_at"_s, timeValue(q->value(25)));
    o.insert(u"updated_at"_s, timeValue(q->value(26)));
    return o;
}

namespace {

const QString kCommandColumns
    = u"id, node, type, params, issued_by, issued_at, expires_at, state, published_at,"
      " received_at, running_at, finished_at, run_id, result, error"_s;

QJsonObject commandRow(const QSqlQuery &q)
{
    return QJsonObject { { u"id"_s, q.value(0).toString() }, { u"node"_s, q.value(1).toString() },
        { u"type"_s, q.value(2).toString() }, { u"params"_s, jsonValue(q.value(3)) },
        { u"issued_by"_s, q.value(4).toString() }, { u"issued_at"_s, timeValue(q.value(5)) },
        { u"expires_at"_s, timeValue(q.value(6)) }, { u"state"_s, q.value(7).toString() },
        { u"published_at"_s, timeValue(q.value(8)) }, { u"received_at"_s, timeValue(q.value(9)) },
        { u"running_at"_s, timeValue(q.value(10)) }, { u"finished_at"_s, timeValue(q.value(11)) },
        { u"run_id"_s, textValue(q.value(12)) }, { u"result"_s, jsonValue(q.value(13)) },
        { u"error"_s, textValue(q.value(14)) } };
}

} // namespace

Expected<QJsonObject> StoreQueries::commands(const CommandFilter &f)
{
    QString sql = u"SELECT "_s + kCommandColumns + u" FROM commands WHERE 1 = 1"_s;
    QVariantList values;
    if (!f.node.isEmpty()) {
        sql += u" AND node = ?"_s;
        values << f.node;
    }
    if (!f.state.isEmpty()) {
        sql += u" AND state = ?"_s;
        values << f.state;
    }
    if (!f.type.isEmpty()) {
        sql += u" AND type = ?"_s;
        values << f.type;
    }
    if (f.since) {
        sql += u" AND issued_at >= ?"_s;
        values << f.since->toMSecsSinceEpoch();
    }
    if (f.until) {
        sql += u" AND issued_at < ?"_s;
        values << f.until->toMSecsSinceEpoch();
    }
    if (!f.cursor.isEmpty()) {
        auto c = readCursor(f.cursor);
        if (!c)
            return c.error();
        sql += u" AND issued_at <= ? AND (issued_at < ? OR id < ?)"_s;
        values << c->first << c->first << c->second;
    }
    sql += u" ORDER BY issued_at DESC, id DESC LIMIT ?"_s;
    values << f.limit + 1;
    auto q = m_db.exec(sql, values);
    if (!q)
        return q.error().wrapped(u"commands.query"_s);
    QJsonArray rows;
    qint64 lastT = 0;
    QString lastId;
    bool more = false;
    while (q->next()) {
        if (rows.size() == f.limit) {
            more = true;
            break;
        }
        rows.append(commandRow(*q));
        lastT = q->value(5).toLongLong();
        lastId = q->value(0).toString();
    }
    return QJsonObject { { u"commands"_s, rows },
        { u"next_cursor"_s, more ? QJsonValue(makeCursor(lastT, lastId)) : QJsonValue::Null } };
}

Expected<QJsonObject> StoreQueries::command(const QString &id)
{
    auto q = m_db.exec(u"SELECT "_s + kCommandColumns + u" FROM commands WHERE id = ?"_s, { id });
    if (!q)
        return q.error();
    if (!q->next())
        return unexpected(ErrorCode::NotFound, u"no command '%1'"_s.arg(id));
    return commandRow(*q);
}

Expected<QJsonObject> StoreQueries::commandWithRun(const QString &id)
{
    auto c = command(id);
    if (!c)
        return c;
    const QString runId = c->value("run_id"_L1).toString();
    if (runId.isEmpty())
        return c;
    auto q = m_db.exec(u"SELECT "_s + kRunColumns + u", details FROM runs WHERE id = ?"_s,
        { QString(c->value("node"_L1).toString() + u':' + runId) });
    if (!q)
        return q.error();
    if (q->next()) {
        QJsonObject run = runSummary(*q);
        // Where a restore went, what a drill checked: a follower needs no run.get for it.
        // Details are small by construction (a drill lists at most 100 mismatches) and the
        // event that carried them was size-checked at ingest; steps and the log tail stay
        // in run.get.
        const QJsonValue details = jsonValue(q->value(21));
        run.insert(u"details"_s, details.isObject() ? details : QJsonValue(QJsonValue::Null));
        c->insert(u"run"_s, run);
    }
    return c;
}

Expected<QHash<QString, QJsonObject>> StoreQueries::commandsById(
    const QStringList &ids, bool finalOnly)
{
    QHash<QString, QJsonObject> rows;
    for (qsizetype at = 0; at < ids.size(); at += 200) {
        const QStringList chunk = ids.mid(at, 200);
        QVariantList values;
        for (const QString &id : chunk)
            values.append(id);
        auto q = m_db.exec(u"SELECT "_s + kCommandColumns + u" FROM commands WHERE id IN (?"_s
                + u", ?"_s.repeated(chunk.size() - 1) + u')'
                + (finalOnly ? u" AND state_rank = 4"_s : QString()),
            values);
        if (!q)
            return q.error().wrapped(u"reading commands"_s);
        while (q->next()) {
            const QJsonObject row = commandRow(*q);
            rows.insert(row.value("id"_L1).toString(), row);
        }
    }
    return rows;
}

Expected<StoreQueries::Presence> StoreQueries::presence(
    const QString &node, const QDateTime &now, std::chrono::seconds offlineAfter)
{
    auto q = m_db.exec(u"SELECT last_seen FROM nodes WHERE node = ?"_s, { node });
    if (!q)
        return q.error().wrapped(u"reading node %1"_s.arg(node));
    Presence p;
    if (!q->next())
        return p;
    p.known = true;
    const qint64 lastSeen = q->value(0).toLongLong();
    p.lastSeen = QDateTime::fromMSecsSinceEpoch(lastSeen, Qt::UTC);
    p.online = lastSeen >= now.toMSecsSinceEpoch() - qint64(offlineAfter.count()) * 1000;
    return p;
}

Expected<QJsonObject> StoreQueries::node(
    const QString &node, const QDateTime &now, std::chrono::seconds offlineAfter)
{
    auto q = m_db.exec(
        u"SELECT node, hostname, version, config_digest, config_state, config_error, started_at,"
        " hello_at, heartbeat_at, outbox_messages, running_runs, uptime_seconds, first_seen,"
        " last_seen, state, state_changed_at FROM nodes WHERE node = ?"_s,
        { node });
    if (!q)
        return q.error();
    if (!q->next())
        return unexpected(ErrorCode::NotFound, u"no node '%1' has reported yet"_s.arg(node));
    const qint64 lastSeen = q->value(13).toLongLong();
    const bool online = lastSeen >= now.toMSecsSinceEpoch() - qint64(offlineAfter.count()) * 1000;
    QJsonObject o { { u"node"_s, q->value(0).toString() },
        { u"hostname"_s, textValue(q->value(1)) }, { u"version"_s, textValue(q->value(2)) },
        { u"config_digest"_s, textValue(q->value(3)) },
        { u"config_state"_s, textValue(q->value(4)) },
        { u"config_error"_s, textValue(q->value(5)) }, { u"started_at"_s, timeValue(q->value(6)) },
        { u"hello_at"_s, timeValue(q->value(7)) }, { u"heartbeat_at"_s, timeValue(q->value(8)) },
        { u"outbox_messages"_s, intValue(q->value(9)) },
        { u"running_runs"_s,
            q->value(10).isNull() ? QJsonValue(QJsonArray()) : jsonValue(q->value(10)) },
        { u"uptime_seconds"_s, intValue(q->value(11)) },
        { u"first_seen"_s, timeValue(q->value(12)) }, { u"last_seen"_s, timeValue(q->value(13)) },
        { u"online"_s, online } };
    q->finish();

    auto jobs = m_db.exec(
        u"SELECT job, repository, schedule, rpo_seconds, active FROM jobs WHERE node = ?"
        " ORDER BY job"_s,
        { node });
    if (!jobs)
        return jobs.error();
    QJsonArray jobList;
    while (jobs->next())
        jobList.append(QJsonObject { { u"job"_s, jobs->value(0).toString() },
            { u"repository"_s, textValue(jobs->value(1)) },
            { u"schedule"_s, textValue(jobs->value(2)) },
            { u"rpo_seconds"_s, jobs->value(3).toLongLong() },
            { u"active"_s, jobs->value(4).toInt() != 0 } });
    o.insert(u"jobs"_s, jobList);

    RunFilter recent;
    recent.node = node;
    recent.limit = 10;
    auto runs = this->runs(recent);
    if (!runs)
        return runs.error();
    o.insert(u"recent_runs"_s, runs->value("runs"_L1));

    auto open = m_db.exec(u"SELECT "_s + kCommandColumns
            + u" FROM commands WHERE node = ? AND state_rank < 4 ORDER BY issued_at DESC LIMIT 50"_s,
        { node });
    if (!open)
        return open.error();
    QJsonArray openList;
    while (open->next())
        openList.append(commandRow(*open));
    o.insert(u"open_commands"_s, openList);
    return o;
}

} // namespace sparky::orchestrator
