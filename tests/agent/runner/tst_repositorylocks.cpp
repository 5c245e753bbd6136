// RepositoryLocks: one holder per repository, waiters granted in order, never re-entrantly.
#include "repositorylocks.h"

#include <QTest>

using namespace sparky::agent;
using namespace Qt::StringLiterals;

class TestRepositoryLocks : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void grantsInOrderPerRepository()
    {
        RepositoryLocks locks;
        QObject ctx;
        QStringList log;
        const auto a = locks.acquire(u"/r1"_s, &ctx, [&] { log.append(u"a"_s); });
        const auto b = locks.acquire(u"/r1"_s, &ctx, [&] { log.append(u"b"_s); });
        const auto c = locks.acquire(u"/r1"_s, &ctx, [&] { log.append(u"c"_s); });
        const auto other = locks.acquire(u"/r2"_s, &ctx, [&] { log.append(u"other"_s); });
        QVERIFY(log.isEmpty()); // never inside acquire()
        QTRY_COMPARE(log, (QStringList { u"a"_s, u"other"_s }));
        QVERIFY(locks.isHeld(u"/r1"_s));
        QCOMPARE(locks.waiting(u"/r1"_s), 2);
        locks.release(b); // withdraw a waiter
        QCOMPARE(locks.waiting(u"/r1"_s), 1);
        locks.release(a);
        QVERIFY(log.size() == 2); // deferred again
        QTRY_COMPARE(log, (QStringList { u"a"_s, u"other"_s, u"c"_s }));
        locks.release(c);
        locks.release(other);
        QTRY_VERIFY(!locks.isHeld(u"/r1"_s) && !locks.isHeld(u"/r2"_s));
        locks.release(12345); // unknown: ignored
    }

    void skipsWaitersWhoseContextIsGone()
    {
        RepositoryLocks locks;
        QObject keep;
        bool lateGranted = false;
        const auto first = locks.acquire(u"/r"_s, &keep, [] {});
        {
            QObject gone;
            locks.acquire(u"/r"_s, &gone, [] { QFAIL("granted to a destroyed waiter"); });
        }
        locks.acquire(u"/r"_s, &keep, [&] { lateGranted = true; });
        QTRY_VERIFY(locks.isHeld(u"/r"_s));
        locks.release(first);
        QTRY_VERIFY(lateGranted);
    }
};

QTEST_GUILESS_MAIN(TestRepositoryLocks)
#include "tst_repositorylocks.moc"
