#include "schema.h"

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

namespace {

QList<Migration> build()
{
    QList<Migration> all;

    // Times are BIGINT ms since the epoch (UTC); JSON documents are TEXT.
    all.append(Migration { 1, u"initial schema"_s,
        {
            // Nodes: identity is the broker user; state is derived by the offline detector.
            u"CREATE TABLE nodes ("
            " node TEXT PRIMARY KEY,"
            " hostname TEXT, version TEXT, config_digest TEXT,"
            " config_state TEXT, config_error TEXT, config_at BIGINT,"
            " started_at BIGINT, hello_at BIGINT, heartbeat_at BIGINT,"
            " outbox_messages BIGINT, running_runs TEXT, uptime_seconds BIGINT,"
            " first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,"
            " state TEXT NOT NULL DEFAULT 'online', state_changed_at BIGINT)"_s,
            u"CREATE TABLE repositories ("
            " node TEXT NOT NULL, repository TEXT NOT NULL,"
            " first_seen BIGINT NOT NULL, last_backup_at BIGINT,"
            " last_check_at BIGINT, last_check_status TEXT,"
            " PRIMARY KEY (node, repository))"_s,
            u"CREATE TABLE jobs ("
            " node TEXT NOT NULL, job TEXT NOT NULL,"
            " repository TEXT, schedule TEXT, rpo_seconds BIGINT NOT NULL DEFAULT 0,"
            " active INTEGER NOT NULL DEFAULT 1, info_at BIGINT,"
            " first_seen BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
            " PRIMARY KEY (node, job))"_s,
            // Runs of every kind (backup, check, drill, restore). id = node ':' run_id, so a node
            // can never touch another node's run. status is 'running' until run.finished.
            u"CREATE TABLE runs ("
            " id TEXT PRIMARY KEY, node TEXT NOT NULL, run_id TEXT NOT NULL,"
            " job TEXT NOT NULL, kind TEXT NOT NULL, run_trigger TEXT, command_id TEXT,"
            " repository TEXT, status TEXT NOT NULL, severity INTEGER,"
            " started_at BIGINT NOT NULL, finished_at BIGINT, duration_ms BIGINT,"
            " original_size BIGINT, compressed_size BIGINT, deduplicated_size BIGINT, files BIGINT,"
            " archive_name TEXT, archive_id TEXT, failed_step TEXT, error TEXT, log_tail TEXT,"
            " steps TEXT, details TEXT, progress TEXT, progress_at BIGINT,"
            " updated_at BIGINT NOT NULL)"_s,
            // Keyset paging (started_at, id) with and without the common filters.
            u"CREATE INDEX runs_by_time ON runs (started_at, id)"_s,
            u"CREATE INDEX runs_by_node ON runs (node, started_at, id)"_s,
            u"CREATE INDEX runs_by_job ON runs (node, job, started_at, id)"_s,
            u"CREATE INDEX runs_by_status ON runs (status, started_at, id)"_s,
            u"CREATE INDEX runs_by_kind ON runs (kind, started_at, id)"_s,
            // Reports: last success / failures since, per node and job; windows and retention.
            u"CREATE INDEX runs_by_outcome ON runs (node, job, kind, status, finished_at)"_s,
            u"CREATE INDEX runs_by_finish ON runs (finished_at)"_s,
            // Commands: state_rank orders pending(0) < published(1) < received(2) < running(3) <
            // final(4); updates only move forward, whatever order events arrive in.
            u"CREATE TABLE commands ("
            " id TEXT PRIMARY KEY, node TEXT NOT NULL, type TEXT NOT NULL, params TEXT NOT NULL,"
            " issued_by TEXT NOT NULL, issued_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,"
            " state TEXT NOT NULL, state_rank INTEGER NOT NULL,"
            " published_at BIGINT, received_at BIGINT, running_at BIGINT, finished_at BIGINT,"
            " run_id TEXT, result TEXT, error TEXT, updated_at BIGINT NOT NULL)"_s,
            u"CREATE INDEX commands_by_time ON commands (issued_at, id)"_s,
            u"CREATE INDEX commands_by_node ON commands (node, issued_at, id)"_s,
            u"CREATE INDEX commands_open ON commands (state_rank, expires_at)"_s,
            // Key rotation state (public keys only; private keys never leave the nodes).
            u"CREATE TABLE keys ("
            " node TEXT NOT NULL, key_id TEXT NOT NULL, public_key TEXT NOT NULL,"
            " state TEXT NOT NULL, repository TEXT, error TEXT,"
            " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
            " PRIMARY KEY (node, key_id))"_s,
            // Who did what through RPC. id = the request's message id: a redelivered request
            // finds its row and gets the same answer instead of acting twice.
            u"CREATE TABLE audit_log ("
            " id TEXT PRIMARY KEY, ts BIGINT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,"
            " method TEXT NOT NULL, params TEXT NOT NULL, ok INTEGER NOT NULL,"
            " result TEXT, error TEXT)"_s,
            u"CREATE INDEX audit_by_time ON audit_log (ts)"_s,
            // Deduplication: every stored event's message id.
            u"CREATE TABLE message_ids (id TEXT PRIMARY KEY, received_at BIGINT NOT NULL)"_s,
            u"CREATE INDEX message_ids_by_time ON message_ids (received_at)"_s,
            // Events refused at ingest (and dead-lettered), with the reason.
            u"CREATE TABLE rejected_messages ("
            " id TEXT PRIMARY KEY, ts BIGINT NOT NULL, user_id TEXT, routing_key TEXT,"
            " message_id TEXT, type TEXT, reason TEXT NOT NULL, excerpt TEXT)"_s,
            u"CREATE INDEX rejected_by_time ON rejected_messages (ts)"_s,
            // What the broker dead-lettered (sparky.orchestrator.dead), so nothing vanishes.
            u"CREATE TABLE dead_letters ("
            " id TEXT PRIMARY KEY, ts BIGINT NOT NULL, queue TEXT, reason TEXT,"
            " exchange TEXT, routing_key TEXT, message_id TEXT, type TEXT, user_id TEXT,"
            " excerpt TEXT)"_s,
            u"CREATE INDEX dead_letters_by_time ON dead_letters (ts)"_s,
        } });

    return all;
}

} // namespace

const QList<Migration> &schemaMigrations()
{
    static const QList<Migration> migrations = build();
    return migrations;
}

int latestSchemaVersion()
{
    return schemaMigrations().isEmpty() ? 0 : schemaMigrations().constLast().version;
}

} // namespace sparky::orchestrator
