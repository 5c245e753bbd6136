#pragma once

// Waits for commands to reach a final state (succeeded, failed, rejected, expired) for the
// RPC calls that answer with the agent's result (archives.list, archive.browse, node.ping;
// docs/orchestrator.md "Commands that answer").
//
// The replica that answers an RPC is not necessarily the one that ingests the agent's
// command.update (replicas compete on the events queue), so the store is the one source of
// truth: while anything is watched, ONE query per poll interval reads every watched command
// that has become final (`WHERE id IN (…) AND state_rank = 4`), whatever the number of
// waiting calls. poke() — called when this replica's ingestor committed command updates, or
// its dispatcher changed a command — polls at the next event-loop turn, so on the replica
// that ingests the answer, the caller gets it without waiting for the poll interval.
//
// A watch ends exactly once: with the final command row, at its deadline (with the row as it
// stands then), or through cancelAll(). Callbacks run on the watcher's thread, never inside
// watch().
//
// Threading: lives on the thread of its Database (not owned).

#include "database.h"

#include <QDeadlineTimer>
#include <QJsonObject>
#include <QObject>
#include <QTimer>
#include <chrono>
#include <functional>
#include <map>

namespace sparky::orchestrator {

class CommandWatcher final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CommandWatcher)

public:
    struct Outcome
    {
        enum class Kind { Final, TimedOut, Cancelled };
        Kind kind = Kind::Final;
        QJsonObject command; // the commands.query row (empty if it could not be read)
        QString error; // Cancelled: why; TimedOut without a row: the store error
    };
    using Callback = std::function<void(const Outcome &)>;

    explicit CommandWatcher(Database *database,
        std::chrono::milliseconds pollInterval = std::chrono::milliseconds(150),
        QObject *parent = nullptr);
    ~CommandWatcher() override;

    // Watches `commandId` for at most `timeout`. Returns a handle for cancel().
    quint64 watch(const QString &commandId, std::chrono::milliseconds timeout, Callback callback);
    void cancel(quint64 handle);
    // Ends every watch with Kind::Cancelled and `reason` (shutdown).
    void cancelAll(const QString &reason);

    // Something may have changed: poll at the next event-loop turn.
    void poke();

    int watching() const { return int(m_entries.size()); }
    quint64 polls() const { return m_polls; }

private:
    struct Entry
    {
        QString commandId;
        QDeadlineTimer deadline;
        Callback callback;
    };

    void poll();
    void schedule();

    Database *m_db = nullptr;
    std::map<quint64, Entry> m_entries;
    quint64 m_next = 1;
    quint64 m_polls = 0;
    QTimer m_timer; // the poll interval, while anything is watched
    bool m_pokeQueued = false;
    bool m_polling = false;
};

} // namespace sparky::orchestrator
