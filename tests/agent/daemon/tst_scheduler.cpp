// The schedule service with a clock the test moves: runs fire at their cron times (with the
// job's jitter), a missed run is caught up exactly once after downtime, a wake-up after
// several missed times fires once, and a reload does not lose the next run.

#include "agentconfig.h"
#include "cronschedule.h"
#include "daemontestsupport.h"
#include "scheduler.h"
#include "statestore.h"

#include <QSignalSpy>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::agent::test;
using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
namespace proto = sparky::protocol;

namespace {

QDateTime at(int h, int m, int s = 0)
{
    return QDateTime(QDate(2026, 11, 25), QTime(h, m, s), Qt::UTC);
}

AgentConfig configWith(const QString &schedule, bool catchUp = true, std::chrono::seconds jitter = 0s,
                       const QString &checkSchedule = {})
{
    AgentConfig c;
    c.node = u"web-01"_s;
    JobConfig j;
    j.name = u"files"_s;
    j.repository = u"local"_s;
    j.schedule = schedule;
    j.timeZone = QTimeZone(QByteArrayLiteral("UTC"));
    j.catchUp = catchUp;
    j.jitter = jitter;
    j.check.schedule = checkSchedule;
    c.jobs.append(j);
    return c;
}

} // namespace

class TestScheduler : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void firesAtCronTimes()
    {
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        ManualClock clock(at(12, 0, 30));
        Scheduler s(store->get(), &clock);
        QVERIFY(s.setConfig(configWith(u"* * * * *"_s)));
        QSignalSpy due(&s, &Scheduler::due);
        s.start();
        QCOMPARE(due.count(), 0); // first start: nothing was missed
        QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Backup), at(12, 1));

        clock.set(at(12, 0, 59));
        QCOMPARE(due.count(), 0);
        clock.set(at(12, 1, 0));
        QCOMPARE(due.count(), 1);
        QCOMPARE(due.at(0).at(0).toString(), u"files"_s);
        QCOMPARE(due.at(0).at(1).value<proto::RunKind>(), proto::RunKind::Backup);
        QCOMPARE(due.at(0).at(2).toString(), u"schedule"_s);
        QCOMPARE(due.at(0).at(3).toDateTime(), at(12, 1));
        QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Backup), at(12, 2));
        QCOMPARE(*s.lastFire(u"files"_s, proto::RunKind::Backup), at(12, 1));

        // Asleep for five minutes (suspend): the missed times collapse into one run.
        clock.set(at(12, 6, 30));
        QCOMPARE(due.count(), 2);
        QCOMPARE(due.at(1).at(3).toDateTime(), at(12, 2));
        QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Backup), at(12, 7));

        // The next run is recorded for `status`.
        QSqlQuery q((*store)->database());
        QVERIFY(q.exec(u"SELECT next_fire FROM schedule WHERE job = 'files' AND kind = 'backup'"_s) && q.next());
        QCOMPARE(q.value(0).toString(), u"2026-11-25T12:07:00.000Z"_s);
    }

    void realTimerFires()
    {
        // Without a clock jump: the QTimer itself wakes the service at the due time.
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        ManualClock clock(at(12, 0, 59));
        Scheduler s(store->get(), &clock);
        QVERIFY(s.setConfig(configWith(u"* * * * *"_s)));
        QSignalSpy due(&s, &Scheduler::due);
        s.start();
        // Time moves without changed(): the timer (armed for ~1 s) must notice by itself.
        QTimer::singleShot(500, &clock, [&clock] {
            // Move silently, as real time would: no changed() signal.
            clock.blockSignals(true);
            clock.set(at(12, 1, 0));
            clock.blockSignals(false);
        });
        QTRY_COMPARE_WITH_TIMEOUT(due.count(), 1, 5000);
        QCOMPARE(due.at(0).at(3).toDateTime(), at(12, 1));
    }

    void jitterShiftsRuns()
    {
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        ManualClock clock(at(11, 59, 0));
        Scheduler s(store->get(), &clock);
        QVERIFY(s.setConfig(configWith(u"0 * * * *"_s, true, 600s)));
        QSignalSpy due(&s, &Scheduler::due);
        s.start();
        const auto offset = CronSchedule::jitterOffset(u"web-01"_s, u"files"_s, 600s);
        QVERIFY(offset >= 0s && offset < 600s);
        const QDateTime expected = at(12, 0).addSecs(offset.count());
        QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Backup), expected);
        clock.set(expected.addSecs(-1));
        QCOMPARE(due.count(), 0);
        clock.set(expected);
        QCOMPARE(due.count(), 1);
    }

    void catchUpOnceAfterDowntime_data()
    {
        QTest::addColumn<bool>("catchUp");
        QTest::newRow("catch_up on") << true;
        QTest::newRow("catch_up off") << false;
    }

    void catchUpOnceAfterDowntime()
    {
        QFETCH(bool, catchUp);
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        // The agent last fired the hourly job at 10:00, then was down until 12:30: the 11:00
        // and 12:00 runs were missed. One catch-up run, for the 12:00 slot.
        {
            ManualClock clock(at(10, 0, 5));
            Scheduler s(store->get(), &clock);
            QVERIFY(s.setConfig(configWith(u"0 * * * *"_s, catchUp)));
            s.start();
            QCOMPARE(*s.lastFire(u"files"_s, proto::RunKind::Backup), at(10, 0));
        }
        ManualClock clock(at(12, 30));
        {
            Scheduler s(store->get(), &clock);
            QVERIFY(s.setConfig(configWith(u"0 * * * *"_s, catchUp)));
            QSignalSpy due(&s, &Scheduler::due);
            s.start();
            QCOMPARE(due.count(), catchUp ? 1 : 0);
            if (catchUp) {
                QCOMPARE(due.at(0).at(2).toString(), u"catchup"_s);
                QCOMPARE(due.at(0).at(3).toDateTime(), at(12, 0));
            }
            QCOMPARE(*s.lastFire(u"files"_s, proto::RunKind::Backup), at(12, 0));
            QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Backup), at(13, 0));
        }
        // Restarted again before 13:00: nothing more to catch up.
        clock.set(at(12, 45));
        Scheduler s(store->get(), &clock);
        QVERIFY(s.setConfig(configWith(u"0 * * * *"_s, catchUp)));
        QSignalSpy due(&s, &Scheduler::due);
        s.start();
        QCOMPARE(due.count(), 0);
    }

    void checksHaveTheirOwnSchedule()
    {
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        ManualClock clock(at(12, 0, 30));
        Scheduler s(store->get(), &clock);
        QVERIFY(s.setConfig(configWith(u"0 3 * * *"_s, true, 0s, u"*/5 * * * *"_s)));
        QSignalSpy due(&s, &Scheduler::due);
        s.start();
        clock.set(at(12, 5));
        QCOMPARE(due.count(), 1);
        QCOMPARE(due.at(0).at(1).value<proto::RunKind>(), proto::RunKind::Check);
        QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Backup), QDateTime(QDate(2026, 11, 26), QTime(3, 0), Qt::UTC));
    }

    void drillsHaveTheirOwnSchedule()
    {
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        ManualClock clock(at(12, 0, 30));
        Scheduler s(store->get(), &clock);
        AgentConfig c = configWith(u"0 3 * * *"_s, true, 0s, u"0 4 * * *"_s);
        c.jobs.first().drill.schedule = u"*/10 * * * *"_s;
        QVERIFY(s.setConfig(c));
        QSignalSpy due(&s, &Scheduler::due);
        s.start();
        clock.set(at(12, 10));
        QCOMPARE(due.count(), 1);
        QCOMPARE(due.at(0).at(0).toString(), u"files"_s);
        QCOMPARE(due.at(0).at(1).value<proto::RunKind>(), proto::RunKind::Drill);
        QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Drill), at(12, 20));
        QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Check), QDateTime(QDate(2026, 11, 26), QTime(4, 0), Qt::UTC));

        // Jitter is keyed on "<job>:drill": the drill and the backup of a job spread apart.
        c.jobs.first().jitter = std::chrono::minutes(9);
        c.jobs.first().schedule = u"*/10 * * * *"_s;
        QVERIFY(s.setConfig(c));
        // Planned from now (12:10): the slot 12:10 + offset, or 12:20 for a zero offset.
        auto expected = [](const QString &key) {
            const qint64 o = CronSchedule::jitterOffset(u"web-01"_s, key, 540s).count();
            return o > 0 ? at(12, 10).addSecs(o) : at(12, 20);
        };
        QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Drill), expected(u"files:drill"_s));
        QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Backup), expected(u"files"_s));
        QVERIFY(expected(u"files:drill"_s) != expected(u"files"_s));
    }

    void reloadKeepsTheNextRun()
    {
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        ManualClock clock(at(12, 0, 30));
        Scheduler s(store->get(), &clock);
        QVERIFY(s.setConfig(configWith(u"* * * * *"_s)));
        QSignalSpy due(&s, &Scheduler::due);
        s.start();
        // The reload happens a moment after 12:01 but before the timer fired: the 12:01
        // run must still happen.
        clock.blockSignals(true);
        clock.set(at(12, 1, 0).addMSecs(100));
        clock.blockSignals(false);
        QVERIFY(s.setConfig(configWith(u"* * * * *"_s)));
        QTRY_COMPARE_WITH_TIMEOUT(due.count(), 1, 2000);
        QCOMPARE(due.at(0).at(3).toDateTime(), at(12, 1));

        // A changed schedule is planned from now; an invalid one is refused and changes nothing.
        QVERIFY(s.setConfig(configWith(u"30 * * * *"_s)));
        QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Backup), at(12, 30));
        QVERIFY(!s.setConfig(configWith(u"61 * * * *"_s)));
        QCOMPARE(*s.nextRun(u"files"_s, proto::RunKind::Backup), at(12, 30));
    }
};

QTEST_GUILESS_MAIN(TestScheduler)
#include "tst_scheduler.moc"
