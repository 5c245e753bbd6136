#include "scheduler.h"

#include "clock.h"
#include "logcategories.h"
#include "statestore.h"

#include "sparky/envelope.h"

#include <QSqlQuery>

namespace sparky::agent {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

Scheduler::Scheduler(StateStore *store, const Clock *clock, QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_clock(clock)
{
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &Scheduler::tick);
    connect(m_clock, &Clock::changed, this, [this] {
        if (m_started)
            tick();
    });
}

Result Scheduler::setConfig(const AgentConfig &config)
{
    QList<Entry> entries;
    QStringList problems;
    auto add = [&](const JobConfig &job, proto::RunKind kind, const QString &expr, const QString &jitterKey) {
        auto parsed = CronSchedule::parse(expr, job.timeZone);
        if (!parsed) {
            problems << u"job %1: %2 schedule \"%3\": %4"_s.arg(job.name, proto::runKindName(kind), expr,
                                                               parsed.error().message);
            return;
        }
        Entry e;
        e.job = job.name;
        e.kind = kind;
        e.schedule = *parsed;
        e.schedule.setOffset(CronSchedule::jitterOffset(config.node, jitterKey, job.jitter));
        e.catchUp = job.catchUp;
        entries.append(e);
    };
    for (const JobConfig &job : config.jobs) {
        if (!job.schedule.isEmpty())
            add(job, proto::RunKind::Backup, job.schedule, job.name);
        if (!job.check.schedule.isEmpty())
            add(job, proto::RunKind::Check, job.check.schedule, job.name + u":check"_s);
        if (!job.drill.schedule.isEmpty())
            add(job, proto::RunKind::Drill, job.drill.schedule, job.name + u":drill"_s);
    }
    if (!problems.isEmpty())
        return unexpected(ErrorCode::Config, problems.join(u'\n'));

    const QDateTime now = m_clock->now();
    for (Entry &e : entries) {
        for (const Entry &old : std::as_const(m_entries)) {
            if (old.job == e.job && old.kind == e.kind
                && old.schedule.expression() == e.schedule.expression()
                && old.schedule.timeZone() == e.schedule.timeZone()
                && old.schedule.offset() == e.schedule.offset()) {
                e.next = old.next;
                break;
            }
        }
        if (!e.next.isValid() || !m_started)
            e.next = e.schedule.nextRun(now);
    }
    m_entries = entries;
    if (m_started) {
        for (const Entry &e : std::as_const(m_entries))
            persist(e, std::nullopt);
        arm();
    }
    Q_EMIT planChanged();
    return {};
}

std::optional<QDateTime> Scheduler::nextRun(const QString &job, proto::RunKind kind) const
{
    for (const Entry &e : m_entries)
        if (e.job == job && e.kind == kind)
            return e.next.isValid() ? std::optional<QDateTime>(e.next) : std::nullopt;
    return std::nullopt;
}

std::optional<QDateTime> Scheduler::lastFire(const QString &job, proto::RunKind kind) const
{
    QSqlQuery q(m_store->database());
    q.prepare(u"SELECT last_fire FROM schedule WHERE job = ? AND kind = ?"_s);
    q.addBindValue(job);
    q.addBindValue(proto::runKindName(kind));
    if (!q.exec() || !q.next() || q.value(0).isNull())
        return std::nullopt;
    return parseTimestamp(q.value(0).toString());
}

void Scheduler::persist(const Entry &e, const std::optional<QDateTime> &lastFire)
{
    QSqlQuery q(m_store->database());
    if (lastFire) {
        q.prepare(u"INSERT INTO schedule(job, kind, last_fire, next_fire) VALUES(?, ?, ?, ?) "
                  "ON CONFLICT(job, kind) DO UPDATE SET last_fire = excluded.last_fire, "
                  "next_fire = excluded.next_fire"_s);
        q.addBindValue(e.job);
        q.addBindValue(proto::runKindName(e.kind));
        q.addBindValue(formatTimestamp(*lastFire));
    } else {
        q.prepare(u"INSERT INTO schedule(job, kind, next_fire) VALUES(?, ?, ?) "
                  "ON CONFLICT(job, kind) DO UPDATE SET next_fire = excluded.next_fire"_s);
        q.addBindValue(e.job);
        q.addBindValue(proto::runKindName(e.kind));
    }
    q.addBindValue(e.next.isValid() ? formatTimestamp(e.next) : QString());
    if (auto ok = StateStore::exec(q, u"recording the schedule of job %1"_s.arg(e.job)); !ok)
        qCCritical(lcScheduler).noquote() << ok.error().toString()
                                          << "— a run missed while the agent is down may not be caught up";
}

void Scheduler::start()
{
    if (m_started)
        return;
    m_started = true;
    const QDateTime now = m_clock->now();
    QList<std::pair<Entry, QDateTime>> catchUps;
    for (Entry &e : m_entries) {
        const std::optional<QDateTime> last = lastFire(e.job, e.kind);
        const QDateTime previous = e.schedule.previousRun(now);
        e.next = e.schedule.nextRun(now);
        if (!last) {
            // First time this job is scheduled here: nothing was missed.
            persist(e, previous.isValid() ? previous : now);
            continue;
        }
        if (previous.isValid() && previous > *last) {
            if (e.catchUp) {
                qCInfo(lcScheduler).noquote()
                    << proto::runKindName(e.kind) << "of job" << e.job << "was due at"
                    << formatTimestamp(previous) << "while the agent was down (last scheduled run"
                    << formatTimestamp(*last) << "): catching up once now";
                catchUps.append({e, previous});
            } else {
                qCWarning(lcScheduler).noquote()
                    << proto::runKindName(e.kind) << "of job" << e.job << "was due at"
                    << formatTimestamp(previous) << "while the agent was down; catch_up is off, so"
                    << "it waits for" << (e.next.isValid() ? formatTimestamp(e.next) : u"never"_s);
            }
            persist(e, previous);
        } else {
            persist(e, std::nullopt);
        }
    }
    for (const auto &[e, slot] : std::as_const(catchUps))
        Q_EMIT due(e.job, e.kind, u"catchup"_s, slot);
    arm();
    Q_EMIT planChanged();
}

void Scheduler::stop()
{
    m_started = false;
    m_timer.stop();
}

void Scheduler::tick()
{
    if (!m_started)
        return;
    const QDateTime now = m_clock->now();
    QList<std::pair<Entry, QDateTime>> fired;
    for (Entry &e : m_entries) {
        if (!e.next.isValid() || e.next > now)
            continue;
        const QDateTime slot = e.next;
        // Woken late (suspend, clock step): the missed times collapse into this one run.
        e.next = e.schedule.nextRun(std::max(slot, now));
        persist(e, slot);
        fired.append({e, slot});
    }
    for (const auto &[e, slot] : std::as_const(fired)) {
        qCInfo(lcScheduler).noquote() << proto::runKindName(e.kind) << "of job" << e.job << "is due ("
                                      << formatTimestamp(slot) << "); next at"
                                      << (e.next.isValid() ? formatTimestamp(e.next) : u"never"_s);
        Q_EMIT due(e.job, e.kind, u"schedule"_s, slot);
    }
    if (!fired.isEmpty())
        Q_EMIT planChanged();
    arm();
}

void Scheduler::arm()
{
    if (!m_started)
        return;
    const QDateTime now = m_clock->now();
    qint64 wait = std::chrono::milliseconds(kMaxSleep).count();
    for (const Entry &e : std::as_const(m_entries))
        if (e.next.isValid())
            wait = std::min(wait, std::max<qint64>(0, now.msecsTo(e.next)));
    m_timer.start(int(wait));
}

} // namespace sparky::agent
