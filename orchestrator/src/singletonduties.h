#pragma once

// Work that must run on ONE orchestrator replica at a time: the offline detector, the
// command expiry sweep, history retention (and, in the daemon, the Exioma export). The
// replica that holds a PostgreSQL session advisory lock is the leader; the lock is released
// when its connection ends, so another replica takes over at its next tick. On SQLite the
// one process that owns the file is always the leader.
//
// Threading: lives on the thread of its Database. Owns nothing it is given.

#include "database.h"

#include <QDateTime>
#include <QObject>
#include <QTimer>
#include <chrono>

namespace sparky::orchestrator {

class CommandDispatcher;

// The lock key: "SPKYLEAD".
inline constexpr qint64 kLeaderLockKey = 0x53504B594C454144;

struct DutySettings
{
    std::chrono::seconds interval { 30 };
    std::chrono::seconds offlineAfter { 300 };
    std::chrono::seconds retainRuns { 400LL * 86400 }; // 0 = forever
    std::chrono::seconds retainMessageIds { 30LL * 86400 };
    std::chrono::seconds retainDeadLetters { 90LL * 86400 }; // and rejected_messages
    int deleteChunk = 5000; // rows per DELETE, so retention never holds a long lock
};

struct DutyOutcome
{
    bool leader = false;
    int nodesWentOffline = 0;
    int nodesCameOnline = 0;
    int commandsExpired = 0;
    qint64 runsDeleted = 0;
    qint64 idsDeleted = 0;
};

class SingletonDuties final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SingletonDuties)

public:
    // `commands` may be null (no expiry sweep).
    SingletonDuties(Database *database, CommandDispatcher *commands, DutySettings settings,
        QObject *parent = nullptr);

    void start(); // ticks now and every interval
    void stop();
    bool isLeader() const { return m_leader; }

    // One round; `now` is injectable for tests.
    Expected<DutyOutcome> tick(const QDateTime &now = QDateTime::currentDateTimeUtc());

Q_SIGNALS:
    void leadershipChanged(bool leader);
    void ticked(const sparky::orchestrator::DutyOutcome &outcome);

private:
    Expected<bool> checkLeadership();
    Expected<qint64> deleteOlder(const QString &table, const QString &column, qint64 before);

    Database *m_db = nullptr;
    CommandDispatcher *m_commands = nullptr;
    DutySettings m_settings;
    QTimer m_timer;
    bool m_leader = false;
};

} // namespace sparky::orchestrator

Q_DECLARE_METATYPE(sparky::orchestrator::DutyOutcome)
