#include "commandwatcher.h"

#include "orchestratorlogging.h"
#include "storequeries.h"

#include <QList>
#include <QSet>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

CommandWatcher::CommandWatcher(
    Database *database, std::chrono::milliseconds pollInterval, QObject *parent)
    : QObject(parent)
    , m_db(database)
{
    m_timer.setInterval(pollInterval);
    connect(&m_timer, &QTimer::timeout, this, &CommandWatcher::poll);
}

CommandWatcher::~CommandWatcher() = default;

quint64 CommandWatcher::watch(
    const QString &commandId, std::chrono::milliseconds timeout, Callback callback)
{
    const quint64 handle = m_next++;
    m_entries.emplace(handle, Entry { commandId, QDeadlineTimer(timeout), std::move(callback) });
    schedule();
    poke(); // it may be final already (a redelivered request resuming its wait)
    return handle;
}

void CommandWatcher::cancel(quint64 handle)
{
    m_entries.erase(handle);
    schedule();
}

void CommandWatcher::cancelAll(const QString &reason)
{
    std::map<quint64, Entry> all;
    all.swap(m_entries);
    schedule();
    for (auto &[handle, entry] : all) {
        Outcome o;
        o.kind = Outcome::Kind::Cancelled;
        o.error = reason;
        auto row = StoreQueries(*m_db).command(entry.commandId);
        if (row)
            o.command = *row;
        entry.callback(o);
    }
}

void CommandWatcher::poke()
{
    if (m_pokeQueued || m_entries.empty())
        return;
    m_pokeQueued = true;
    QMetaObject::invokeMethod(this, &CommandWatcher::poll, Qt::QueuedConnection);
}

void CommandWatcher::schedule()
{
    if (m_entries.empty())
        m_timer.stop();
    else if (!m_timer.isActive())
        m_timer.start();
}

void CommandWatcher::poll()
{
    m_pokeQueued = false;
    if (m_entries.empty() || m_polling) {
        schedule();
        return;
    }
    m_polling = true;
    ++m_polls;
    StoreQueries queries(*m_db);

    QSet<QString> ids;
    for (const auto &[handle, entry] : m_entries)
        ids.insert(entry.commandId);
    QList<std::pair<Callback, Outcome>> calls;
    auto finals = queries.commandsById(QStringList(ids.cbegin(), ids.cend()), true);
    if (!finals)
        qCWarning(lcRpc).noquote() << "reading the state of" << ids.size()
                                   << "awaited commands failed:" << finals.error().toString();
    if (finals) {
        for (auto it = m_entries.begin(); it != m_entries.end();) {
            const auto row = finals->constFind(it->second.commandId);
            if (row == finals->constEnd()) {
                ++it;
                continue;
            }
            calls.append(
                { std::move(it->second.callback), Outcome { Outcome::Kind::Final, *row, {} } });
            it = m_entries.erase(it);
        }
    }

    // Deadlines: answer with the row as it stands, so the caller learns how far it got.
    QStringList late;
    for (const auto &[handle, entry] : m_entries)
        if (entry.deadline.hasExpired())
            late.append(entry.commandId);
    if (!late.isEmpty()) {
        late.removeDuplicates();
        auto rows = queries.commandsById(late, false);
        for (auto it = m_entries.begin(); it != m_entries.end();) {
            if (!it->second.deadline.hasExpired()) {
                ++it;
                continue;
            }
            Outcome o;
            o.kind = Outcome::Kind::TimedOut;
            if (rows)
                o.command = rows->value(it->second.commandId);
            else
                o.error = rows.error().toString();
            calls.append({ std::move(it->second.callback), o });
            it = m_entries.erase(it);
        }
    }
    m_polling = false;
    schedule();
    // Only now: a callback may watch again.
    for (auto &[callback, outcome] : calls)
        callback(outcome);
}

} // namespace sparky::orchestrator
