#include "repositorylocks.h"

#include <QTimer>

namespace sparky::agent {

RepositoryLocks::RepositoryLocks(QObject *parent)
    : QObject(parent)
{ }

RepositoryLocks::~RepositoryLocks() = default;

RepositoryLocks::Ticket RepositoryLocks::acquire(
    const QString &repository, QObject *context, std::function<void()> granted)
{
    const Ticket t = m_nextTicket++;
    m_ticketRepository.insert(t, repository);
    m_queues[repository].waiters.append(Waiter { t, context, std::move(granted) });
    // Granting is always deferred, so callers never see a callback inside acquire().
    QTimer::singleShot(0, this, [this, repository] { grantNext(repository); });
    return t;
}

void RepositoryLocks::release(Ticket ticket)
{
    const auto it = m_ticketRepository.constFind(ticket);
    if (it == m_ticketRepository.constEnd())
        return;
    const QString repository = *it;
    m_ticketRepository.erase(it);
    Queue &q = m_queues[repository];
    if (q.holder == ticket) {
        q.holder = 0;
        QTimer::singleShot(0, this, [this, repository] { grantNext(repository); });
    } else {
        q.waiters.removeIf([ticket](const Waiter &w) { return w.ticket == ticket; });
    }
    if (q.holder == 0 && q.waiters.isEmpty())
        m_queues.remove(repository);
}

void RepositoryLocks::grantNext(const QString &repository)
{
    auto it = m_queues.find(repository);
    if (it == m_queues.end() || it->holder != 0)
        return;
    while (!it->waiters.isEmpty()) {
        Waiter w = it->waiters.takeFirst();
        if (!w.context) { // its run is gone
            m_ticketRepository.remove(w.ticket);
            continue;
        }
        it->holder = w.ticket;
        QMetaObject::invokeMethod(w.context.data(), std::move(w.granted), Qt::QueuedConnection);
        return;
    }
    m_queues.erase(it);
}

bool RepositoryLocks::isHeld(const QString &repository) const
{
    const auto it = m_queues.constFind(repository);
    return it != m_queues.constEnd() && it->holder != 0;
}

qsizetype RepositoryLocks::waiting(const QString &repository) const
{
    const auto it = m_queues.constFind(repository);
    return it == m_queues.constEnd() ? 0 : it->waiters.size();
}

} // namespace sparky::agent
