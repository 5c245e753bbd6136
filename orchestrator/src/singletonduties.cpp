#include "singletonduties.h"

#include "commanddispatcher.h"
#include "orchestratorlogging.h"

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

SingletonDuties::SingletonDuties(
    Database *database, CommandDispatcher *commands, DutySettings settings, QObject *parent)
    : QObject(parent)
    , m_db(database)
    , m_commands(commands)
    , m_settings(settings)
{
    qRegisterMetaType<DutyOutcome>();
    m_timer.setInterval(m_settings.interval);
    connect(&m_timer, &QTimer::timeout, this, [this] {
        if (auto r = tick(); !r)
            qCWarning(lcDuties).noquote() << "duties failed:" << r.error().toString();
    });
}

void SingletonDuties::start()
{
    m_timer.start();
    QTimer::singleShot(0, this, [this] {
        if (auto r = tick(); !r)
            qCWarning(lcDuties).noquote() << "duties failed:" << r.error().toString();
    });
}

void SingletonDuties::stop()
{
    m_timer.stop();
    if (m_leader) {
        (void)m_db->releaseAdvisoryLock(kLeaderLockKey);
        m_leader = false;
        Q_EMIT leadershipChanged(false);
    }
}

Expected<bool> SingletonDuties::checkLeadership()
{
    Expected<bool> held = m_leader ? m_db->holdsAdvisoryLock(kLeaderLockKey)
                                   : m_db->tryAdvisoryLock(kLeaderLockKey);
    if (!held) {
        (void)m_db->ping(); // a dropped connection lost the lock; try again next tick
        held = false;
    }
    if (*held != m_leader) {
        m_leader = *held;
        qCInfo(lcDuties).noquote()
            << (m_leader ? "this replica now runs the singleton duties"
                         : "this replica no longer runs the singleton duties");
        Q_EMIT leadershipChanged(m_leader);
    }
    return m_leader;
}

Expected<qint64> SingletonDuties::deleteOlder(
    const QString &table, const QString &column, qint64 before)
{
    const QString key = u"id"_s; // runs, message_ids, dead_letters, rejected_messages
    qint64 total = 0;
    for (;;) {
        auto q = m_db->exec(u"DELETE FROM "_s + table + u" WHERE "_s + key + u" IN (SELECT "_s + key
                + u" FROM "_s + table + u" WHERE "_s + column + u" < ? LIMIT ?)"_s,
            { before, m_settings.deleteChunk });
        if (!q)
            return q.error();
        const int n = q->numRowsAffected();
        total += std::max(n, 0);
        if (n < m_settings.deleteChunk)
            return total;
    }
}

Expected<DutyOutcome> SingletonDuties::tick(const QDateTime &now)
{
    DutyOutcome out;
    auto leader = checkLeadership();
    if (!leader)
        return leader.error();
    out.leader = *leader;
    if (!out.leader) {
        Q_EMIT ticked(out);
        return out;
    }
    const qint64 t = now.toMSecsSinceEpoch();
    const qint64 offlineBefore = t - qint64(m_settings.offlineAfter.count()) * 1000;

    // Offline detection: log each transition once.
    auto gone = m_db->exec(
        u"SELECT node, last_seen FROM nodes WHERE state = 'online' AND last_seen < ?"_s,
        { offlineBefore });
    if (!gone)
        return gone.error();
    while (gone->next())
        qCWarning(lcDuties).noquote()
            << "node" << gone->value(0).toString() << "went silent: last seen"
            << formatTimestamp(
                   QDateTime::fromMSecsSinceEpoch(gone->value(1).toLongLong(), Qt::UTC));
    gone->finish();
    auto off = m_db->exec(
        u"UPDATE nodes SET state = 'offline', state_changed_at = ? WHERE state = 'online'"
        " AND last_seen < ?"_s,
        { t, offlineBefore });
    if (!off)
        return off.error();
    out.nodesWentOffline = off->numRowsAffected();
    auto on = m_db->exec(
        u"UPDATE nodes SET state = 'online', state_changed_at = ? WHERE state = 'offline'"
        " AND last_seen >= ?"_s,
        { t, offlineBefore });
    if (!on)
        return on.error();
    out.nodesCameOnline = on->numRowsAffected();

    if (m_commands) {
        auto expired = m_commands->expireOverdue(now);
        if (!expired)
            return expired.error();
        out.commandsExpired = *expired;
    }

    if (m_settings.retainRuns.count() > 0) {
        auto n = deleteOlder(
            u"runs"_s, u"started_at"_s, t - qint64(m_settings.retainRuns.count()) * 1000);
        if (!n)
            return n.error();
        out.runsDeleted = *n;
    }
    if (m_settings.retainMessageIds.count() > 0) {
        auto n = deleteOlder(u"message_ids"_s, u"received_at"_s,
            t - qint64(m_settings.retainMessageIds.count()) * 1000);
        if (!n)
            return n.error();
        out.idsDeleted = *n;
    }
    if (m_settings.retainDeadLetters.count() > 0) {
        const qint64 before = t - qint64(m_settings.retainDeadLetters.count()) * 1000;
        auto n = deleteOlder(u"dead_letters"_s, u"ts"_s, before);
        if (!n)
            return n.error();
        auto r = deleteOlder(u"rejected_messages"_s, u"ts"_s, before);
        if (!r)
            return r.error();
    }
    if (out.runsDeleted > 0 || out.idsDeleted > 0)
        qCInfo(lcDuties).noquote() << "retention removed" << out.runsDeleted << "runs and"
                                   << out.idsDeleted << "message ids";
    Q_EMIT ticked(out);
    return out;
}

} // namespace sparky::orchestrator
