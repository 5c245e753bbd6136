#pragma once

// Read queries behind the RPC methods: paged runs and commands, one run, one command (with
// its run), one node and whether it is online.
//
// Paging is by keyset, never OFFSET: the cursor is the (started_at, id) — or (issued_at, id)
// — of the last row of the previous page, so a page costs the same at the start and at the
// millionth row, and rows that arrive meanwhile neither repeat nor disappear. Cursors are
// opaque strings to callers.
//
// Threading: lives on the thread of its Database.

#include "database.h"

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <chrono>
#include <optional>

namespace sparky::orchestrator {

inline constexpr int kMaxPageSize = 500;

struct RunFilter
{
    QString node;
    QString job;
    QString status; // success, warning, cancelled, failed, running
    QString kind; // backup, check, drill, restore
    std::optional<QDateTime> since; // started_at >= since
    std::optional<QDateTime> until; // started_at < until
    bool ascending = false; // sort by started_at (then id); newest first by default
    int limit = 50; // 1 … kMaxPageSize
    QString cursor;

    // Strict: unknown keys, wrong types and out-of-range values are errors naming the field.
    static Expected<RunFilter> fromJson(const QJsonObject &params);
};

struct CommandFilter
{
    QString node;
    QString state;
    QString type;
    std::optional<QDateTime> since;
    std::optional<QDateTime> until;
    int limit = 50;
    QString cursor;

    static Expected<CommandFilter> fromJson(const QJsonObject &params);
};

class StoreQueries final
{
public:
    explicit StoreQueries(Database &database);

    // {runs: [...], next_cursor: string|null}
    Expected<QJsonObject> runs(const RunFilter &filter);
    // The full run (steps, log tail, details, progress) or NotFound.
    Expected<QJsonObject> run(const QString &node, const QString &runId);
    // {commands: [...], next_cursor}
    Expected<QJsonObject> commands(const CommandFilter &filter);
    Expected<QJsonObject> command(const QString &id);
    // command.get: the command plus, once the agent named its run, that run's summary
    // (`run`, with `progress` while it runs and `details` — the run's details object, or
    // null when it has none); NotFound if unknown.
    Expected<QJsonObject> commandWithRun(const QString &id);
    // Rows of the given commands by id (`finalOnly`: only those in a final state). Ids that
    // are not there are simply missing from the answer.
    Expected<QHash<QString, QJsonObject>> commandsById(const QStringList &ids, bool finalOnly);

    struct Presence
    {
        bool known = false; // the node has sent at least one event
        bool online = false; // its last event is younger than offlineAfter
        QDateTime lastSeen;
    };
    // Whether a node is online, judged like the reports do (last event vs offlineAfter).
    Expected<Presence> presence(
        const QString &node, const QDateTime &now, std::chrono::seconds offlineAfter);
    // Node row, its jobs' configuration, recent runs and open commands; NotFound if unknown.
    Expected<QJsonObject> node(
        const QString &node, const QDateTime &now, std::chrono::seconds offlineAfter);

private:
    Database &m_db;
};

} // namespace sparky::orchestrator
