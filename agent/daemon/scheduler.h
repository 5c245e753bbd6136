#pragma once

// The schedule service: for every job with a schedule (and every job with a check
// schedule) it knows the next run — cron in the job's time zone plus the job's
// deterministic jitter (CronSchedule) — and emits due() when it comes.
//
// Catch-up: the last fire time of every (job, kind) is kept in the state database. At
// start() a job whose last scheduled time passed while the agent was down is due ONCE,
// trigger "catchup", however many times were missed (when the job's catch_up is on; off:
// logged and skipped). A job seen for the first time has missed nothing.
//
// The service never relies on a long timer to follow the wall clock: it sleeps at most a
// minute, then asks the Clock again (a suspended machine or a clock step is noticed; a
// wake-up after several missed times fires once). Clock::changed() re-plans at once, which
// is the seam tests use to run a schedule without waiting for real minutes.
//
// One run per job at a time is enforced by whoever acts on due() (RunManager).
//
// Threading: lives on the daemon's thread.

#include "agentconfig.h"
#include "cronschedule.h"

#include "sparky/error.h"
#include "sparky/protocol.h"

#include <QDateTime>
#include <QList>
#include <QObject>
#include <QTimer>

#include <optional>

namespace sparky::agent {

class Clock;
class StateStore;

class Scheduler final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Scheduler)

public:
    struct Entry
    {
        QString job;
        protocol::RunKind kind = protocol::RunKind::Backup;
        CronSchedule schedule;
        bool catchUp = true;
        QDateTime next; // UTC; invalid when the schedule never fires again
    };

    // Neither owned; both must outlive the scheduler.
    Scheduler(StateStore *store, const Clock *clock, QObject *parent = nullptr);

    // (Re)builds the plan. Entries whose schedule did not change keep their next time, so a
    // reload never skips a run that is about to happen. Invalid schedules are errors (the
    // config loader rejects them first).
    Result setConfig(const AgentConfig &config);

    // Catch-up for missed runs (once per process), then timers.
    void start();
    void stop();
    bool isStarted() const { return m_started; }

    const QList<Entry> &entries() const { return m_entries; }
    std::optional<QDateTime> nextRun(const QString &job, protocol::RunKind kind) const;
    std::optional<QDateTime> lastFire(const QString &job, protocol::RunKind kind) const;

    static constexpr std::chrono::seconds kMaxSleep{60};

Q_SIGNALS:
    // trigger: "schedule" or "catchup"; slot: the scheduled time it stands for.
    void due(const QString &job, sparky::protocol::RunKind kind, const QString &trigger,
             const QDateTime &slot);
    void planChanged();

private:
    void tick();
    void arm();
    void persist(const Entry &e, const std::optional<QDateTime> &lastFire);

    StateStore *m_store;
    const Clock *m_clock;
    QList<Entry> m_entries;
    QTimer m_timer;
    bool m_started = false;
};

} // namespace sparky::agent
