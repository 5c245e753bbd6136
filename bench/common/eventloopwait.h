#pragma once

// Waiting in benchmarks: a real event loop, as the daemons run, never QTest::qWaitFor — that
// one processes events in bursts with 10 ms sleeps between them, which throttles anything
// that reacts to sockets and queued signals and so makes a rate measure the sleep.
//
// Header-only; main thread; any QCoreApplication.

#include <QDeadlineTimer>
#include <QEventLoop>
#include <QObject>
#include <QTimer>
#include <functional>

namespace sparky::bench {

// Turns the event loop until `done` holds (checked every `pollMs` on a precise timer, and
// first at once) or `timeoutMs` passed; true if it held.
inline bool waitUntil(const std::function<bool()> &done, int timeoutMs, int pollMs = 1)
{
    if (done())
        return true;
    QEventLoop loop;
    QTimer tick;
    tick.setTimerType(Qt::PreciseTimer);
    tick.setInterval(pollMs);
    const QDeadlineTimer deadline(timeoutMs);
    bool ok = false;
    QObject::connect(&tick, &QTimer::timeout, &loop, [&] {
        if (done()) {
            ok = true;
            loop.quit();
        } else if (deadline.hasExpired()) {
            loop.quit();
        }
    });
    tick.start();
    loop.exec();
    return ok;
}

// Lets the event loop run for `ms` milliseconds.
inline void pause(int ms)
{
    (void)waitUntil([] { return false; }, ms, ms);
}

} // namespace sparky::bench
