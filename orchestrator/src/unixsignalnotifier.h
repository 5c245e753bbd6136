#pragma once

// Turns SIGTERM, SIGINT and SIGHUP into Qt signals: the C handler only writes the signal
// number into a socketpair; a QSocketNotifier reads it on the owner thread's event loop, so
// no Qt code ever runs inside a signal handler.
//
// Threading: one instance per process, created on the main thread before the event loop.

#include <QObject>
#include <QSocketNotifier>
#include <memory>

namespace sparky::orchestrator {

class UnixSignalNotifier final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(UnixSignalNotifier)

public:
    explicit UnixSignalNotifier(QObject *parent = nullptr);
    ~UnixSignalNotifier() override; // restores the default dispositions

    bool isValid() const { return m_notifier != nullptr; }

Q_SIGNALS:
    void terminateRequested(int signal); // SIGTERM or SIGINT
    void hangup(); // SIGHUP: reload

private:
    void readSignal();
    std::unique_ptr<QSocketNotifier> m_notifier;
};

} // namespace sparky::orchestrator
