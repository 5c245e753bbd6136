#pragma once

// The wall clock the daemon plans with (the KeePassXC Clock seam). The scheduler never
// trusts a long QTimer to track wall time: it sleeps at most a minute and asks the clock
// again, so a suspended machine or a clock step is noticed. Tests inject a clock they set
// by hand and emit changed() to make the scheduler look again at once.
//
// Threading: used on the daemon's thread.

#include <QDateTime>
#include <QObject>

namespace sparky::agent {

class Clock : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Clock)

public:
    explicit Clock(QObject *parent = nullptr)
        : QObject(parent)
    {
    }
    ~Clock() override = default;

    virtual QDateTime now() const = 0; // UTC

Q_SIGNALS:
    // The time moved other than by ticking (set by a test, or a detected step).
    void changed();
};

class SystemClock final : public Clock
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SystemClock)

public:
    explicit SystemClock(QObject *parent = nullptr)
        : Clock(parent)
    {
    }
    QDateTime now() const override { return QDateTime::currentDateTimeUtc(); }
};

} // namespace sparky::agent
