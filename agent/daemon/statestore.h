#pragma once

// The agent's local state: one SQLite database through Qt Sql, <state_dir>/agent-state.db,
// in WAL mode with synchronous=FULL so a committed row survives a power cut. It holds
//
//   outbox    events waiting for a publisher confirm (Outbox)
//   commands  every command received, by id, for deduplication and crash recovery
//   runs      run records: "running" until the run finishes (recovery, status, metrics)
//   schedule  per job and kind: the last scheduled fire time (catch-up) and the next one
//   facts     small key/value facts for `sparky-agent status` (broker state, daemon pid, …)
//
// The schema is versioned with PRAGMA user_version and migrated forward on open.
//
// Threading: a StateStore and its QSqlDatabase connection belong to the thread that opened
// it. Several processes may open the same file at once (the daemon, and `sparky-agent
// status` read-only): WAL lets readers work while the daemon writes.

#include "sparky/error.h"

#include <QDateTime>
#include <QSqlDatabase>
#include <QString>

#include <functional>
#include <memory>
#include <optional>

class QSqlQuery;

namespace sparky::agent {

class StateStore final
{
public:
    enum class Mode { ReadWrite, ReadOnly };

    static constexpr int kSchemaVersion = 1;
    static QString fileName() { return QStringLiteral("agent-state.db"); }

    // Opens (ReadWrite: creates the directory with mode 0700 and the database if needed,
    // migrates the schema) <stateDir>/agent-state.db.
    static Expected<std::unique_ptr<StateStore>> open(const QString &stateDir,
                                                      Mode mode = Mode::ReadWrite);
    ~StateStore();
    StateStore(const StateStore &) = delete;
    StateStore &operator=(const StateStore &) = delete;

    QSqlDatabase database() const;
    QString path() const { return m_path; }
    QString stateDir() const { return m_dir; }
    Mode mode() const { return m_mode; }

    // Runs `work` in one transaction: committed if it succeeds, rolled back otherwise.
    Result transaction(const std::function<Result()> &work);

    // Small facts for `status`.
    Result setFact(const QString &key, const QString &value);
    std::optional<QString> fact(const QString &key) const;

    // Executes a prepared query; the error names `what` and the driver's message.
    static Result exec(QSqlQuery &query, const QString &what);

private:
    StateStore() = default;
    Result migrate();

    QString m_dir;
    QString m_path;
    QString m_connection;
    Mode m_mode = Mode::ReadWrite;
};

} // namespace sparky::agent
