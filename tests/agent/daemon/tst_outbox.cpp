// The durable outbox: insertion order across a reopen, coalescing of progress and
// heartbeats, and the size bound that drops progress first and never a finished run.

#include "outbox.h"
#include "statestore.h"

#include "sparky/protocol.h"

#include <QSignalSpy>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::agent;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

Envelope makeEvent(QLatin1StringView type, const QString &runId = {})
{
    QJsonObject body;
    if (!runId.isEmpty())
        body.insert(u"run_id"_s, runId);
    return Envelope::make(QString(type), u"t-node"_s, body);
}

QStringList ids(Outbox &o)
{
    QStringList out;
    auto entries = o.next(0, 1000);
    if (!entries)
        return {u"error: "_s + entries.error().toString()};
    for (const OutboxEntry &e : *entries)
        out << e.id;
    return out;
}

} // namespace

class TestOutbox : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void orderSurvivesReopen()
    {
        QTemporaryDir dir;
        QStringList expected;
        qint64 lastSeq = 0;
        {
            auto store = StateStore::open(dir.path());
            QVERIFY2(store, qPrintable(store ? QString() : store.error().toString()));
            Outbox o(store->get(), 1000);
            QVERIFY(o.open());
            for (int i = 0; i < 5; ++i) {
                Envelope e = makeEvent(proto::type::RunStarted, u"r%1"_s.arg(i));
                expected << e.id;
                auto added = o.add(e);
                QVERIFY(added);
                QCOMPARE(*added, Outbox::Added::Stored);
            }
            QCOMPARE(o.size(), 5);
            auto entries = o.next(0, 10);
            QVERIFY(entries);
            QCOMPARE(entries->first().routingKey, u"t-node.run.started"_s);
            // Confirm the first two, as the publisher would.
            QVERIFY(o.remove({entries->at(0).seq, entries->at(1).seq}));
            lastSeq = entries->last().seq;
            expected = expected.mid(2);
        }
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        Outbox o(store->get(), 1000);
        QSignalSpy size(&o, &Outbox::sizeChanged);
        QVERIFY(o.open());
        QCOMPARE(o.size(), 3);
        QCOMPARE(size.count(), 1);
        QCOMPARE(ids(o), expected);
        // Bodies are stored exactly as they will be published.
        auto entries = o.next(0, 10);
        QVERIFY(entries);
        auto parsed = parseEnvelope(entries->first().body);
        QVERIFY(parsed);
        QCOMPARE(parsed->id, expected.first());

        // Sequence numbers are never reused, even after everything was deleted.
        QList<qint64> all;
        for (const OutboxEntry &e : *entries)
            all << e.seq;
        QVERIFY(o.remove(all));
        QCOMPARE(o.size(), 0);
        QVERIFY(o.add(makeEvent(proto::type::RunFinished, u"x"_s)));
        auto after = o.next(0, 10);
        QVERIFY(after);
        QCOMPARE(after->size(), 1);
        QVERIFY(after->first().seq > lastSeq);
    }

    void coalescesProgressPerRunAndHeartbeats()
    {
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        Outbox o(store->get(), 1000);
        QVERIFY(o.open());
        const Envelope started = makeEvent(proto::type::RunStarted, u"A"_s);
        const Envelope a1 = makeEvent(proto::type::RunProgress, u"A"_s);
        const Envelope a2 = makeEvent(proto::type::RunProgress, u"A"_s);
        const Envelope b1 = makeEvent(proto::type::RunProgress, u"B"_s);
        const Envelope h1 = makeEvent(proto::type::AgentHeartbeat);
        const Envelope h2 = makeEvent(proto::type::AgentHeartbeat);
        const Envelope finished = makeEvent(proto::type::RunFinished, u"A"_s);
        QCOMPARE(*o.add(started), Outbox::Added::Stored);
        QCOMPARE(*o.add(a1), Outbox::Added::Stored);
        QCOMPARE(*o.add(h1), Outbox::Added::Stored);
        QCOMPARE(*o.add(a2), Outbox::Added::Coalesced);
        QCOMPARE(*o.add(b1), Outbox::Added::Stored);
        QCOMPARE(*o.add(h2), Outbox::Added::Coalesced);
        QCOMPARE(*o.add(finished), Outbox::Added::Stored);
        QCOMPARE(ids(o), (QStringList{started.id, a2.id, b1.id, h2.id, finished.id}));
        QCOMPARE(o.size(), 5);
        QCOMPARE(o.droppedTotal(), 0);
    }

    void boundDropsProgressFirstNeverFinished()
    {
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        Outbox o(store->get(), 4);
        QVERIFY(o.open());
        QSignalSpy dropped(&o, &Outbox::dropped);

        const Envelope p1 = makeEvent(proto::type::RunProgress, u"r1"_s);
        const Envelope p2 = makeEvent(proto::type::RunProgress, u"r2"_s);
        const Envelope s3 = makeEvent(proto::type::RunStarted, u"r3"_s);
        const Envelope p3 = makeEvent(proto::type::RunProgress, u"r3"_s);
        for (const Envelope &e : {p1, p2, s3, p3})
            QVERIFY(o.add(e));
        QVERIFY(o.isFull());

        // Full: a finished event pushes out the OLDEST progress.
        const Envelope f1 = makeEvent(proto::type::RunFinished, u"r1"_s);
        QCOMPARE(*o.add(f1), Outbox::Added::Stored);
        QCOMPARE(ids(o), (QStringList{p2.id, s3.id, p3.id, f1.id}));
        QCOMPARE(o.droppedTotal(), 1);
        QCOMPARE(dropped.count(), 1);
        QCOMPARE(dropped.first().at(0).toString(), QString(proto::type::RunProgress));

        // Two more finished events use up the remaining progress.
        const Envelope f2 = makeEvent(proto::type::RunFinished, u"r2"_s);
        const Envelope f3 = makeEvent(proto::type::RunFinished, u"r3"_s);
        QVERIFY(o.add(f2));
        QVERIFY(o.add(f3));
        QCOMPARE(ids(o), (QStringList{s3.id, f1.id, f2.id, f3.id}));
        QCOMPARE(o.droppedTotal(), 3);

        // Nothing droppable is left: a new progress event is not stored …
        const Envelope p4 = makeEvent(proto::type::RunProgress, u"r4"_s);
        QCOMPARE(*o.add(p4), Outbox::Added::Dropped);
        QCOMPARE(o.size(), 4);
        QCOMPARE(o.droppedTotal(), 4);
        // … but a finished event is never dropped: it is kept above the bound.
        const Envelope f4 = makeEvent(proto::type::RunFinished, u"r4"_s);
        QCOMPARE(*o.add(f4), Outbox::Added::Stored);
        QCOMPARE(o.size(), 5);
        QCOMPARE(ids(o), (QStringList{s3.id, f1.id, f2.id, f3.id, f4.id}));
    }

    void stateDatabaseIsWalAndFullSync()
    {
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        QSqlQuery q((*store)->database());
        QVERIFY(q.exec(u"PRAGMA journal_mode"_s) && q.next());
        QCOMPARE(q.value(0).toString(), u"wal"_s);
        QVERIFY(q.exec(u"PRAGMA synchronous"_s) && q.next());
        QCOMPARE(q.value(0).toInt(), 2); // FULL
        QCOMPARE(QFileInfo((*store)->path()).permissions() & (QFile::ReadOther | QFile::ReadGroup),
                 QFile::Permissions());

        // A reader in read-only mode sees what the writer committed, while it is open.
        Outbox o(store->get(), 10);
        QVERIFY(o.open());
        QVERIFY(o.add(makeEvent(proto::type::AgentHello)));
        auto reader = StateStore::open(dir.path(), StateStore::Mode::ReadOnly);
        QVERIFY2(reader, qPrintable(reader ? QString() : reader.error().toString()));
        QSqlQuery r((*reader)->database());
        QVERIFY(r.exec(u"SELECT COUNT(*) FROM outbox"_s) && r.next());
        QCOMPARE(r.value(0).toInt(), 1);
        QVERIFY(!r.exec(u"DELETE FROM outbox"_s)); // read-only really is read-only
    }

    void newerSchemaIsRefused()
    {
        QTemporaryDir dir;
        {
            auto store = StateStore::open(dir.path());
            QVERIFY(store);
            QSqlQuery q((*store)->database());
            QVERIFY(q.exec(u"PRAGMA user_version=99"_s));
        }
        auto store = StateStore::open(dir.path());
        QVERIFY(!store);
        QVERIFY2(store.error().message.contains(u"schema version 99"_s), qPrintable(store.error().message));
    }
};

QTEST_GUILESS_MAIN(TestOutbox)
#include "tst_outbox.moc"
