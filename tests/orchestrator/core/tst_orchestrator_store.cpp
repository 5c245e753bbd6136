// The orchestrator's store on BOTH engines (SQLite file, real PostgreSQL from the ctest
// fixture `postgres`): migrations, idempotent and order-independent event application,
// command states, keyset paging, reports (validated against docs/report.schema.json),
// RPC authorisation and audit, and the singleton duties.

#include "commanddispatcher.h"
#include "database.h"
#include "eventfactory.h"
#include "eventstore.h"
#include "fleetmetrics.h"
#include "jsonschemacheck.h"
#include "reportbuilder.h"
#include "reportformatter.h"
#include "rpcserver.h"
#include "schema.h"
#include "singletonduties.h"
#include "sparky/protocol.h"
#include "storequeries.h"
#include "teststore.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::orchestrator;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

IncomingEvent incoming(const Envelope &e)
{
    auto d = decodeEvent(e);
    if (!d)
        qFatal("test event does not decode: %s", qPrintable(d.error().toString()));
    return *d;
}

QList<IncomingEvent> incoming(const QList<Envelope> &es)
{
    QList<IncomingEvent> out;
    for (const Envelope &e : es)
        out.append(incoming(e));
    return out;
}

QString sourceFile(const QString &relative)
{
    return qEnvironmentVariable("SPARKY_SOURCE_DIR") + u'/' + relative;
}

// Every violation of docs/report.schema.json in `report` (empty: valid).
QStringList schemaProblems(const QJsonObject &report)
{
    QFile schemaFile(sourceFile(u"docs/report.schema.json"_s));
    if (!schemaFile.open(QIODevice::ReadOnly))
        return { schemaFile.fileName() + u": "_s + schemaFile.errorString() };
    return JsonSchemaCheck(QJsonDocument::fromJson(schemaFile.readAll()).object()).validate(report);
}

// The job objects of a report by "node/job".
QHash<QString, QJsonObject> reportJobs(const QJsonObject &report)
{
    QHash<QString, QJsonObject> out;
    for (const QJsonValue &n : report.value("nodes"_L1).toArray())
        for (const QJsonValue &j : n.toObject().value("jobs"_L1).toArray())
            out.insert(n.toObject().value("node"_L1).toString() + u'/'
                    + j.toObject().value("job"_L1).toString(),
                j.toObject());
    return out;
}

// One CSV row of a report as column name → cell, for the row of `node`.
QHash<QString, QString> csvRow(const QByteArray &csv, const QString &node)
{
    const QList<QByteArray> lines = csv.split('\n');
    const QStringList header = QString::fromUtf8(lines.value(0)).trimmed().split(u',');
    for (const QByteArray &line : lines) {
        const QStringList cells = QString::fromUtf8(line).trimmed().split(u',');
        if (cells.value(0) != node)
            continue;
        QHash<QString, QString> row;
        for (qsizetype i = 0; i < header.size(); ++i)
            row.insert(header.at(i), cells.value(i));
        return row;
    }
    return {};
}

// The fleet metrics of a report, as the orchestrator exposes them; a complaint of
// `promtool check metrics` about them fails the calling test.
QHash<QString, double> metricsOf(const QJsonObject &report, QString *promtoolComplaint)
{
    FleetMetrics metrics(u"127.0.0.1:0"_s); // rendered, never started
    metrics.update(FleetSnapshot::fromReport(report));
    const QByteArray text = metrics.render();
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(u"promtool"_s, { u"check"_s, u"metrics"_s });
    if (!p.waitForStarted(10000)) {
        *promtoolComplaint = u"promtool did not start: "_s + p.errorString();
        return {};
    }
    p.write(text);
    p.closeWriteChannel();
    if (!p.waitForFinished(30000))
        *promtoolComplaint = u"promtool timed out"_s;
    const QString said = QString::fromUtf8(p.readAll()).trimmed();
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0 || !said.isEmpty())
        *promtoolComplaint = u"promtool check metrics (exit %1): %2\n%3"_s.arg(p.exitCode())
                                 .arg(said, QString::fromUtf8(text));
    QHash<QString, double> out;
    for (const QByteArray &raw : text.split('\n')) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.isEmpty() || line.startsWith(u'#'))
            continue;
        const qsizetype sp = line.lastIndexOf(u' ');
        out.insert(line.left(sp), line.mid(sp + 1).toDouble());
    }
    return out;
}

// "kind:status:offset" → a finished run of `node`/`job` started `offset` seconds after `t0`
// (negative: before). kind: backup, check, drill, restore; status: success … failed.
QList<IncomingEvent> runsFromSpecs(
    const QString &node, const QString &job, const QStringList &specs, const QDateTime &t0)
{
    QList<IncomingEvent> out;
    int serial = 0;
    for (const QString &spec : specs) {
        const QStringList parts = spec.split(u':');
        AgentRun r { node };
        r.job = job;
        r.runId = u"r%1-%2"_s.arg(++serial).arg(parts.value(0));
        const auto kind = proto::runKindFromName(parts.value(0));
        const auto status = proto::statusFromName(parts.value(1));
        if (parts.size() != 3 || !kind || !status)
            qFatal("bad run spec '%s'", qPrintable(spec));
        r.kind = *kind;
        r.status = *status;
        r.progressEvents = 0;
        r.start = t0.addSecs(parts.value(2).toLongLong());
        out += incoming(r.events());
    }
    return out;
}

} // namespace

class TestOrchestratorStore : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<Database> m_db;
    int m_serial = 0;

    QVariant scalar(const QString &sql, const QVariantList &values = {})
    {
        auto q = m_db->exec(sql, values);
        if (!q || !q->next())
            return {};
        return q->value(0);
    }

    // Everything about a run, to prove a replay changed nothing.
    QString runSnapshot(const QString &id)
    {
        auto q = m_db->exec(u"SELECT * FROM runs WHERE id = ?"_s, { id });
        if (!q || !q->next())
            return {};
        QStringList parts;
        for (int i = 0; i < 27; ++i)
            parts.append(q->value(i).toString());
        return parts.join(u'|');
    }

private Q_SLOTS:
    void initTestCase_data()
    {
        QTest::addColumn<QString>("backend");
        QTest::newRow("sqlite") << u"sqlite"_s;
        QTest::newRow("postgres") << u"postgres"_s;
    }

    void init()
    {
        QFETCH_GLOBAL(QString, backend);
        const QString tag = u"store_%1_%2"_s.arg(QString::fromLatin1(QTest::currentTestFunction()))
                                .arg(++m_serial);
        QDir().mkpath(m_dir.filePath(tag));
        auto settings = storeFor(backend, m_dir.filePath(tag), tag);
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().toString()));
        auto db = Database::open(*settings, u"test-"_s + tag);
        QVERIFY2(db, qPrintable(db ? QString() : db.error().toString()));
        m_db = std::move(*db);
    }

    void cleanup() { m_db.reset(); }

    void migrationsAreVersionedAndIdempotent()
    {
        QCOMPARE(m_db->schemaVersion().valueOr(-1), latestSchemaVersion());
        QCOMPARE(scalar(u"SELECT COUNT(*) FROM schema_version"_s).toInt(), latestSchemaVersion());
        QVERIFY(m_db->migrate());
        QCOMPARE(scalar(u"SELECT COUNT(*) FROM schema_version"_s).toInt(), latestSchemaVersion());
        if (m_db->dialect() == Database::Dialect::Sqlite) {
            QCOMPARE(scalar(u"PRAGMA journal_mode"_s).toString(), u"wal"_s);
            QCOMPARE(scalar(u"PRAGMA synchronous"_s).toInt(), 2); // FULL
        }
        // A store from a newer orchestrator is refused, not damaged.
        QVERIFY(m_db->exec(
            u"INSERT INTO schema_version (version, applied_at, description) VALUES (999, 0, 'future')"_s));
        const Result r = m_db->migrate();
        QVERIFY(!r);
        QVERIFY2(r.error().message.contains(u"999"_s), qPrintable(r.error().message));
    }

    void runLifecycleStoresOneRowWithStats()
    {
        EventStore store(*m_db);
        AgentRun run { u"web-01"_s };
        run.runId = u"r-1"_s;
        auto outcome = store.applyBatch(incoming(run.events()), {});
        QVERIFY2(outcome, qPrintable(outcome ? QString() : outcome.error().toString()));
        QCOMPARE(outcome->stored, 4);
        QCOMPARE(outcome->duplicates, 0);
        QVERIFY(outcome->runsFinished);
        QCOMPARE(scalar(u"SELECT COUNT(*) FROM runs"_s).toInt(), 1);
        auto q = m_db->exec(
            u"SELECT status, severity, original_size, deduplicated_size, files, archive_name,"
            " duration_ms, steps, log_tail, kind, job FROM runs WHERE id = 'web-01:r-1'"_s);
        QVERIFY(q && q->next());
        QCOMPARE(q->value(0).toString(), u"success"_s);
        QCOMPARE(q->value(1).toInt(), 0);
        QCOMPARE(q->value(2).toLongLong(), 1000000);
        QCOMPARE(q->value(3).toLongLong(), 4000);
        QCOMPARE(q->value(4).toLongLong(), 1234);
        QCOMPARE(q->value(5).toString(), u"web-01-home-r-1"_s);
        QCOMPARE(q->value(6).toLongLong(), 30000);
        QCOMPARE(QJsonDocument::fromJson(q->value(7).toString().toUtf8()).array().size(), 1);
        QVERIFY(q->value(8).toString().contains(u"rc 0"_s));
        QCOMPARE(q->value(9).toString(), u"backup"_s);
        QCOMPARE(q->value(10).toString(), u"home"_s);
        QCOMPARE(
            scalar(u"SELECT COUNT(*) FROM jobs WHERE node = 'web-01' AND job = 'home'"_s).toInt(),
            1);
        QCOMPARE(scalar(u"SELECT COUNT(*) FROM nodes WHERE node = 'web-01'"_s).toInt(), 1);
        QVERIFY(
            scalar(u"SELECT last_backup_at FROM repositories WHERE node = 'web-01'"_s).toLongLong()
            > 0);
    }

    void replayAndDuplicatesChangeNothing()
    {
        EventStore store(*m_db);
        AgentRun run { u"web-02"_s };
        run.runId = u"r-2"_s;
        const QList<IncomingEvent> events = incoming(run.events());
        QVERIFY(store.applyBatch(events, {}));
        const QString before = runSnapshot(u"web-02:r-2"_s);
        QVERIFY(!before.isEmpty());
        const qint64 ids = scalar(u"SELECT COUNT(*) FROM message_ids"_s).toLongLong();

        // Delivered again (whole batch), and the same id twice inside one batch.
        auto again = store.applyBatch(events + events, {});
        QVERIFY2(again, qPrintable(again ? QString() : again.error().toString()));
        QCOMPARE(again->stored, 0);
        QCOMPARE(again->duplicates, events.size() * 2);
        QCOMPARE(runSnapshot(u"web-02:r-2"_s), before);
        QCOMPARE(scalar(u"SELECT COUNT(*) FROM message_ids"_s).toLongLong(), ids);
        QCOMPARE(scalar(u"SELECT COUNT(*) FROM runs"_s).toInt(), 1);

        // A re-sent run.started with a NEW id (agent replay after a restart) must not reopen it.
        proto::RunStarted s = *proto::RunStarted::fromJson(events.first().envelope.body);
        auto late = store.applyBatch(
            { incoming(Envelope::make(QString(proto::type::RunStarted), u"web-02"_s, s.toJson())) },
            {});
        QVERIFY(late);
        QCOMPARE(late->stored, 1);
        QCOMPARE(
            scalar(u"SELECT status FROM runs WHERE id = 'web-02:r-2'"_s).toString(), u"success"_s);
    }

    // A batch holding a whole run writes only its run.finished (with the newest progress
    // folded in): the row must be exactly what event-by-event ingestion stores.
    void oneBatchOrOneByOneStoreTheSameRow()
    {
        EventStore store(*m_db);
        AgentRun run { u"web-05"_s };
        run.runId = u"r-5"_s;
        run.progressEvents = 3;
        const QList<IncomingEvent> events = incoming(run.events());
        const QDateTime now = QDateTime::currentDateTimeUtc();
        auto together = store.applyBatch(events, {}, now);
        QVERIFY2(together, qPrintable(together ? QString() : together.error().toString()));
        QCOMPARE(together->stored, events.size());
        const QString oneBatch = runSnapshot(u"web-05:r-5"_s);
        QVERIFY(!scalar(u"SELECT progress FROM runs WHERE id = 'web-05:r-5'"_s).isNull());
        QCOMPARE(scalar(u"SELECT status FROM runs WHERE id = 'web-05:r-5'"_s).toString(),
            u"success"_s);

        QVERIFY(m_db->exec(u"DELETE FROM runs"_s));
        QVERIFY(m_db->exec(u"DELETE FROM message_ids"_s));
        for (const IncomingEvent &e : events)
            QVERIFY(store.applyBatch({ e }, {}, now));
        QCOMPARE(runSnapshot(u"web-05:r-5"_s), oneBatch);

        // Started and progress in one batch, finished in the next: the same row again.
        QVERIFY(m_db->exec(u"DELETE FROM runs"_s));
        QVERIFY(m_db->exec(u"DELETE FROM message_ids"_s));
        QVERIFY(store.applyBatch(events.mid(0, events.size() - 1), {}, now));
        QVERIFY(store.applyBatch({ events.last() }, {}, now));
        QCOMPARE(runSnapshot(u"web-05:r-5"_s), oneBatch);
    }

    // A hook's or borg's output can hold any byte: a NUL (which PostgreSQL's text cannot hold)
    // or other control characters in the log tail or error must not cost the run its row.
    void controlCharactersInOutputAreStored()
    {
        EventStore store(*m_db);
        AgentRun run { u"web-06"_s };
        run.runId = u"r-6"_s;
        run.status = proto::Status::Failed;
        QList<Envelope> es = run.events();
        const QString tail
            = u"pg_dump: bad"_s + QChar(0) + u"byte"_s + QChar(1) + QChar(0x1b) + u"[31m\ttab\n"_s;
        es.last().body.insert(u"log_tail"_s, tail);
        es.last().body.insert(u"error"_s, QString(u"exit 2: "_s + QChar(0) + u"x"_s));
        auto done = store.applyBatch(incoming(es), {});
        QVERIFY2(done, qPrintable(done ? QString() : done.error().toString()));
        QCOMPARE(done->stored, es.size());
        auto q = m_db->exec(u"SELECT status, log_tail, error FROM runs WHERE id = 'web-06:r-6'"_s);
        QVERIFY(q && q->next());
        QCOMPARE(q->value(0).toString(), u"failed"_s);
        // NUL becomes U+FFFD; every other character is kept as sent.
        QCOMPARE(q->value(1).toString(), QString(tail).replace(QChar(0), QChar::ReplacementCharacter));
        QCOMPARE(q->value(2).toString(), u"exit 2: "_s + QChar::ReplacementCharacter + u"x"_s);

        // Values bound one by one (the other event types' statements) are stored alike.
        const QString withNul = u"a"_s + QChar(0) + u"b"_s;
        const QString stored = u"a"_s + QChar::ReplacementCharacter + u"b"_s;
        QVERIFY(m_db->exec(u"UPDATE runs SET error = ? WHERE id = 'web-06:r-6'"_s, { withNul }));
        QCOMPARE(scalar(u"SELECT error FROM runs WHERE id = 'web-06:r-6'"_s).toString(), stored);
        QVERIFY(m_db->run(u"UPDATE runs SET failed_step = ? WHERE id = 'web-06:r-6'"_s, { withNul }));
        QCOMPARE(
            scalar(u"SELECT failed_step FROM runs WHERE id = 'web-06:r-6'"_s).toString(), stored);
    }

    void arrivalOrderDoesNotMatter()
    {
        EventStore store(*m_db);
        AgentRun run { u"web-03"_s };
        run.runId = u"r-3"_s;
        run.status = proto::Status::Warning;
        QList<Envelope> es = run.events();
        // finished first, then progress, then started — in separate batches.
        QVERIFY(store.applyBatch({ incoming(es.last()) }, {}));
        QCOMPARE(
            scalar(u"SELECT status FROM runs WHERE id = 'web-03:r-3'"_s).toString(), u"warning"_s);
        QVERIFY(store.applyBatch({ incoming(es.at(1)), incoming(es.at(2)) }, {}));
        QVERIFY(store.applyBatch({ incoming(es.first()) }, {}));
        auto q = m_db->exec(
            u"SELECT status, original_size, finished_at, progress FROM runs WHERE id = 'web-03:r-3'"_s);
        QVERIFY(q && q->next());
        QCOMPARE(q->value(0).toString(), u"warning"_s);
        QCOMPARE(q->value(1).toLongLong(), 1000000);
        QVERIFY(!q->value(2).isNull());
        QVERIFY(q->value(3).isNull()); // progress after the end is ignored

        // Progress before start creates the row; start then fills in kind and repository.
        AgentRun other { u"web-03"_s };
        other.runId = u"r-4"_s;
        other.kind = proto::RunKind::Check;
        es = other.events();
        QVERIFY(store.applyBatch({ incoming(es.at(2)) }, {}));
        QCOMPARE(
            scalar(u"SELECT status FROM runs WHERE id = 'web-03:r-4'"_s).toString(), u"running"_s);
        QVERIFY(store.applyBatch({ incoming(es.at(1)) }, {})); // older progress: ignored
        QVERIFY(
            QJsonDocument::fromJson(
                scalar(u"SELECT progress FROM runs WHERE id = 'web-03:r-4'"_s).toString().toUtf8())
                .object()
                .value("files"_L1)
                .toInt()
            == 20);
        QVERIFY(store.applyBatch({ incoming(es.first()) }, {}));
        QCOMPARE(scalar(u"SELECT kind FROM runs WHERE id = 'web-03:r-4'"_s).toString(), u"check"_s);
        QCOMPARE(
            scalar(u"SELECT status FROM runs WHERE id = 'web-03:r-4'"_s).toString(), u"running"_s);
    }

    void nodesCannotTouchEachOthersRuns()
    {
        EventStore store(*m_db);
        AgentRun a { u"node-a"_s };
        a.runId = u"same-id"_s;
        AgentRun b { u"node-b"_s };
        b.runId = u"same-id"_s;
        b.status = proto::Status::Failed;
        QVERIFY(store.applyBatch(incoming(a.events()), {}));
        QVERIFY(store.applyBatch(incoming(b.events()), {}));
        QCOMPARE(scalar(u"SELECT COUNT(*) FROM runs"_s).toInt(), 2);
        QCOMPARE(
            scalar(u"SELECT status FROM runs WHERE node = 'node-a'"_s).toString(), u"success"_s);
        QCOMPARE(
            scalar(u"SELECT status FROM runs WHERE node = 'node-b'"_s).toString(), u"failed"_s);
    }

    void commandStatesOnlyMoveForward()
    {
        EventStore store(*m_db);
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        QVERIFY(m_db->exec(
            u"INSERT INTO commands (id, node, type, params, issued_by, issued_at, expires_at, "
            u"state,"
            " state_rank, updated_at) VALUES ('c-1', 'web-04', 'backup.run', '{}', 'test', ?, ?,"
            " 'published', 1, ?)"_s,
            { now, now + 60000, now }));
        auto update = [](const QString &node, proto::CommandUpdate::State st,
                          const QString &run = {}) {
            proto::CommandUpdate u;
            u.commandId = u"c-1"_s;
            u.commandType = u"backup.run"_s;
            u.state = st;
            u.runId = run;
            if (st == proto::CommandUpdate::State::Succeeded)
                u.result = QJsonObject { { u"archive"_s, u"x"_s } };
            return incoming(Envelope::make(QString(proto::type::CommandUpdate), node, u.toJson()));
        };
        using S = proto::CommandUpdate::State;
        QVERIFY(store.applyBatch({ update(u"web-04"_s, S::Succeeded, u"run-9"_s) }, {}));
        QVERIFY(store.applyBatch(
            { update(u"web-04"_s, S::Running), update(u"web-04"_s, S::Received) }, {}));
        auto q = m_db->exec(
            u"SELECT state, run_id, result, finished_at FROM commands WHERE id = 'c-1'"_s);
        QVERIFY(q && q->next());
        QCOMPARE(q->value(0).toString(), u"succeeded"_s);
        QCOMPARE(q->value(1).toString(), u"run-9"_s);
        QVERIFY(q->value(2).toString().contains(u"archive"_s));
        QVERIFY(!q->value(3).isNull());
        // Another node cannot report on it.
        QVERIFY(m_db->exec(
            u"UPDATE commands SET state = 'published', state_rank = 1 WHERE id = 'c-1'"_s));
        QVERIFY(store.applyBatch({ update(u"web-99"_s, S::Failed) }, {}));
        QCOMPARE(
            scalar(u"SELECT state FROM commands WHERE id = 'c-1'"_s).toString(), u"published"_s);
    }

    void helloSetsJobsAndRetiresRemovedOnes()
    {
        EventStore store(*m_db);
        const QDateTime t = QDateTime::currentDateTimeUtc().addSecs(-100);
        QVERIFY(store.applyBatch({ incoming(helloEnvelope(u"web-05"_s,
                                     { proto::JobInfo { u"home"_s, u"/r"_s, u"@daily"_s, 86400 },
                                         proto::JobInfo { u"db"_s, u"/r"_s, u"@hourly"_s, 7200 } },
                                     t)) },
            {}));
        QCOMPARE(scalar(u"SELECT rpo_seconds FROM jobs WHERE node = 'web-05' AND job = 'db'"_s)
                     .toLongLong(),
            7200);
        QCOMPARE(scalar(u"SELECT hostname FROM nodes WHERE node = 'web-05'"_s).toString(),
            u"web-05.example.net"_s);
        QVERIFY(store.applyBatch(
            { incoming(helloEnvelope(u"web-05"_s,
                { proto::JobInfo { u"home"_s, u"/r"_s, u"@daily"_s, 3600 } }, t.addSecs(10))) },
            {}));
        QCOMPARE(
            scalar(u"SELECT active FROM jobs WHERE node = 'web-05' AND job = 'db'"_s).toInt(), 0);
        QCOMPARE(scalar(u"SELECT rpo_seconds FROM jobs WHERE node = 'web-05' AND job = 'home'"_s)
                     .toLongLong(),
            3600);
        // An older hello arriving late does not undo the newer one.
        QVERIFY(store.applyBatch(
            { incoming(helloEnvelope(u"web-05"_s,
                { proto::JobInfo { u"home"_s, u"/r"_s, u"@daily"_s, 999 } }, t.addSecs(5))) },
            {}));
        QCOMPARE(scalar(u"SELECT rpo_seconds FROM jobs WHERE node = 'web-05' AND job = 'home'"_s)
                     .toLongLong(),
            3600);
    }

    void rejectedMessagesAreRecorded()
    {
        EventStore store(*m_db);
        RejectedEvent r;
        r.messageId = u"m-1"_s;
        r.userId = u"web-06"_s;
        r.routingKey = u"web-06.run.finished"_s;
        r.reason = u"envelope node 'web-07' differs from the broker-validated user 'web-06'"_s;
        r.excerpt = QByteArray("{\"v\":1,\0\x01 binary", 20);
        r.at = QDateTime::currentDateTimeUtc();
        QVERIFY(store.applyBatch({}, { r }));
        QVERIFY(store.applyBatch({}, { r })); // the same refusal twice is one row
        QCOMPARE(scalar(u"SELECT COUNT(*) FROM rejected_messages"_s).toInt(), 1);
        QVERIFY(scalar(u"SELECT reason FROM rejected_messages"_s).toString().contains(u"web-07"_s));
    }

    void runsQueryPagingIsStable()
    {
        EventStore store(*m_db);
        // 300 runs on 3 nodes, many sharing a start time (ties broken by id).
        const QDateTime base = QDateTime::currentDateTimeUtc().addDays(-2);
        QList<IncomingEvent> batch;
        for (int i = 0; i < 300; ++i) {
            AgentRun r { u"page-%1"_s.arg(i % 3) };
            r.runId = u"run-%1"_s.arg(i, 4, 10, QChar(u'0'));
            r.start = base.addSecs((i / 7) * 60);
            r.progressEvents = 0;
            r.status = i % 5 == 0 ? proto::Status::Failed : proto::Status::Success;
            for (const Envelope &e : r.events())
                batch.append(incoming(e));
        }
        QVERIFY(store.applyBatch(batch, {}));
        StoreQueries queries(*m_db);

        for (const bool ascending : { false, true }) {
            RunFilter all;
            all.limit = 500;
            all.ascending = ascending;
            auto full = queries.runs(all);
            QVERIFY(full);
            const QJsonArray expected = full->value("runs"_L1).toArray();
            QCOMPARE(expected.size(), ascending ? 301 : 300); // + the late run of the first pass
            QVERIFY(full->value("next_cursor"_L1).isNull());

            QJsonArray paged;
            RunFilter f;
            f.limit = 37;
            f.ascending = ascending;
            int pages = 0;
            for (;;) {
                auto page = queries.runs(f);
                QVERIFY2(page, qPrintable(page ? QString() : page.error().toString()));
                for (const QJsonValue &v : page->value("runs"_L1).toArray())
                    paged.append(v);
                ++pages;
                if (pages == 2 && !ascending) {
                    // New runs arriving between pages (newer than everything) never shift later
                    // pages.
                    AgentRun fresh { u"page-0"_s };
                    fresh.runId = u"late-%1"_s.arg(pages);
                    fresh.start = QDateTime::currentDateTimeUtc();
                    QVERIFY(store.applyBatch(incoming(fresh.events()), {}));
                }
                if (page->value("next_cursor"_L1).isNull())
                    break;
                f.cursor = page->value("next_cursor"_L1).toString();
                QVERIFY(pages < 20);
            }
            QCOMPARE(pages, 9); // ceil(300 / 37)
            QCOMPARE(paged, expected);
            // Order holds: (started_at, node:run_id) strictly monotonic.
            for (qsizetype i = 1; i < paged.size(); ++i) {
                const QJsonObject a = paged.at(i - 1).toObject();
                const QJsonObject b = paged.at(i).toObject();
                const auto ka = std::make_pair(a.value("started_at"_L1).toString(),
                    QString(
                        a.value("node"_L1).toString() + u':' + a.value("run_id"_L1).toString()));
                const auto kb = std::make_pair(b.value("started_at"_L1).toString(),
                    QString(
                        b.value("node"_L1).toString() + u':' + b.value("run_id"_L1).toString()));
                QVERIFY(ascending ? ka < kb : kb < ka);
            }
        }

        // Filters combine with paging.
        RunFilter failed;
        failed.status = u"failed"_s;
        failed.node = u"page-1"_s;
        failed.limit = 7;
        QSet<QString> seen;
        for (;;) {
            auto page = queries.runs(failed);
            QVERIFY(page);
            for (const QJsonValue &v : page->value("runs"_L1).toArray()) {
                QCOMPARE(v.toObject().value("status"_L1).toString(), u"failed"_s);
                QCOMPARE(v.toObject().value("node"_L1).toString(), u"page-1"_s);
                QVERIFY(!seen.contains(v.toObject().value("run_id"_L1).toString()));
                seen.insert(v.toObject().value("run_id"_L1).toString());
            }
            if (page->value("next_cursor"_L1).isNull())
                break;
            failed.cursor = page->value("next_cursor"_L1).toString();
        }
        QCOMPARE(seen.size(), 20); // i % 5 == 0 and i % 3 == 1

        // A forged cursor is a clear error, not a crash or an empty page.
        RunFilter forged;
        forged.cursor = u"!!not-a-cursor!!"_s;
        auto bad = queries.runs(forged);
        QVERIFY(!bad);
        QVERIFY(bad.error().message.contains(u"cursor"_s));
    }

    void runFilterRejectsBadParams_data()
    {
        QTest::addColumn<QJsonObject>("params");
        QTest::addColumn<QString>("expected");
        QTest::newRow("limit too big") << QJsonObject { { u"limit"_s, 501 } } << u"limit"_s;
        QTest::newRow("limit zero") << QJsonObject { { u"limit"_s, 0 } } << u"limit"_s;
        QTest::newRow("unknown key") << QJsonObject { { u"offset"_s, 10 } } << u"offset"_s;
        QTest::newRow("bad status") << QJsonObject { { u"status"_s, u"ok"_s } } << u"status"_s;
        QTest::newRow("bad kind") << QJsonObject { { u"kind"_s, u"snapshot"_s } } << u"kind"_s;
        QTest::newRow("bad node") << QJsonObject { { u"node"_s, u"Web 01"_s } } << u"node"_s;
        QTest::newRow("bad time") << QJsonObject { { u"since"_s, u"yesterday"_s } } << u"since"_s;
        QTest::newRow("bad order") << QJsonObject { { u"order"_s, u"up"_s } } << u"order"_s;
        QTest::newRow("wrong type") << QJsonObject { { u"job"_s, 5 } } << u"job"_s;
    }

    void runFilterRejectsBadParams()
    {
        QFETCH(QJsonObject, params);
        QFETCH(QString, expected);
        auto f = RunFilter::fromJson(params);
        QVERIFY(!f);
        QVERIFY2(f.error().message.contains(expected), qPrintable(f.error().message));
    }

    // A repository host (a node with no jobs) is listed as unknown but leaves the fleet alone.
    void nodeWithoutJobsDoesNotColourTheFleet()
    {
        EventStore store(*m_db);
        const QDateTime now = QDateTime::currentDateTimeUtc();
        QVERIFY(store.applyBatch(
            { incoming(helloEnvelope(
                  u"web-09"_s, { proto::JobInfo { u"home"_s, u"/r/w9"_s, u"@daily"_s, 86400 } })),
                incoming(helloEnvelope(u"repo-09"_s, {})) },
            {}));
        AgentRun r { u"web-09"_s };
        r.runId = u"w9-1"_s;
        r.start = now.addSecs(-600);
        QVERIFY(store.applyBatch(incoming(r.events()), {}));

        ReportBuilder builder(*m_db);
        ReportOptions o;
        o.now = now;
        o.node = u"web-09"_s;
        auto web = builder.build(o);
        QVERIFY2(web, qPrintable(web ? QString() : web.error().toString()));
        QCOMPARE(web->value("fleet"_L1).toObject().value("status"_L1).toString(), u"success"_s);
        o.node = u"repo-09"_s;
        auto repo = builder.build(o);
        QVERIFY(repo);
        QCOMPARE(repo->value("nodes"_L1).toArray().first().toObject().value("status"_L1).toString(),
            u"unknown"_s);
        // Alone, it leaves nothing to judge: no jobs, so the fleet is unknown, not a success.
        QCOMPARE(repo->value("fleet"_L1).toObject().value("jobs"_L1).toInt(), 0);
        QCOMPARE(repo->value("fleet"_L1).toObject().value("status"_L1).toString(), u"unknown"_s);
        // Together: the web node's success is the fleet's.
        o.node.clear();
        auto both = builder.build(o);
        QVERIFY(both);
        bool sawRepo = false;
        for (const QJsonValue &n : both->value("nodes"_L1).toArray())
            sawRepo = sawRepo || n.toObject().value("node"_L1).toString() == u"repo-09";
        QVERIFY(sawRepo);
    }

    void reportRollsUpAndMatchesTheSchema()
    {
        EventStore store(*m_db);
        const QDateTime now = QDateTime::currentDateTimeUtc();
        // ok-01: healthy; bad-01: last backup failed twice after a success; stale-01: RPO breached;
        // new-01: never ran and has no RPO.
        QVERIFY(store.applyBatch(
            { incoming(helloEnvelope(
                  u"ok-01"_s, { proto::JobInfo { u"home"_s, u"/r/ok"_s, u"@daily"_s, 86400 } })),
                incoming(helloEnvelope(
                    u"bad-01"_s, { proto::JobInfo { u"home"_s, u"/r/bad"_s, u"@daily"_s, 0 } })),
                incoming(helloEnvelope(
                    u"stale-01"_s, { proto::JobInfo { u"db"_s, u"/r/st"_s, u"@hourly"_s, 3600 } })),
                incoming(helloEnvelope(u"new-01"_s, { proto::JobInfo { u"home"_s, {}, {}, 0 } })) },
            {}));
        QList<IncomingEvent> runs;
        auto add = [&](const QString &node, const QString &job, const QString &id, proto::Status st,
                       qint64 minutesAgo) {
            AgentRun r { node };
            r.job = job;
            r.runId = id;
            r.status = st;
            r.progressEvents = 0;
            r.start = now.addSecs(-minutesAgo * 60);
            runs += incoming(r.events());
        };
        add(u"ok-01"_s, u"home"_s, u"a"_s, proto::Status::Success, 60);
        add(u"bad-01"_s, u"home"_s, u"b1"_s, proto::Status::Success, 300);
        add(u"bad-01"_s, u"home"_s, u"b2"_s, proto::Status::Failed, 200);
        add(u"bad-01"_s, u"home"_s, u"b3"_s, proto::Status::Failed, 100);
        add(u"stale-01"_s, u"db"_s, u"s1"_s, proto::Status::Success, 180);
        QVERIFY(store.applyBatch(runs, {}));

        ReportBuilder builder(*m_db);
        ReportOptions o;
        o.now = now;
        o.offlineAfter = std::chrono::hours(1);
        auto report = builder.build(o);
        QVERIFY2(report, qPrintable(report ? QString() : report.error().toString()));

        QFile schemaFile(sourceFile(u"docs/report.schema.json"_s));
        QVERIFY(schemaFile.open(QIODevice::ReadOnly));
        const JsonSchemaCheck schema(QJsonDocument::fromJson(schemaFile.readAll()).object());
        const QStringList problems = schema.validate(*report);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u'\n')));
        // The checker is not a rubber stamp.
        QJsonObject broken = *report;
        broken.insert(u"fleet"_s, QJsonObject { { u"status"_s, u"fine"_s } });
        QVERIFY(!schema.validate(broken).isEmpty());

        const QJsonObject fleet = report->value("fleet"_L1).toObject();
        QCOMPARE(fleet.value("status"_L1).toString(), u"failed"_s);
        QCOMPARE(fleet.value("nodes"_L1).toInt(), 4);
        QCOMPARE(fleet.value("jobs"_L1).toInt(), 4);
        QCOMPARE(fleet.value("jobs_ok"_L1).toInt(), 1);
        QCOMPARE(fleet.value("rpo_breaches"_L1).toInt(), 1);
        QCOMPARE(fleet.value("failures"_L1).toInt(), 2);
        QHash<QString, QJsonObject> jobs;
        QHash<QString, QString> nodeStatus;
        for (const QJsonValue &n : report->value("nodes"_L1).toArray()) {
            nodeStatus.insert(n.toObject().value("node"_L1).toString(),
                n.toObject().value("status"_L1).toString());
            for (const QJsonValue &j : n.toObject().value("jobs"_L1).toArray())
                jobs.insert(n.toObject().value("node"_L1).toString(), j.toObject());
        }
        QCOMPARE(nodeStatus.value(u"ok-01"_s), u"success"_s);
        QCOMPARE(nodeStatus.value(u"new-01"_s), u"unknown"_s);
        QCOMPARE(jobs.value(u"bad-01"_s).value("failures_since_success"_L1).toInt(), 2);
        QCOMPARE(jobs.value(u"bad-01"_s).value("last_status"_L1).toString(), u"failed"_s);
        QCOMPARE(jobs.value(u"stale-01"_s).value("rpo_breached"_L1).toBool(), true);
        QCOMPARE(jobs.value(u"stale-01"_s).value("status"_L1).toString(), u"failed"_s);
        QCOMPARE(jobs.value(u"stale-01"_s).value("last_status"_L1).toString(), u"success"_s);
        QVERIFY(std::abs(
                    jobs.value(u"stale-01"_s).value("age_seconds"_L1).toInteger() - (180 * 60 - 30))
            <= 2);
        QCOMPARE(jobs.value(u"ok-01"_s).value("rpo_breached"_L1).toBool(), false);
        // The RPO is due one RPO after the last good backup (AgentRun takes 30 s); no RPO, no date.
        QCOMPARE(jobs.value(u"ok-01"_s).value("rpo_due_at"_L1).toString(),
            formatTimestamp(now.addSecs(-60 * 60 + 30 + 86400)));
        QVERIFY(jobs.value(u"new-01"_s).value("rpo_due_at"_L1).isNull());
        // Backups only: no check or drill columns filled, no failed drills.
        QVERIFY(jobs.value(u"ok-01"_s).value("last_drill_status"_L1).isNull());
        QVERIFY(jobs.value(u"ok-01"_s).value("last_check_status"_L1).isNull());
        QCOMPARE(fleet.value("jobs_drill_failed"_L1).toInt(), 0);
        QCOMPARE(report->value("trends"_L1).toArray().size(), 3);

        const QByteArray csv = ReportFormatter::csv(*report);
        QCOMPARE(csv.count("\r\n"), 5); // header + 4 jobs
        QVERIFY(csv.contains("stale-01,true,db,failed,success,"));
        const QByteArray table = ReportFormatter::table(*report);
        QVERIFY(table.startsWith(
            "fleet failed: 4/4 nodes online, 1/4 jobs ok, 1 RPO breaches, 2 failures"));
    }

    // The last `borg check` and the last restore drill of a job are reported beside its
    // backups and count in its roll-up as they ended ("worst wins"): a failed drill makes the
    // job failed. Restores do not count. Each case also goes through CSV and the fleet
    // metrics (checked by promtool).
    void reportRollsUpChecksAndDrills_data()
    {
        QTest::addColumn<QStringList>("runs"); // kind:status:seconds-after-now (negative)
        QTest::addColumn<QString>("status");
        QTest::addColumn<QString>("checkStatus"); // empty: null
        QTest::addColumn<QString>("drillStatus"); // empty: null
        QTest::addColumn<int>("drillSuccessAt"); // start offset of the good drill, 0: null
        QTest::addColumn<int>("drillsFailed"); // fleet.jobs_drill_failed

        QTest::newRow("backups only") << QStringList { u"backup:success:-3600"_s } << u"success"_s
                                      << QString() << QString() << 0 << 0;
        QTest::newRow("drill succeeded")
            << QStringList { u"backup:success:-7200"_s, u"drill:success:-3600"_s } << u"success"_s
            << QString() << u"success"_s << -3600 << 0;
        QTest::newRow("drill failed: job failed")
            << QStringList { u"backup:success:-7200"_s, u"drill:failed:-3600"_s } << u"failed"_s
            << QString() << u"failed"_s << 0 << 1;
        QTest::newRow("failed drill after a good one")
            << QStringList { u"backup:success:-9000"_s, u"drill:success:-7200"_s,
                   u"drill:failed:-3600"_s }
            << u"failed"_s << QString() << u"failed"_s << -7200 << 1;
        QTest::newRow("good drill after a failed one")
            << QStringList { u"backup:success:-9000"_s, u"drill:failed:-7200"_s,
                   u"drill:success:-3600"_s }
            << u"success"_s << QString() << u"success"_s << -3600 << 0;
        QTest::newRow("drill warning counts as good, raises to warning")
            << QStringList { u"backup:success:-7200"_s, u"drill:warning:-3600"_s } << u"warning"_s
            << QString() << u"warning"_s << -3600 << 0;
        QTest::newRow("drill cancelled")
            << QStringList { u"backup:success:-7200"_s, u"drill:cancelled:-3600"_s }
            << u"cancelled"_s << QString() << u"cancelled"_s << 0 << 0;
        QTest::newRow("check failed: job failed")
            << QStringList { u"backup:success:-7200"_s, u"check:failed:-3600"_s } << u"failed"_s
            << u"failed"_s << QString() << 0 << 0;
        QTest::newRow("check and drill fine, backup warning")
            << QStringList { u"backup:warning:-9000"_s, u"check:success:-7200"_s,
                   u"drill:success:-3600"_s }
            << u"warning"_s << u"success"_s << u"success"_s << -3600 << 0;
        QTest::newRow("failed backup outranks a good drill")
            << QStringList { u"drill:success:-7200"_s, u"backup:failed:-3600"_s } << u"failed"_s
            << QString() << u"success"_s << -7200 << 0;
        QTest::newRow("restores do not count")
            << QStringList { u"backup:success:-7200"_s, u"restore:failed:-3600"_s } << u"success"_s
            << QString() << QString() << 0 << 0;
    }

    void reportRollsUpChecksAndDrills()
    {
        QFETCH(QStringList, runs);
        QFETCH(QString, status);
        QFETCH(QString, checkStatus);
        QFETCH(QString, drillStatus);
        QFETCH(int, drillSuccessAt);
        QFETCH(int, drillsFailed);

        EventStore store(*m_db);
        const QDateTime now
            = QDateTime::fromSecsSinceEpoch(QDateTime::currentSecsSinceEpoch(), Qt::UTC);
        // Known since before its first run, with an RPO of a day that no case breaches.
        const QDateTime enrolled = now.addSecs(-10000);
        QVERIFY(store.applyBatch(
            { incoming(helloEnvelope(u"dr-01"_s,
                { proto::JobInfo { u"web"_s, u"/r/dr"_s, u"@daily"_s, 86400 } }, enrolled)) },
            {}, enrolled));
        // A second job on the node with a failed drill: only its own row shows it.
        QVERIFY(store.applyBatch(runsFromSpecs(u"dr-02"_s, u"other"_s,
                                     { u"backup:success:-600"_s, u"drill:failed:-300"_s }, now),
            {}));
        QVERIFY(store.applyBatch(runsFromSpecs(u"dr-01"_s, u"web"_s, runs, now), {}));

        ReportBuilder builder(*m_db);
        ReportOptions o;
        o.now = now;
        o.offlineAfter = std::chrono::hours(48);
        auto report = builder.build(o);
        QVERIFY2(report, qPrintable(report ? QString() : report.error().toString()));
        const QStringList problems = schemaProblems(*report);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u'\n')));

        const QJsonObject job = reportJobs(*report).value(u"dr-01/web"_s);
        QVERIFY2(!job.isEmpty(), "no row for dr-01/web");
        QCOMPARE(job.value("status"_L1).toString(), status);
        const auto nullOr
            = [](const QJsonValue &v) { return v.isNull() ? QString() : v.toString(); };
        QCOMPARE(nullOr(job.value("last_check_status"_L1)), checkStatus);
        QCOMPARE(nullOr(job.value("last_drill_status"_L1)), drillStatus);
        QCOMPARE(job.value("last_check_at"_L1).isNull(), checkStatus.isEmpty());
        QCOMPARE(job.value("last_drill_at"_L1).isNull(), drillStatus.isEmpty());
        // AgentRun finishes 30 s after it starts.
        const QJsonValue drillSuccess = job.value("last_drill_success_at"_L1);
        if (drillSuccessAt == 0)
            QVERIFY2(drillSuccess.isNull(), qPrintable(drillSuccess.toString()));
        else
            QCOMPARE(drillSuccess.toString(), formatTimestamp(now.addSecs(drillSuccessAt + 30)));
        // The backup columns ignore the other kinds.
        QCOMPARE(job.value("rpo_breached"_L1).toBool(), false);
        QCOMPARE(
            reportJobs(*report).value(u"dr-02/other"_s).value("status"_L1).toString(), u"failed"_s);
        const QJsonObject fleet = report->value("fleet"_L1).toObject();
        QCOMPARE(fleet.value("jobs_drill_failed"_L1).toInt(), drillsFailed + 1);
        const QJsonObject node = report->value("nodes"_L1).toArray().at(0).toObject();
        QCOMPARE(node.value("node"_L1).toString(), u"dr-01"_s);
        QCOMPARE(node.value("status"_L1).toString(), status);

        // CSV (and so the table, which has the same columns).
        const QHash<QString, QString> row = csvRow(ReportFormatter::csv(*report), u"dr-01"_s);
        QCOMPARE(row.value(u"status"_s), status);
        QCOMPARE(row.value(u"last_check_status"_s), checkStatus);
        QCOMPARE(row.value(u"last_drill_status"_s), drillStatus);
        QCOMPARE(row.value(u"last_drill_success_at"_s),
            drillSuccessAt == 0 ? QString() : formatTimestamp(now.addSecs(drillSuccessAt + 30)));
        const QByteArray table = ReportFormatter::table(*report);
        QVERIFY2(table.contains("last_drill_status") && table.contains("last_check_status"),
            table.constData());
        QVERIFY2(table.contains(u", %1 failed restore drills\n"_s.arg(drillsFailed + 1).toUtf8()),
            table.constData());

        // Fleet metrics: drill and check series exactly for the kinds that ran.
        QString complaint;
        const QHash<QString, double> m = metricsOf(*report, &complaint);
        QVERIFY2(complaint.isEmpty(), qPrintable(complaint));
        const QString labels = u"{job=\"web\",node=\"dr-01\"}"_s;
        const auto severity = [](const QString &name) {
            return double(proto::severity(*proto::statusFromName(name)));
        };
        QCOMPARE(m.contains(u"sparky_fleet_restore_drill_last_status"_s + labels),
            !drillStatus.isEmpty());
        if (!drillStatus.isEmpty()) {
            QCOMPARE(m.value(u"sparky_fleet_restore_drill_last_status"_s + labels),
                severity(drillStatus));
            QVERIFY(
                m.contains(u"sparky_fleet_restore_drill_last_run_timestamp_seconds"_s + labels));
        }
        QCOMPARE(
            m.contains(u"sparky_fleet_restore_drill_last_success_timestamp_seconds"_s + labels),
            drillSuccessAt != 0);
        if (drillSuccessAt != 0)
            QCOMPARE(
                m.value(u"sparky_fleet_restore_drill_last_success_timestamp_seconds"_s + labels),
                double(now.toSecsSinceEpoch() + drillSuccessAt + 30));
        QCOMPARE(m.contains(u"sparky_fleet_check_last_status"_s + labels), !checkStatus.isEmpty());
        if (!checkStatus.isEmpty())
            QCOMPARE(m.value(u"sparky_fleet_check_last_status"_s + labels), severity(checkStatus));
        QCOMPARE(
            m.value(u"sparky_fleet_restore_drill_last_status{job=\"other\",node=\"dr-02\"}"_s, -1),
            3.0);
    }

    // A job with an RPO that has not finished a backup yet is "pending" until the
    // orchestrator has known it (jobs.first_seen) for longer than its RPO; then, with no good
    // backup, it is breached. A later hello listing it again does not restart that clock.
    void newJobIsPendingUntilItsRpoPasses_data()
    {
        QTest::addColumn<qint64>("rpoSeconds");
        QTest::addColumn<qint64>("reportAfter"); // seconds after the first hello
        QTest::addColumn<QStringList>("runs"); // kind:status:seconds-after-the-first-hello
        QTest::addColumn<qint64>("helloAgainAfter"); // 0: no second hello
        QTest::addColumn<QString>("status");
        QTest::addColumn<bool>("breached");
        QTest::addColumn<qint64>("dueAfter"); // rpo_due_at − first hello; -1: null

        QTest::newRow("just enrolled") << qint64(3600) << qint64(10) << QStringList() << qint64(0)
                                       << u"pending"_s << false << qint64(3600);
        QTest::newRow("at the deadline") << qint64(3600) << qint64(3600) << QStringList()
                                         << qint64(0) << u"pending"_s << false << qint64(3600);
        QTest::newRow("one second past") << qint64(3600) << qint64(3601) << QStringList()
                                         << qint64(0) << u"failed"_s << true << qint64(3600);
        QTest::newRow("listed again later") << qint64(3600) << qint64(3601) << QStringList()
                                            << qint64(3000) << u"failed"_s << true << qint64(3600);
        QTest::newRow("no RPO stays unknown") << qint64(0) << qint64(30 * 86400) << QStringList()
                                              << qint64(0) << u"unknown"_s << false << qint64(-1);
        QTest::newRow("first backup failed, within the RPO")
            << qint64(3600) << qint64(600) << QStringList { u"backup:failed:60"_s } << qint64(0)
            << u"failed"_s << false << qint64(3600);
        QTest::newRow("only a drill ran")
            << qint64(3600) << qint64(600) << QStringList { u"drill:success:60"_s } << qint64(0)
            << u"pending"_s << false << qint64(3600);
        QTest::newRow("first backup in time")
            << qint64(3600) << qint64(3601) << QStringList { u"backup:success:60"_s } << qint64(0)
            << u"success"_s << false << qint64(90 + 3600);
        QTest::newRow("RPO from the first backup on")
            << qint64(3600) << qint64(3691) << QStringList { u"backup:success:60"_s } << qint64(0)
            << u"failed"_s << true << qint64(90 + 3600);
    }

    void newJobIsPendingUntilItsRpoPasses()
    {
        QFETCH(qint64, rpoSeconds);
        QFETCH(qint64, reportAfter);
        QFETCH(QStringList, runs);
        QFETCH(qint64, helloAgainAfter);
        QFETCH(QString, status);
        QFETCH(bool, breached);
        QFETCH(qint64, dueAfter);

        EventStore store(*m_db);
        const QDateTime t0 = QDateTime::fromSecsSinceEpoch(
            QDateTime::currentSecsSinceEpoch() - 40 * 86400, Qt::UTC);
        const QList<proto::JobInfo> jobs { { u"home"_s, u"/r/new"_s, u"@daily"_s, rpoSeconds } };
        // The orchestrator stores the hello at t0: that is when it first sees the job.
        QVERIFY(store.applyBatch({ incoming(helloEnvelope(u"new-01"_s, jobs, t0)) }, {}, t0));
        if (helloAgainAfter > 0) {
            const QDateTime t = t0.addSecs(helloAgainAfter);
            QVERIFY(store.applyBatch({ incoming(helloEnvelope(u"new-01"_s, jobs, t)) }, {}, t));
        }
        if (!runs.isEmpty())
            QVERIFY(store.applyBatch(
                runsFromSpecs(u"new-01"_s, u"home"_s, runs, t0), {}, t0.addSecs(reportAfter)));
        QCOMPARE(scalar(u"SELECT first_seen FROM jobs WHERE node = 'new-01'"_s).toLongLong(),
            t0.toMSecsSinceEpoch());

        ReportBuilder builder(*m_db);
        ReportOptions o;
        o.now = t0.addSecs(reportAfter);
        o.offlineAfter = std::chrono::seconds(reportAfter + 60);
        auto report = builder.build(o);
        QVERIFY2(report, qPrintable(report ? QString() : report.error().toString()));
        const QStringList problems = schemaProblems(*report);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u'\n')));

        const QJsonObject job = reportJobs(*report).value(u"new-01/home"_s);
        QCOMPARE(job.value("status"_L1).toString(), status);
        QCOMPARE(job.value("rpo_breached"_L1).toBool(), breached);
        QCOMPARE(job.value("first_seen_at"_L1).toString(), formatTimestamp(t0));
        if (dueAfter < 0)
            QVERIFY(job.value("rpo_due_at"_L1).isNull());
        else
            QCOMPARE(job.value("rpo_due_at"_L1).toString(), formatTimestamp(t0.addSecs(dueAfter)));
        const QJsonObject fleet = report->value("fleet"_L1).toObject();
        QCOMPARE(fleet.value("status"_L1).toString(), status);
        QCOMPARE(fleet.value("rpo_breaches"_L1).toInt(), breached ? 1 : 0);
        QCOMPARE(report->value("rpo_breaches"_L1).toArray().size(), breached ? 1 : 0);
        QCOMPARE(fleet.value("jobs_ok"_L1).toInt(), status == u"success" ? 1 : 0);
        QCOMPARE(csvRow(ReportFormatter::csv(*report), u"new-01"_s).value(u"status"_s), status);

        // The fleet metrics' breach flag (which SparkyBackupTooOld alerts on) follows it.
        QString complaint;
        const QHash<QString, double> m = metricsOf(*report, &complaint);
        QVERIFY2(complaint.isEmpty(), qPrintable(complaint));
        QCOMPARE(m.value(u"sparky_fleet_backup_rpo_breached{job=\"home\",node=\"new-01\"}"_s, -1),
            breached ? 1.0 : 0.0);
    }

    void rollupOrderIsDocumented()
    {
        // docs/report.schema.json lists the roll-up statuses in severity order.
        const QStringList order { u"success"_s, u"pending"_s, u"unknown"_s, u"warning"_s,
            u"cancelled"_s, u"failed"_s };
        for (qsizetype i = 1; i < order.size(); ++i) {
            QVERIFY2(rollupSeverity(order.at(i - 1)) < rollupSeverity(order.at(i)),
                qPrintable(order.at(i - 1) + u" is not below "_s + order.at(i)));
            QCOMPARE(worstStatus(order.at(i - 1), order.at(i)), order.at(i));
            QCOMPARE(worstStatus(order.at(i), order.at(i - 1)), order.at(i));
        }
        QFile schemaFile(sourceFile(u"docs/report.schema.json"_s));
        QVERIFY(schemaFile.open(QIODevice::ReadOnly));
        QStringList documented;
        for (const QJsonValue &v : QJsonDocument::fromJson(schemaFile.readAll())
                                       .object()
                                       .value("$defs"_L1)
                                       .toObject()
                                       .value("rollup"_L1)
                                       .toObject()
                                       .value("enum"_L1)
                                       .toArray())
            documented.append(v.toString());
        QCOMPARE(documented, order);
    }

    void rpcAuthorisationAndAudit()
    {
        RoleMap roles;
        roles.set(u"viewer-user"_s, Role::Viewer);
        roles.set(u"op-user"_s, Role::Operator);
        AmqpClient idle(BrokerSettings {}); // never started: dispatch is tested without the broker
        RpcServer rpc(&idle, m_db.get(), nullptr, roles, RpcSettings {});

        QJsonObject r = rpc.handle(u"viewer-user"_s, u"req-1"_s, u"backup.start"_s,
            { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s } });
        QCOMPARE(r.value("ok"_L1).toBool(), false);
        QCOMPARE(r.value("error"_L1).toObject().value("code"_L1).toString(), u"forbidden"_s);
        QVERIFY(
            r.value("error"_L1).toObject().value("message"_L1).toString().contains(u"operator"_s));
        // The refusal is audited; asking again with the same request id gives the same answer.
        QCOMPARE(scalar(u"SELECT ok FROM audit_log WHERE id = 'req-1'"_s).toInt(), 0);
        QCOMPARE(scalar(u"SELECT actor FROM audit_log WHERE id = 'req-1'"_s).toString(),
            u"viewer-user"_s);
        QCOMPARE(rpc.handle(u"viewer-user"_s, u"req-1"_s, u"backup.start"_s,
                     { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s } }),
            r);
        QCOMPARE(scalar(u"SELECT COUNT(*) FROM audit_log"_s).toInt(), 1);

        QCOMPARE(rpc.handle(u"nobody"_s, u"req-2"_s, u"runs.query"_s, {})
                     .value("error"_L1)
                     .toObject()
                     .value("code"_L1)
                     .toString(),
            u"forbidden"_s);
        QCOMPARE(rpc.handle(u"viewer-user"_s, u"req-3"_s, u"runs.delete"_s, {})
                     .value("error"_L1)
                     .toObject()
                     .value("code"_L1)
                     .toString(),
            u"unknown_method"_s);
        QCOMPARE(rpc.handle(QString(), u"req-4"_s, u"runs.query"_s, {})
                     .value("error"_L1)
                     .toObject()
                     .value("code"_L1)
                     .toString(),
            u"unauthenticated"_s);
        const QJsonObject badParams
            = rpc.handle(u"viewer-user"_s, u"req-5"_s, u"runs.query"_s, { { u"limit"_s, 100000 } });
        QCOMPARE(badParams.value("error"_L1).toObject().value("code"_L1).toString(),
            u"invalid_params"_s);
        QVERIFY(badParams.value("error"_L1)
                    .toObject()
                    .value("message"_L1)
                    .toString()
                    .contains(u"limit"_s));
        // An operator passes the role check; without a signing key commands are unavailable.
        QCOMPARE(rpc.handle(u"op-user"_s, u"req-6"_s, u"backup.start"_s,
                        { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s } })
                     .value("error"_L1)
                     .toObject()
                     .value("code"_L1)
                     .toString(),
            u"unavailable"_s);
        QCOMPARE(rpc.handle(u"viewer-user"_s, u"req-7"_s, u"run.get"_s,
                        { { u"node"_s, u"web-01"_s }, { u"run_id"_s, u"nope"_s } })
                     .value("error"_L1)
                     .toObject()
                     .value("code"_L1)
                     .toString(),
            u"not_found"_s);
        const QJsonObject summary
            = rpc.handle(u"viewer-user"_s, u"req-8"_s, u"fleet.summary"_s, {});
        QVERIFY(summary.value("ok"_L1).toBool());
        QVERIFY(summary.value("result"_L1).toObject().contains("fleet"_L1));
        const QJsonObject csv = rpc.handle(
            u"viewer-user"_s, u"req-9"_s, u"report.export"_s, { { u"format"_s, u"csv"_s } });
        QVERIFY(csv.value("result"_L1)
                    .toObject()
                    .value("content"_L1)
                    .toString()
                    .startsWith(u"node,online,job"_s));
        QCOMPARE(rpc.handle(u"viewer-user"_s, u"req-10"_s, u"report.export"_s,
                        { { u"target"_s, u"exioma"_s } })
                     .value("error"_L1)
                     .toObject()
                     .value("code"_L1)
                     .toString(),
            u"forbidden"_s);
    }

    void dutiesExpireCommandsMarkOfflineAndRetain()
    {
        EventStore store(*m_db);
        const QDateTime now = QDateTime::currentDateTimeUtc();
        AgentRun old { u"ret-01"_s };
        old.runId = u"old"_s;
        old.start = now.addDays(-10);
        AgentRun fresh { u"ret-01"_s };
        fresh.runId = u"fresh"_s;
        fresh.start = now.addSecs(-600);
        QVERIFY(store.applyBatch(incoming(old.events()) + incoming(fresh.events()), {}));
        const qint64 t = now.toMSecsSinceEpoch();
        QVERIFY(m_db->exec(u"INSERT INTO commands (id, node, type, params, issued_by, issued_at, "
                           u"expires_at, state,"
                           " state_rank, updated_at) VALUES ('c-exp', 'ret-01', 'backup.run', "
                           "'{}', 't', ?, ?, 'published', 1, ?),"
                           " ('c-ok', 'ret-01', 'backup.run', '{}', 't', ?, ?, 'running', 3, ?)"_s,
            { t - 7200000, t - 3600000, t, t - 7200000, t - 3600000, t }));
        DutySettings s;
        s.offlineAfter = std::chrono::seconds(60);
        s.retainRuns = std::chrono::seconds(7 * 86400);
        s.deleteChunk = 1; // exercise the chunked delete loop
        CommandDispatcher *noCommands = nullptr;
        SingletonDuties duties(m_db.get(), noCommands, s);
        auto out = duties.tick(now);
        QVERIFY2(out, qPrintable(out ? QString() : out.error().toString()));
        QVERIFY(out->leader);
        QCOMPARE(out->runsDeleted, 1);
        QCOMPARE(scalar(u"SELECT COUNT(*) FROM runs"_s).toInt(), 1);
        QCOMPARE(out->nodesWentOffline, 1); // last seen ≈ 10 minutes ago
        QCOMPARE(
            scalar(u"SELECT state FROM nodes WHERE node = 'ret-01'"_s).toString(), u"offline"_s);
        // Expiry is the dispatcher's sweep (see the daemon test); the SQL it runs:
        AmqpClient idle(BrokerSettings {});
        auto key = SigningKey::generate();
        QVERIFY(key);
        CommandDispatcher commands(&idle, m_db.get(), *key, CommandSettings {});
        auto expired = commands.expireOverdue(now);
        QVERIFY(expired);
        QCOMPARE(*expired, 1);
        QCOMPARE(
            scalar(u"SELECT state FROM commands WHERE id = 'c-exp'"_s).toString(), u"expired"_s);
        QCOMPARE(
            scalar(u"SELECT state FROM commands WHERE id = 'c-ok'"_s).toString(), u"running"_s);
        QVERIFY(scalar(u"SELECT error FROM commands WHERE id = 'c-exp'"_s)
                    .toString()
                    .contains(u"expired"_s));
    }

    void leaderLockIsExclusiveOnPostgres()
    {
        QFETCH_GLOBAL(QString, backend);
        auto second = Database::open(
            m_db->settings(), u"test-second-"_s + QString::number(m_serial), false);
        QVERIFY2(second, qPrintable(second ? QString() : second.error().toString()));
        QCOMPARE(m_db->tryAdvisoryLock(kLeaderLockKey).valueOr(false), true);
        QVERIFY(m_db->holdsAdvisoryLock(kLeaderLockKey).valueOr(false));
        // SQLite: one process owns the file, so both "win"; PostgreSQL: only the first.
        QCOMPARE((*second)->tryAdvisoryLock(kLeaderLockKey).valueOr(false), backend == u"sqlite");
        QVERIFY(m_db->releaseAdvisoryLock(kLeaderLockKey));
        QCOMPARE((*second)->tryAdvisoryLock(kLeaderLockKey).valueOr(false), true);
    }
};

QTEST_GUILESS_MAIN(TestOrchestratorStore)
#include "tst_orchestrator_store.moc"
