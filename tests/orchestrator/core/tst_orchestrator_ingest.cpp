// Ingestion against the real broker (ctest fixture `broker`) into BOTH SQLite and a real
// PostgreSQL: agent-shaped events published by a node's own broker user end up as one run
// row; duplicates and replays change nothing; a spoofed `node` and malformed messages are
// rejected, counted and dead-lettered while good events keep flowing.

#include "database.h"
#include "deadletterconsumer.h"
#include "eventfactory.h"
#include "ingestor.h"
#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "testbroker.h"
#include "teststore.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::orchestrator;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

class TestOrchestratorIngest : public QObject
{
    Q_OBJECT

    std::shared_ptr<TestBroker> m_broker;
    QTemporaryDir m_dir;
    std::unique_ptr<Database> m_db;
    std::unique_ptr<AmqpClient> m_consumer;
    std::unique_ptr<Ingestor> m_ingestor;
    std::unique_ptr<DeadLetterConsumer> m_dead;
    std::unique_ptr<AmqpClient> m_publisher;
    QString m_node;
    int m_serial = 0;

    qint64 count(const QString &sql, const QVariantList &values = {})
    {
        auto q = m_db->exec(sql, values);
        return q && q->next() ? q->value(0).toLongLong() : -1;
    }

    // Publishes and waits for every broker confirm (the agent's outbox does the same).
    bool publishAll(const QList<OutgoingMessage> &messages)
    {
        QSet<quint64> pending;
        QList<Error> failures;
        auto c1 = connect(
            m_publisher.get(), &AmqpClient::confirmed, this, [&](const QList<quint64> &t) {
                for (quint64 x : t)
                    pending.remove(x);
            });
        auto c2 = connect(m_publisher.get(), &AmqpClient::publishFailed, this,
            [&](quint64, const Error &e) { failures.append(e); });
        for (const OutgoingMessage &m : messages)
            pending.insert(m_publisher->publish(m));
        const bool ok
            = QTest::qWaitFor([&] { return pending.isEmpty() || !failures.isEmpty(); }, 20000);
        disconnect(c1);
        disconnect(c2);
        if (!failures.isEmpty())
            qWarning() << "publish failed:" << failures.first().toString();
        return ok && failures.isEmpty();
    }

    QList<OutgoingMessage> messages(const QList<Envelope> &events)
    {
        QList<OutgoingMessage> out;
        for (const Envelope &e : events)
            out.append(eventMessage(e, m_node));
        return out;
    }

private Q_SLOTS:
    void initTestCase_data()
    {
        QTest::addColumn<QString>("backend");
        QTest::newRow("sqlite") << u"sqlite"_s;
        QTest::newRow("postgres") << u"postgres"_s;
    }

    void initTestCase()
    {
        auto b = TestBroker::shared();
        QVERIFY2(b, qPrintable(b ? QString() : b.error().toString()));
        m_broker = *b;
    }

    void init()
    {
        QFETCH_GLOBAL(QString, backend);
        const QString tag = u"ingest_%1_%2"_s.arg(backend).arg(++m_serial);
        QDir().mkpath(m_dir.filePath(tag));
        auto settings = storeFor(backend, m_dir.filePath(tag), tag);
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().toString()));
        auto db = Database::open(*settings, tag);
        QVERIFY2(db, qPrintable(db ? QString() : db.error().toString()));
        m_db = std::move(*db);

        m_node = u"ingest-"_s + backend;
        auto nodeSettings = m_broker->node(m_node);
        QVERIFY2(
            nodeSettings, qPrintable(nodeSettings ? QString() : nodeSettings.error().toString()));
        m_publisher = std::make_unique<AmqpClient>(*nodeSettings);
        m_consumer = std::make_unique<AmqpClient>(m_broker->orchestrator());
        m_ingestor = std::make_unique<Ingestor>(
            m_consumer.get(), *settings, IngestSettings {}, nullptr, tag + u"-writer"_s);
        m_dead = std::make_unique<DeadLetterConsumer>(m_consumer.get(), m_db.get(), nullptr);
        QSignalSpy up(m_consumer.get(), &AmqpClient::connected);
        QSignalSpy pubUp(m_publisher.get(), &AmqpClient::connected);
        m_ingestor->start();
        m_dead->start();
        m_consumer->start();
        m_publisher->start();
        QTRY_COMPARE_WITH_TIMEOUT(up.count(), 1, 15000);
        QTRY_COMPARE_WITH_TIMEOUT(pubUp.count(), 1, 15000);
    }

    void cleanup()
    {
        if (m_ingestor)
            m_ingestor->stop();
        if (m_publisher)
            m_publisher->stop();
        if (m_consumer)
            m_consumer->stop();
        m_dead.reset();
        m_ingestor.reset();
        m_consumer.reset();
        m_publisher.reset();
        m_db.reset();
    }

    void agentRunBecomesOneRowWithStats()
    {
        AgentRun run { m_node };
        run.runId = u"run-one-"_s + QString::number(m_serial);
        run.progressEvents = 3;
        QList<Envelope> events { helloEnvelope(
            m_node, { proto::JobInfo { u"home"_s, u"/r"_s, u"@daily"_s, 86400 } }) };
        events += run.events();
        QVERIFY(publishAll(messages(events)));
        const QString id = QString(m_node + u':' + run.runId);
        QTRY_COMPARE_WITH_TIMEOUT(
            count(u"SELECT COUNT(*) FROM runs WHERE id = ? AND status = 'success'"_s, { id }), 1,
            15000);
        auto q = m_db->exec(
            u"SELECT original_size, deduplicated_size, files, archive_name, job, kind FROM runs WHERE id = ?"_s,
            { id });
        QVERIFY(q && q->next());
        QCOMPARE(q->value(0).toLongLong(), run.originalSize);
        QCOMPARE(q->value(1).toLongLong(), run.deduplicatedSize);
        QCOMPARE(q->value(2).toLongLong(), 1234);
        QCOMPARE(q->value(3).toString(), m_node + u"-home-"_s + run.runId);
        QCOMPARE(count(u"SELECT COUNT(*) FROM runs WHERE node = ?"_s, { m_node }), 1);
        QCOMPARE(
            count(u"SELECT rpo_seconds FROM jobs WHERE node = ? AND job = 'home'"_s, { m_node }),
            86400);
        // The counters move when the writer's commit result reaches this thread, which can be
        // just after the rows became visible.
        QTRY_VERIFY_WITH_TIMEOUT(m_ingestor->stats().stored >= quint64(events.size()), 5000);
        // Acked after commit: nothing left unacknowledged on the queue once the rows exist.
        QTRY_COMPARE_WITH_TIMEOUT(m_ingestor->pending(), 0, 5000);
    }

    void duplicatesAndReplaysLeaveOneRow()
    {
        AgentRun run { m_node };
        run.runId = u"run-dup-"_s + QString::number(m_serial);
        const QList<Envelope> events = run.events();
        QVERIFY(publishAll(messages(events)));
        const QString id = QString(m_node + u':' + run.runId);
        QTRY_COMPARE_WITH_TIMEOUT(
            count(u"SELECT COUNT(*) FROM runs WHERE id = ? AND status = 'success'"_s, { id }), 1,
            15000);
        const quint64 dupsBefore = m_ingestor->stats().duplicates;
        const qint64 storedIds = count(u"SELECT COUNT(*) FROM message_ids"_s);

        // The broker delivers the same messages again (an agent that lost its confirms
        // republishes them), then an outbox replay sends all of them once more.
        QVERIFY(publishAll(messages(events) + messages(events)));
        QVERIFY(publishAll(messages(events)));
        QTRY_COMPARE_WITH_TIMEOUT(
            m_ingestor->stats().duplicates, dupsBefore + quint64(3 * events.size()), 15000);
        QCOMPARE(count(u"SELECT COUNT(*) FROM runs WHERE node = ? AND run_id = ?"_s,
                     { m_node, run.runId }),
            1);
        QCOMPARE(count(u"SELECT COUNT(*) FROM message_ids"_s), storedIds);
        QCOMPARE(
            count(u"SELECT COUNT(*) FROM runs WHERE id = ? AND status = 'success'"_s, { id }), 1);
    }

    void spoofedNodeIsRejectedCountedAndDeadLettered()
    {
        QSignalSpy rejected(m_ingestor.get(), &Ingestor::eventRejected);
        QSignalSpy dead(m_dead.get(), &DeadLetterConsumer::deadLetterRecorded);
        AgentRun forged { u"victim-node"_s }; // the envelope claims another node…
        forged.runId = u"forged-"_s + QString::number(m_serial);
        forged.status = proto::Status::Failed;
        const Envelope e = forged.events().last();
        // …but the broker-validated user_id is ours, and our routing key is all we may use.
        QVERIFY(publishAll({ eventMessage(e, m_node) }));
        QTRY_COMPARE_WITH_TIMEOUT(rejected.count(), 1, 15000);
        QCOMPARE(rejected.first().at(0).toString(), u"spoofed_node"_s);
        QVERIFY2(rejected.first().at(1).toString().contains(u"victim-node"_s),
            qPrintable(rejected.first().at(1).toString()));
        QCOMPARE(m_ingestor->stats().rejectedByReason.value(u"spoofed_node"_s), quint64(1));
        QCOMPARE(count(u"SELECT COUNT(*) FROM runs WHERE node = 'victim-node'"_s), 0);
        QCOMPARE(
            count(u"SELECT COUNT(*) FROM rejected_messages WHERE message_id = ? AND user_id = ?"_s,
                { e.id, m_node }),
            1);
        // The broker dead-letters the rejected message to sparky.orchestrator.dead.
        QTRY_VERIFY_WITH_TIMEOUT(
            count(u"SELECT COUNT(*) FROM dead_letters WHERE message_id = ? AND reason = 'rejected'"
                  " AND queue = 'sparky.orchestrator.events'"_s,
                { e.id })
                == 1,
            15000);
    }

    void malformedMessagesAreDeadLetteredWhileGoodOnesFlow()
    {
        QSignalSpy rejected(m_ingestor.get(), &Ingestor::eventRejected);
        AgentRun run { m_node };
        run.runId = u"run-mixed-"_s + QString::number(m_serial);
        const QList<Envelope> good = run.events();

        auto raw = [&](const QByteArray &body, const QString &id, const QString &type) {
            OutgoingMessage m;
            m.exchange = QString(proto::kEventsExchange);
            m.routingKey = proto::eventRoutingKey(m_node, type);
            m.body = body;
            m.properties.messageId = id;
            m.properties.type = type;
            m.properties.userId = m_node;
            m.properties.timestamp = QDateTime::currentDateTimeUtc();
            return m;
        };
        const QString p = u"bad-%1-"_s.arg(m_serial);
        Envelope badBody = Envelope::make(
            QString(proto::type::RunFinished), m_node, { { u"run_id"_s, u"x"_s } });
        Envelope unknownType = Envelope::make(u"run.exploded"_s, m_node, {});
        QList<OutgoingMessage> mixed;
        mixed << raw(QByteArray("\x00\xff garbage", 11), p + u"garbage"_s, u"run.finished"_s)
              << eventMessage(good.at(0), m_node)
              << raw("{\"v\":1}", p + u"not-an-envelope"_s, u"run.started"_s)
              << eventMessage(good.at(1), m_node) << eventMessage(badBody, m_node)
              << eventMessage(good.at(2), m_node) << eventMessage(unknownType, m_node)
              << eventMessage(good.at(3), m_node)
              << raw(QByteArray(2 * 1024 * 1024, 'x'), p + u"huge"_s, u"run.progress"_s);
        QVERIFY(publishAll(mixed));

        QTRY_COMPARE_WITH_TIMEOUT(
            count(
                u"SELECT COUNT(*) FROM runs WHERE node = ? AND run_id = ? AND status = 'success'"_s,
                { m_node, run.runId }),
            1, 15000);
        QTRY_COMPARE_WITH_TIMEOUT(rejected.count(), 5, 15000);
        QStringList reasons;
        for (const QList<QVariant> &r : std::as_const(rejected))
            reasons.append(r.at(1).toString());
        const QString all = reasons.join(u'\n');
        QVERIFY2(all.contains(u"malformed JSON"_s), qPrintable(all));
        QVERIFY2(all.contains(u"body.status"_s) || all.contains(u"body."_s), qPrintable(all));
        QVERIFY2(all.contains(u"unknown event type 'run.exploded'"_s), qPrintable(all));
        QVERIFY2(all.contains(u"exceeds the limit"_s), qPrintable(all));
        QStringList categories;
        for (const QList<QVariant> &r : std::as_const(rejected))
            categories.append(r.at(0).toString());
        categories.sort();
        QCOMPARE(categories,
            (QStringList {
                u"parse"_s, u"too_large"_s, u"validation"_s, u"validation"_s, u"validation"_s }));
        QCOMPARE(
            count(u"SELECT COUNT(*) FROM rejected_messages WHERE user_id = ?"_s, { m_node }), 5);
        QTRY_VERIFY_WITH_TIMEOUT(
            count(u"SELECT COUNT(*) FROM dead_letters WHERE message_id IN (?, ?, ?, ?, ?)"_s,
                { QString(p + u"garbage"_s), QString(p + u"not-an-envelope"_s), badBody.id,
                    unknownType.id, QString(p + u"huge"_s) })
                == 5,
            15000);
    }
};

QTEST_GUILESS_MAIN(TestOrchestratorIngest)
#include "tst_orchestrator_ingest.moc"
