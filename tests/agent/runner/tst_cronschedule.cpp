// Cron parsing and evaluation, including daylight-saving changes, and the per-node jitter.
#include "cronschedule.h"

#include <QSet>
#include <QTest>

using namespace sparky::agent;
using namespace Qt::StringLiterals;

namespace {
QDateTime utc(const char *iso)
{
    QDateTime t = QDateTime::fromString(QString::fromLatin1(iso), Qt::ISODate);
    return t.toUTC();
}
} // namespace

class TestCronSchedule : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void nextRun_data()
    {
        QTest::addColumn<QString>("expr");
        QTest::addColumn<QString>("zone");
        QTest::addColumn<QDateTime>("after");
        QTest::addColumn<QDateTime>("expected");
        const QString berlin = u"Europe/Berlin"_s;
        QTest::newRow("every 15 min") << u"*/15 * * * *"_s << u"UTC"_s
                                      << utc("2026-01-01T00:07:00Z") << utc("2026-01-01T00:15:00Z");
        QTest::newRow("strictly after")
            << u"*/15 * * * *"_s << u"UTC"_s << utc("2026-01-01T00:15:00Z")
            << utc("2026-01-01T00:30:00Z");
        QTest::newRow("seconds past") << u"0 * * * *"_s << u"UTC"_s << utc("2026-01-01T05:00:30Z")
                                      << utc("2026-01-01T06:00:00Z");
        QTest::newRow("step from value")
            << u"5/20 * * * *"_s << u"UTC"_s << utc("2026-01-01T00:26:00Z")
            << utc("2026-01-01T00:45:00Z");
        QTest::newRow("list and range")
            << u"0 1,4-5 * * *"_s << u"UTC"_s << utc("2026-01-01T02:00:00Z")
            << utc("2026-01-01T04:00:00Z");
        QTest::newRow("winter Berlin") << u"0 3 * * *"_s << berlin << utc("2026-01-10T00:00:00Z")
                                       << utc("2026-01-10T02:00:00Z");
        QTest::newRow("summer Berlin") << u"0 3 * * *"_s << berlin << utc("2026-07-10T00:00:00Z")
                                       << utc("2026-07-10T01:00:00Z");
        // 2026-03-29 02:00 CET → 03:00 CEST: 02:30 does not exist, runs at 03:00 CEST once.
        QTest::newRow("spring gap") << u"30 2 * * *"_s << berlin << utc("2026-03-28T12:00:00Z")
                                    << utc("2026-03-29T01:00:00Z");
        QTest::newRow("after gap run") << u"30 2 * * *"_s << berlin << utc("2026-03-29T01:00:00Z")
                                       << utc("2026-03-30T00:30:00Z");
        QTest::newRow("gap many times once")
            << u"*/15 2 * * *"_s << berlin << utc("2026-03-29T00:50:00Z")
            << utc("2026-03-29T01:00:00Z");
        QTest::newRow("gap many times, next day")
            << u"*/15 2 * * *"_s << berlin << utc("2026-03-29T01:00:00Z")
            << utc("2026-03-30T00:00:00Z");
        QTest::newRow("gap and 03:00 collapse")
            << u"30 2,3 * * *"_s << berlin << utc("2026-03-29T01:00:00Z")
            << utc("2026-03-29T01:30:00Z");
        // 2026-10-25 03:00 CEST → 02:00 CET: 02:30 happens twice, runs at the first.
        QTest::newRow("autumn first occurrence")
            << u"30 2 * * *"_s << berlin << utc("2026-10-24T12:00:00Z")
            << utc("2026-10-25T00:30:00Z");
        QTest::newRow("autumn not twice")
            << u"30 2 * * *"_s << berlin << utc("2026-10-25T00:30:00Z")
            << utc("2026-10-26T01:30:00Z");
        QTest::newRow("autumn hourly skips repeat")
            << u"0 * * * *"_s << berlin << utc("2026-10-25T00:00:00Z")
            << utc("2026-10-25T02:00:00Z");
        QTest::newRow("autumn from second pass")
            << u"*/30 * * * *"_s << berlin << utc("2026-10-25T01:10:00Z")
            << utc("2026-10-25T02:00:00Z");
        QTest::newRow("US spring gap")
            << u"30 2 * * *"_s << u"America/New_York"_s << utc("2026-03-08T05:00:00Z")
            << utc("2026-03-08T07:00:00Z");
        // Vixie: both day fields restricted → either matches.
        QTest::newRow("dom or dow: dom")
            << u"0 0 10 * 5"_s << u"UTC"_s << utc("2026-02-06T00:00:00Z")
            << utc("2026-02-10T00:00:00Z");
        QTest::newRow("dom or dow: dow")
            << u"0 0 10 * 5"_s << u"UTC"_s << utc("2026-02-10T00:00:00Z")
            << utc("2026-02-13T00:00:00Z");
        QTest::newRow("star dom means and")
            << u"0 0 */10 * 5"_s << u"UTC"_s << utc("2026-02-01T00:00:00Z")
            << utc("2026-05-01T00:00:00Z");
        QTest::newRow("names") << u"0 12 * Jan-MAR mon-fri"_s << u"UTC"_s
                               << utc("2026-03-31T12:00:00Z") << utc("2027-01-01T12:00:00Z");
        QTest::newRow("sunday as 7") << u"0 0 * * 7"_s << u"UTC"_s << utc("2026-02-02T00:00:00Z")
                                     << utc("2026-02-08T00:00:00Z");
        QTest::newRow("@hourly") << u"@hourly"_s << u"UTC"_s << utc("2026-01-01T00:59:59Z")
                                 << utc("2026-01-01T01:00:00Z");
        QTest::newRow("@daily") << u"@daily"_s << berlin << utc("2026-01-01T00:00:00Z")
                                << utc("2026-01-01T23:00:00Z");
        QTest::newRow("@weekly") << u"@weekly"_s << u"UTC"_s << utc("2026-02-02T00:00:00Z")
                                 << utc("2026-02-08T00:00:00Z");
        QTest::newRow("@monthly") << u"@monthly"_s << u"UTC"_s << utc("2026-02-02T00:00:00Z")
                                  << utc("2026-03-01T00:00:00Z");
        QTest::newRow("@yearly") << u"@yearly"_s << u"UTC"_s << utc("2026-02-02T00:00:00Z")
                                 << utc("2027-01-01T00:00:00Z");
        QTest::newRow("leap day") << u"0 0 29 2 *"_s << u"UTC"_s << utc("2026-03-01T00:00:00Z")
                                  << utc("2028-02-29T00:00:00Z");
    }

    void nextRun()
    {
        QFETCH(QString, expr);
        QFETCH(QString, zone);
        QFETCH(QDateTime, after);
        QFETCH(QDateTime, expected);
        auto s = CronSchedule::parse(expr, QTimeZone(zone.toUtf8()));
        QVERIFY2(s.hasValue(), qPrintable(s.hasValue() ? QString() : s.error().message));
        QCOMPARE(s->nextRun(after), expected);
    }

    void previousRun_data()
    {
        QTest::addColumn<QString>("expr");
        QTest::addColumn<QString>("zone");
        QTest::addColumn<QDateTime>("before");
        QTest::addColumn<QDateTime>("expected");
        const QString berlin = u"Europe/Berlin"_s;
        QTest::newRow("at boundary") << u"0 * * * *"_s << u"UTC"_s << utc("2026-01-01T05:00:00Z")
                                     << utc("2026-01-01T05:00:00Z");
        QTest::newRow("just before") << u"0 * * * *"_s << u"UTC"_s << utc("2026-01-01T04:59:59Z")
                                     << utc("2026-01-01T04:00:00Z");
        QTest::newRow("days back") << u"0 3 * * 1"_s << u"UTC"_s << utc("2026-02-05T00:00:00Z")
                                   << utc("2026-02-02T03:00:00Z");
        QTest::newRow("spring gap") << u"30 2 * * *"_s << berlin << utc("2026-03-29T05:00:00Z")
                                    << utc("2026-03-29T01:00:00Z");
        QTest::newRow("autumn second pass")
            << u"30 2 * * *"_s << berlin << utc("2026-10-25T01:45:00Z")
            << utc("2026-10-25T00:30:00Z");
        QTest::newRow("autumn before first")
            << u"30 2 * * *"_s << berlin << utc("2026-10-25T00:29:00Z")
            << utc("2026-10-24T00:30:00Z");
    }

    void previousRun()
    {
        QFETCH(QString, expr);
        QFETCH(QString, zone);
        QFETCH(QDateTime, before);
        QFETCH(QDateTime, expected);
        auto s = CronSchedule::parse(expr, QTimeZone(zone.toUtf8()));
        QVERIFY(s.hasValue());
        QCOMPARE(s->previousRun(before), expected);
    }

    void offsetShiftsRuns()
    {
        auto s = CronSchedule::parse(u"0 3 * * *"_s, QTimeZone(0));
        QVERIFY(s.hasValue());
        s->setOffset(std::chrono::seconds(600));
        QCOMPARE(s->nextRun(utc("2026-01-01T03:05:00Z")), utc("2026-01-01T03:10:00Z"));
        QCOMPARE(s->nextRun(utc("2026-01-01T03:10:00Z")), utc("2026-01-02T03:10:00Z"));
        QCOMPARE(s->previousRun(utc("2026-01-01T03:09:59Z")), utc("2025-12-31T03:10:00Z"));
        const QList<QDateTime> runs = s->nextRuns(utc("2026-01-01T00:00:00Z"), 3);
        QCOMPARE(runs.size(), 3);
        QCOMPARE(runs.at(2), utc("2026-01-03T03:10:00Z"));
    }

    void invalid_data()
    {
        QTest::addColumn<QString>("expr");
        QTest::addColumn<QString>("message");
        QTest::newRow("too few") << u"* * *"_s << u"expected 5 fields"_s;
        QTest::newRow("minute range") << u"60 * * * *"_s << u"minute: 60 is out of range 0-59"_s;
        QTest::newRow("hour range") << u"0 24 * * *"_s << u"hour: 24 is out of range 0-23"_s;
        QTest::newRow("backwards") << u"5-1 * * * *"_s << u"range 5-1 is backwards"_s;
        QTest::newRow("zero step") << u"*/0 * * * *"_s << u"bad step"_s;
        QTest::newRow("word") << u"x * * * *"_s << u"'x' is not a number"_s;
        QTest::newRow("bad month") << u"0 0 1 foo *"_s << u"or month name"_s;
        QTest::newRow("reboot") << u"@reboot"_s << u"unknown macro"_s;
        QTest::newRow("never") << u"0 0 31 2 *"_s << u"never matches"_s;
        QTest::newRow("empty element") << u"1,,2 * * * *"_s << u"empty list element"_s;
    }

    void invalid()
    {
        QFETCH(QString, expr);
        QFETCH(QString, message);
        auto s = CronSchedule::parse(expr, QTimeZone(0));
        QVERIFY(!s.hasValue());
        QVERIFY2(s.error().message.contains(message), qPrintable(s.error().message));
        QVERIFY(s.error().message.contains(expr));
    }

    void jitter_data()
    {
        QTest::addColumn<QString>("node");
        QTest::addColumn<QString>("job");
        QTest::addColumn<qint64>("window");
        QTest::newRow("hour") << u"web-01"_s << u"etc"_s << qint64(3600);
        QTest::newRow("minute") << u"db-7"_s << u"pg"_s << qint64(60);
        QTest::newRow("one second") << u"x"_s << u"y"_s << qint64(1);
        QTest::newRow("day") << u"backup-host-99"_s << u"home"_s << qint64(86400);
    }

    void jitter()
    {
        QFETCH(QString, node);
        QFETCH(QString, job);
        QFETCH(qint64, window);
        const auto a = CronSchedule::jitterOffset(node, job, std::chrono::seconds(window));
        QCOMPARE(CronSchedule::jitterOffset(node, job, std::chrono::seconds(window)),
            a); // deterministic
        QVERIFY(a.count() >= 0 && a.count() < window);
        QCOMPARE(CronSchedule::jitterOffset(node, job, std::chrono::seconds(0)).count(), 0);
    }

    void jitterSpreadsAFleet()
    {
        // 2000 nodes over a one-hour window: every 6-minute bucket gets a fair share.
        QList<int> buckets(10, 0);
        QSet<qint64> distinct;
        for (int i = 0; i < 2000; ++i) {
            const auto o = CronSchedule::jitterOffset(
                u"node-%1"_s.arg(i), u"etc"_s, std::chrono::seconds(3600));
            buckets[int(o.count() / 360)]++;
            distinct.insert(o.count());
        }
        for (int b : buckets)
            QVERIFY2(b > 140 && b < 260, qPrintable(u"bucket count %1"_s.arg(b)));
        QVERIFY(distinct.size() > 1000);
        // Different jobs on one node spread too.
        QVERIFY(CronSchedule::jitterOffset(u"n"_s, u"a"_s, std::chrono::seconds(3600))
            != CronSchedule::jitterOffset(u"n"_s, u"b"_s, std::chrono::seconds(3600)));
    }
};

QTEST_GUILESS_MAIN(TestCronSchedule)
#include "tst_cronschedule.moc"
