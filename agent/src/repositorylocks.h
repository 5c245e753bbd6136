#pragma once

// One run per repository at a time within this process; others wait in the order they
// asked. A RunExecutor acquires its repository before its first step and releases it when
// it finishes. (Borg's own repository lock still guards against other processes; this one
// stops the agent from racing itself into lock timeouts.)
//
// Lives on one thread (the agent's main thread); the `granted` callback is always called
// later from the event loop (queued to `context`), never from inside acquire() or release().
// A ticket whose context object is destroyed is dropped from the queue.

#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>
#include <functional>

namespace sparky::agent {

class RepositoryLocks final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RepositoryLocks)

public:
    using Ticket = quint64;

    explicit RepositoryLocks(QObject *parent = nullptr);
    ~RepositoryLocks() override;

    // Queues for `repository` (its URL); `granted` runs once the lock is this ticket's.
    Ticket acquire(const QString &repository, QObject *context, std::function<void()> granted);
    // Releases a held lock, or withdraws a waiting ticket. Unknown tickets are ignored.
    void release(Ticket ticket);

    bool isHeld(const QString &repository) const;
    qsizetype waiting(const QString &repository) const; // tickets queued behind the holder

private:
    struct Waiter
    {
        Ticket ticket = 0;
        QPointer<QObject> context;
        std::function<void()> granted;
    };
    struct Queue
    {
        Ticket holder = 0;
        QList<Waiter> waiters;
    };
    void grantNext(const QString &repository);

    QHash<QString, Queue> m_queues;
    QHash<Ticket, QString> m_ticketRepository;
    Ticket m_nextTicket = 1;
};

} // namespace sparky::agent
