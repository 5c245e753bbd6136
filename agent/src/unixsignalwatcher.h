#pragma once

// Turns Unix signals (SIGINT, SIGTERM, SIGHUP, …) into a Qt signal: the handler only
// write()s the signal number to a socketpair; a QSocketNotifier reads it in the event loop.
// One instance per process (the handler is process-wide). Lives on the main thread.

#include <QList>
#include <QObject>

class QSocketNotifier;

namespace sparky::agent {

class UnixSignalWatcher final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(UnixSignalWatcher)

public:
    explicit UnixSignalWatcher(const QList<int> &signals, QObject *parent = nullptr);
    ~UnixSignalWatcher() override; // restores the default dispositions

Q_SIGNALS:
    void received(int signal);

private:
    QList<int> m_signals;
    QSocketNotifier *m_notifier = nullptr;
};

} // namespace sparky::agent
