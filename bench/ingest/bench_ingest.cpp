// Ingestion throughput and RPC latency of the orchestrator (docs/benchmarks.md).
//
// 1. Ingest: N agent-shaped events (runs of run.started, 3 × run.progress, run.finished,
//    built through sparky/protocol.h, published by a node user with confirms) are put on the
//    quorum queue sparky.orchestrator.events, then drained by
//      - the baseline: an AmqpClient consume loop that does nothing but ack (multiple, once
//        per 500 deliveries or 50 ms — the same ack pattern as the ingestor), i.e. the
//        broker + transport consume rate with no storage;
//      - the Ingestor into SQLite (WAL, synchronous=FULL), ack after commit;
//      - the Ingestor into PostgreSQL (throwaway cluster, fsync on), ack after commit.
//    In K rounds (--rounds, default 5): baseline, then per round SQLite, PostgreSQL and a
//    baseline again; each ingest phase's ratio uses the mean of the baselines around it, and
//    the medians over the rounds are the result.
// 2. RPC: R runs (default 1,000,000: 1000 nodes × 2 jobs × 500 runs, 2 % failed) are
//    written straight into a store, then runs.query is called Q times through the real
//    broker (RpcClient → sparky.rpc → RpcServer → direct reply-to) with a mix of filters
//    and cursor pages; p50/p95/p99 round-trip latency is printed.
//
// Usage: bench_ingest [--events N] [--rounds K] [--runs R] [--queries Q] [--rpc-backend sqlite|postgres|both]
//                     [--skip-ingest] [--skip-rpc] [--cpu-only] [--batch-size 500] [--prefetch 1000]

#include "eventloopwait.h"
#include "database.h"
#include "ingestor.h"
#include "ingestwriter.h"
#include "rpcclient.h"
#include "rpcserver.h"
#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "testbroker.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

using namespace sparky;
using namespace sparky::orchestrator;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

// A failed step: thrown, not exit(), so that unwinding stops the private broker and
// PostgreSQL and removes their directories (main catches it). Never thrown from a slot.
struct BenchFailure
{
    QString what;
};

[[noreturn]] void die(const QString &what)
{
    throw BenchFailure { what };
}

void say(const QString &what)
{
    std::fprintf(stdout, "%s\n", qPrintable(what));
    std::fflush(stdout);
}

// postgres.sh with args; false and its output in *output when it fails.
bool runScript(const QStringList &args, QString *output)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(QStringLiteral(SPARKY_BENCH_SOURCE_DIR) + u"/tests/fixtures/postgres.sh"_s, args);
    const bool ok = p.waitForFinished(180000) && p.exitStatus() == QProcess::NormalExit
        && p.exitCode() == 0;
    *output = QString::fromUtf8(p.readAll());
    return ok;
}

StoreSettings postgresStore(const QString &pgDir, const QString &database)
{
    QFile f(pgDir + u"/postgres.env"_s);
    if (!f.open(QIODevice::ReadOnly))
        die(u"no postgres.env"_s);
    QHash<QString, QString> env;
    for (const QByteArray &line : f.readAll().split('\n')) {
        const qsizetype eq = line.indexOf('=');
        if (eq > 0)
            env.insert(QString::fromUtf8(line.left(eq)), QString::fromUtf8(line.mid(eq + 1)));
    }
    qputenv("PGPASSFILE", env.value(u"PGPASSFILE"_s).toUtf8());
    StoreSettings s;
    s.driver = StoreSettings::Driver::Postgres;
    s.host = env.value(u"PGHOST"_s);
    s.port = quint16(env.value(u"PGPORT"_s).toUInt());
    s.user = env.value(u"PGUSER"_s);
    s.database = u"postgres"_s;
    {
        auto admin = Database::open(s, u"bench-admin-"_s + database, false);
        if (!admin)
            die(admin.error().toString());
        (void)(*admin)->exec(u"DROP DATABASE IF EXISTS "_s + database);
        if (auto q = (*admin)->exec(u"CREATE DATABASE "_s + database); !q)
            die(q.error().toString());
    }
    s.database = database;
    return s;
}

QList<OutgoingMessage> makeEvents(const QString &node, int count, int round)
{
    QList<OutgoingMessage> out;
    out.reserve(count);
    const QDateTime t0 = QDateTime::currentDateTimeUtc().addSecs(-3600);
    for (int run = 0; out.size() < count; ++run) {
        const QString runId = u"b%1-%2"_s.arg(round).arg(run);
        QList<Envelope> es;
        proto::RunStarted s;
        s.runId = runId;
        s.job = u"job-%1"_s.arg(run % 4);
        s.repository = u"ssh://borg@repo/./bench"_s;
        s.trigger = u"schedule"_s;
        s.startedAt = t0.addSecs(run);
        es.append(Envelope::make(QString(proto::type::RunStarted), node, s.toJson()));
        for (int i = 0; i < 3; ++i) {
            proto::RunProgress p;
            p.runId = runId;
            p.job = s.job;
            p.step = u"create"_s;
            p.originalSize = 1000 * (i + 1);
            p.files = i;
            p.currentPath = u"/srv/data/file-%1"_s.arg(i);
            es.append(Envelope::make(QString(proto::type::RunProgress), node, p.toJson()));
        }
        proto::RunFinished f;
        f.runId = runId;
        f.job = s.job;
        f.repository = s.repository;
        f.trigger = s.trigger;
        f.startedAt = s.startedAt;
        f.finishedAt = s.startedAt.addSecs(20);
        f.status = run % 50 == 0 ? proto::Status::Failed : proto::Status::Success;
        proto::StepResult step;
        step.name = u"create"_s;
        step.status = f.status;
        step.startedAt = f.startedAt;
        step.finishedAt = f.finishedAt;
        step.exitCode = 0;
        f.steps = { step };
        proto::RunStats st;
        st.archiveName = runId;
        st.originalSize = 123456789;
        st.deduplicatedSize = 12345;
        st.files = 1000;
        st.durationSeconds = 20;
        f.stats = st;
        f.logTail = QString(400, u'l');
        es.append(Envelope::make(QString(proto::type::RunFinished), node, f.toJson()));
        for (const Envelope &e : es) {
            if (out.size() == count)
                break;
            OutgoingMessage m;
            m.exchange = QString(proto::kEventsExchange);
            m.routingKey = proto::eventRoutingKey(node, e.type);
            m.body = serializeEnvelope(e);
            m.properties = propertiesFor(e, node);
            out.append(m);
        }
    }
    return out;
}

void publishAll(AmqpClient &publisher, const QList<OutgoingMessage> &messages)
{
    qsizetype confirmed = 0;
    qsizetype failed = 0;
    QObject ctx;
    QObject::connect(&publisher, &AmqpClient::confirmed, &ctx,
        [&](const QList<quint64> &t) { confirmed += t.size(); });
    QObject::connect(
        &publisher, &AmqpClient::publishFailed, &ctx, [&](quint64, const Error &) { ++failed; });
    for (const OutgoingMessage &m : messages)
        publisher.publish(m);
    if (!sparky::bench::waitUntil([&] { return confirmed + failed >= messages.size(); }, 600000)
        || failed > 0)
        die(u"publishing failed (%1 failures)"_s.arg(failed));
}

IngestSettings g_ingest; // --batch-size, --prefetch (the baseline acks with the same pattern)

// The baseline: consume and ack only (multiple per 500 deliveries or 50 ms).
double baseline(const BrokerSettings &orchestrator, int count)
{
    AmqpClient consumer(orchestrator);
    int seen = 0;
    QList<Delivery> held;
    QElapsedTimer clock;
    QTimer flushTimer;
    flushTimer.setSingleShot(true);
    flushTimer.setInterval(50);
    auto flush = [&] {
        if (!held.isEmpty())
            consumer.ack(held.constLast(), true);
        held.clear();
    };
    QObject::connect(&flushTimer, &QTimer::timeout, &consumer, flush);
    QObject::connect(&consumer, &AmqpClient::delivered, &consumer, [&](const Delivery &d) {
        if (seen == 0)
            clock.start();
        ++seen;
        held.append(d);
        if (held.size() >= g_ingest.batchSize)
            flush();
        else if (!flushTimer.isActive())
            flushTimer.start();
    });
    consumer.consume(ConsumerOptions { QString(proto::kEventsQueue), g_ingest.prefetch, false });
    consumer.start();
    if (!sparky::bench::waitUntil([&] { return seen >= count; }, 600000))
        die(u"baseline: only %1 of %2 delivered"_s.arg(seen).arg(count));
    const double seconds = clock.nsecsElapsed() / 1e9;
    flush();
    consumer.stop();
    return count / seconds;
}

double ingest(const BrokerSettings &orchestrator, const StoreSettings &store, int count)
{
    AmqpClient consumer(orchestrator);
    Ingestor ingestor(&consumer, store, g_ingest);
    quint64 stored = 0;
    QElapsedTimer clock;
    QObject::connect(&consumer, &AmqpClient::delivered, &consumer, [&](const Delivery &) {
        if (!clock.isValid())
            clock.start();
    });
    QObject::connect(&ingestor, &Ingestor::batchCommitted, &consumer,
        [&](const BatchOutcome &o) { stored += quint64(o.stored + o.duplicates); });
    ingestor.start();
    consumer.start();
    if (!sparky::bench::waitUntil([&] { return stored >= quint64(count); }, 900000))
        die(u"ingest: only %1 of %2 stored"_s.arg(stored).arg(count));
    const double seconds = clock.nsecsElapsed() / 1e9;
    ingestor.stop();
    consumer.stop();
    say(u"    (%1 s wall: %2 s decoding, %3 s in store transactions, %4 batches)"_s
            .arg(seconds, 0, 'f', 2)
            .arg(ingestor.stats().decodeSeconds, 0, 'f', 2)
            .arg(ingestor.stats().storeSeconds, 0, 'f', 2)
            .arg(ingestor.stats().batches));
    if (ingestor.stats().rejected > 0)
        die(u"ingest: %1 events were rejected"_s.arg(ingestor.stats().rejected));
    return count / seconds;
}

double threadCpuSeconds()
{
    timespec t {};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

// Our own CPU per event without the broker: the ingestor's decoding (envelope, identity
// check, typed body) and the writer's transactions (batches of --batch-size), each timed
// with this thread's CPU clock; three passes of fresh events, the median of each printed.
// For PostgreSQL only the client side is counted (the server's CPU is the postgres
// processes').
void cpuPerEvent(const StoreSettings &store, const QString &label, int count)
{
    IngestWriter writer(store, u"bench-cpu-"_s + label);
    if (auto ok = writer.open(); !ok)
        die(ok.error().toString());
    std::vector<double> decodeUs, storeUs, wallUs;
    static int pass = 0;
    for (int p = 0; p < 3; ++p) {
        const QList<OutgoingMessage> messages = makeEvents(u"bench-node"_s, count, -1 - pass++);
        QList<IncomingEvent> events;
        events.reserve(messages.size());
        const double d0 = threadCpuSeconds();
        for (const OutgoingMessage &m : messages) {
            Delivery d;
            d.routingKey = m.routingKey;
            d.body = m.body;
            d.properties = m.properties;
            DecodedDelivery decoded = decodeDelivery(d);
            if (!decoded.event)
                die(u"cpu: an event is refused: "_s + decoded.rejected->reason);
            events.append(std::move(*decoded.event));
        }
        decodeUs.push_back((threadCpuSeconds() - d0) / count * 1e6);
        const double s0 = threadCpuSeconds();
        QElapsedTimer wall;
        wall.start();
        for (qsizetype i = 0; i < events.size(); i += g_ingest.batchSize) {
            const WriteResult r = writer.write(events.mid(i, g_ingest.batchSize), {});
            if (!r.ok || r.fallback)
                die(u"cpu: a batch failed: "_s + r.error.toString());
        }
        storeUs.push_back((threadCpuSeconds() - s0) / count * 1e6);
        wallUs.push_back(wall.nsecsElapsed() / 1e3 / count);
    }
    auto median3 = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[1];
    };
    say(u"  our CPU per event (%1, no broker; median of 3): decode %2 us, store %3 us (%4 us wall)"_s
            .arg(label)
            .arg(median3(decodeUs), 0, 'f', 1)
            .arg(median3(storeUs), 0, 'f', 1)
            .arg(median3(wallUs), 0, 'f', 1));
}

void fillRuns(Database &db, int total)
{
    const int nodes = 1000;
    const int jobs = 2;
    const int perJob = std::max(1, total / (nodes * jobs));
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const qint64 span = 365LL * 86400 * 1000;
    QElapsedTimer clock;
    clock.start();
    constexpr int kRowsPerInsert = 200;
    QString one = u"(?, ?, ?, ?, 'backup', ?, ?, ?, ?, ?, ?, ?, ?)"_s;
    QString head = u"INSERT INTO runs (id, node, run_id, job, kind, status, severity, started_at, "
                   u"finished_at,"
                   " duration_ms, original_size, deduplicated_size, updated_at) VALUES "_s;
    QVariantList values;
    int inBatch = 0;
    int written = 0;
    auto flush = [&] {
        if (inBatch == 0)
            return;
        QString sql = head;
        for (int i = 0; i < inBatch; ++i)
            sql += (i ? u", "_s : QString()) + one;
        auto q = inBatch == kRowsPerInsert ? db.run(sql, values) : Expected<QSqlQuery *>(nullptr);
        if (inBatch != kRowsPerInsert) {
            if (auto once = db.exec(sql, values); !once)
                die(once.error().toString());
        } else if (!q) {
            die(q.error().toString());
        }
        values.clear();
        inBatch = 0;
    };
    if (auto ok = db.begin(); !ok)
        die(ok.error().toString());
    for (int r = 0; r < perJob; ++r) {
        for (int n = 0; n < nodes; ++n) {
            for (int j = 0; j < jobs; ++j) {
                const QString node = u"node-%1"_s.arg(n, 4, 10, QChar(u'0'));
                const QString runId = u"r%1-%2"_s.arg(j).arg(r);
                const bool failed = QRandomGenerator::global()->bounded(100) < 2;
                const qint64 started = now - span + qint64(r) * span / perJob + n * 1000 + j;
                values << QString(node + u':' + runId) << node << runId << u"job-%1"_s.arg(j)
                       << (failed ? u"failed"_s : u"success"_s) << (failed ? 3 : 0) << started
                       << started + 60000 << qint64(60000) << qint64(1000000000) << qint64(1000000)
                       << now;
                ++written;
                if (++inBatch == kRowsPerInsert)
                    flush();
            }
        }
        if (r % 50 == 49) {
            flush();
            if (auto ok = db.commit(); !ok)
                die(ok.error().toString());
            (void)db.begin();
        }
    }
    flush();
    if (auto ok = db.commit(); !ok)
        die(ok.error().toString());
    if (db.dialect() == Database::Dialect::Postgres)
        (void)db.exec(u"ANALYZE runs"_s);
    else
        (void)db.exec(u"ANALYZE"_s);
    say(u"  stored %1 runs in %2 s"_s.arg(written).arg(clock.elapsed() / 1000.0, 0, 'f', 1));
}

double percentile(std::vector<double> v, double p)
{
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
    return v[i];
}

void rpcLatency(test::TestBroker &broker, const StoreSettings &store, const QString &label,
    int runs, int queries)
{
    say(u"RPC runs.query over %1 runs in %2:"_s.arg(runs).arg(label));
    auto db = Database::open(store, u"bench-rpc-"_s + label);
    if (!db)
        die(db.error().toString());
    fillRuns(**db, runs);
    RoleMap roles;
    roles.set(broker.operatorUser().user, Role::Viewer);
    AmqpClient server(broker.orchestrator());
    RpcServer rpc(&server, db->get(), nullptr, roles, RpcSettings {});
    rpc.start();
    server.start();
    AmqpClient caller(broker.operatorUser());
    RpcClient client(&caller);
    QSignalSpy up(&caller, &AmqpClient::connected);
    caller.start();
    if (!sparky::bench::waitUntil([&] { return up.count() > 0 && server.isConnected(); }, 30000))
        die(u"RPC: not connected"_s);

    // The mix a console produces: newest first, per node, per node+job, failures, a time
    // window, and following cursors deep into one node's history.
    auto paramsFor = [](int i, const QString &cursor, QString *shape) {
        const QString node
            = u"node-%1"_s.arg(QRandomGenerator::global()->bounded(1000), 4, 10, QChar(u'0'));
        QJsonObject params { { u"limit"_s, 50 } };
        switch (i % 6) {
        case 0:
            *shape = u"newest"_s;
            break;
        case 1:
            *shape = u"node"_s;
            params.insert(u"node"_s, node);
            break;
        case 2:
            *shape = u"node+job"_s;
            params.insert(u"node"_s, node);
            params.insert(u"job"_s, u"job-1"_s);
            break;
        case 3:
            *shape = u"failed"_s;
            params.insert(u"status"_s, u"failed"_s);
            break;
        case 4:
            *shape = u"window"_s;
            params.insert(
                u"since"_s, formatTimestamp(QDateTime::currentDateTimeUtc().addDays(-200)));
            params.insert(
                u"until"_s, formatTimestamp(QDateTime::currentDateTimeUtc().addDays(-199)));
            break;
        default:
            *shape = u"cursor"_s;
            params.insert(u"node"_s, u"node-0007"_s);
            if (!cursor.isEmpty())
                params.insert(u"cursor"_s, cursor);
            break;
        }
        return params;
    };
    auto report = [](const QString &what, const std::vector<double> &all,
                      const QHash<QString, std::vector<double>> &byShape) {
        say(u"  %1, %2 queries: p50 %3 ms, p95 %4 ms, p99 %5 ms (goal p95 <= 50 ms)"_s.arg(what)
                .arg(all.size())
                .arg(percentile(all, 0.50), 0, 'f', 2)
                .arg(percentile(all, 0.95), 0, 'f', 2)
                .arg(percentile(all, 0.99), 0, 'f', 2));
        for (auto it = byShape.constBegin(); it != byShape.constEnd(); ++it)
            say(u"    %1: p50 %2 ms, p95 %3 ms"_s.arg(it.key(), -9)
                    .arg(percentile(it.value(), 0.50), 0, 'f', 2)
                    .arg(percentile(it.value(), 0.95), 0, 'f', 2));
    };

    // Through the broker, as the console sees it.
    std::vector<double> all;
    QHash<QString, std::vector<double>> byShape;
    QString cursor;
    for (int i = 0; i < queries + 20; ++i) {
        QString shape;
        const QJsonObject params = paramsFor(i, cursor, &shape);
        QElapsedTimer clock;
        clock.start();
        RpcCall *call = client.call(u"runs.query"_s, params, std::chrono::seconds(30));
        call->setAutoDelete(false);
        QSignalSpy done(call, &RpcCall::finished);
        if (!call->isFinished() && !done.wait(30000))
            die(u"RPC: no reply"_s);
        const double ms = clock.nsecsElapsed() / 1e6;
        if (!call->isOk())
            die(u"RPC: %1 %2"_s.arg(call->errorCode(), call->errorString()));
        if (shape == u"cursor")
            cursor = call->result().value("next_cursor"_L1).toString();
        if (i >= 20) { // warm-up excluded
            all.push_back(ms);
            byShape[shape].push_back(ms);
        }
        delete call;
    }
    report(u"round trip via the broker"_s, all, byShape);

    // The orchestrator's share alone: the same dispatch (auth, params, SQL, JSON) in-process.
    all.clear();
    byShape.clear();
    cursor.clear();
    for (int i = 0; i < queries + 20; ++i) {
        QString shape;
        const QJsonObject params = paramsFor(i, cursor, &shape);
        QElapsedTimer clock;
        clock.start();
        const QJsonObject answer
            = rpc.handle(broker.operatorUser().user, newMessageId(), u"runs.query"_s, params);
        const double ms = clock.nsecsElapsed() / 1e6;
        if (!answer.value("ok"_L1).toBool())
            die(u"RPC handle failed"_s);
        if (shape == u"cursor")
            cursor = answer.value("result"_L1).toObject().value("next_cursor"_L1).toString();
        if (i >= 20) {
            all.push_back(ms);
            byShape[shape].push_back(ms);
        }
    }
    report(u"orchestrator only (RpcServer::handle)"_s, all, byShape);
    caller.stop();
    server.stop();
}

} // namespace

int run(const QCoreApplication &app)
{
    int events = 20000;
    int runs = 1000000;
    int queries = 1000;
    int rounds = 5;
    QString rpcBackend = u"both"_s;
    bool doIngest = true;
    bool doRpc = true;
    bool cpuOnly = false; // only our CPU per event (for profiling), no broker phases
    const QStringList args = app.arguments();
    for (qsizetype i = 1; i < args.size(); ++i) {
        const QString a = args.at(i);
        auto next = [&] { return i + 1 < args.size() ? args.at(++i) : QString(); };
        if (a == u"--events")
            events = next().toInt();
        else if (a == u"--runs")
            runs = next().toInt();
        else if (a == u"--queries")
            queries = next().toInt();
        else if (a == u"--rounds")
            rounds = std::max(1, next().toInt());
        else if (a == u"--rpc-backend")
            rpcBackend = next();
        else if (a == u"--skip-ingest")
            doIngest = false;
        else if (a == u"--skip-rpc")
            doRpc = false;
        else if (a == u"--cpu-only")
            cpuOnly = true;
        else if (a == u"--batch-size")
            g_ingest.batchSize = next().toInt();
        else if (a == u"--prefetch")
            g_ingest.prefetch = quint16(next().toUInt());
        else
            die(u"unknown argument "_s + a);
    }
    qputenv("QT_LOGGING_RULES", "sparky.*.info=false");
    if (qEnvironmentVariableIsEmpty("SPARKY_SOURCE_DIR"))
        qputenv("SPARKY_SOURCE_DIR", SPARKY_BENCH_SOURCE_DIR);

    QTemporaryDir dir(QDir::tempPath() + u"/sparky-bench-ingest-XXXXXX"_s);
    dir.setAutoRemove(true);
    // The postgres OS user must reach the cluster directory.
    QFile::setPermissions(dir.path(),
        QFile::permissions(dir.path()) | QFileDevice::ExeOther | QFileDevice::ReadOther);
    say(u"starting a private broker and PostgreSQL in %1"_s.arg(dir.path()));
    auto broker = test::TestBroker::startPrivate(dir.filePath(u"broker"_s));
    if (!broker)
        die(broker.error().toString());
    const QString pgDir = dir.filePath(u"postgres"_s);
    if (QString out; !runScript({ u"start"_s, pgDir }, &out))
        die(u"postgres.sh start failed: "_s + out);
    struct PgCleanup
    {
        QString dir;
        ~PgCleanup()
        {
            if (QString out; !runScript({ u"clean"_s, dir }, &out))
                std::fprintf(stderr, "bench_ingest: postgres.sh clean failed: %s\n", qPrintable(out));
        }
    } pgCleanup { pgDir };

    auto node = (*broker)->node(u"bench-node"_s);
    if (!node)
        die(node.error().toString());
    AmqpClient publisher(*node);
    publisher.start();
    if (!sparky::bench::waitUntil([&] { return publisher.isConnected(); }, 30000))
        die(u"publisher not connected"_s);
    const BrokerSettings orchestrator = (*broker)->orchestrator();

    if (doIngest) {
        say(u"ingest: %1 events per phase (runs of started, 3 x progress, finished); batches of %2, prefetch %3"_s
                .arg(events)
                .arg(g_ingest.batchSize)
                .arg(g_ingest.prefetch));
        QTemporaryDir sqliteDir;
        auto sqlite = Database::open(
            StoreSettings::sqlite(sqliteDir.filePath(u"bench.db"_s)), u"bench-sqlite"_s);
        if (!sqlite)
            die(sqlite.error().toString());
        auto pg = Database::open(postgresStore(pgDir, u"bench_ingest"_s), u"bench-pg"_s);
        if (!pg)
            die(pg.error().toString());

        // Rounds of baseline, SQLite, PostgreSQL, and a last baseline: each ingest phase is
        // compared with the mean of the baselines around it, and the medians over the rounds
        // are the result (on two shared cores a single phase of about a second varies by ±30 %).
        int seed = 0;
        cpuPerEvent((*sqlite)->settings(), u"SQLite"_s, events); // run ids b-1-… to b-6-…
        cpuPerEvent((*pg)->settings(), u"PostgreSQL"_s, events);
        if (cpuOnly)
            return 0;
        auto runBaseline = [&] {
            publishAll(publisher, makeEvents(u"bench-node"_s, events, seed++));
            return baseline(orchestrator, events);
        };
        std::vector<double> baselines { runBaseline() }, sqliteRates, pgRates;
        for (int r = 0; r < rounds; ++r) {
            publishAll(publisher, makeEvents(u"bench-node"_s, events, seed++));
            sqliteRates.push_back(ingest(orchestrator, (*sqlite)->settings(), events));
            publishAll(publisher, makeEvents(u"bench-node"_s, events, seed++));
            pgRates.push_back(ingest(orchestrator, (*pg)->settings(), events));
            baselines.push_back(runBaseline());
            const double raw = (baselines.at(r) + baselines.at(r + 1)) / 2;
            say(u"  round %1: baseline %2 / %3, SQLite %4 (ratio %5), PostgreSQL %6 (ratio %7) events/s"_s
                    .arg(r + 1)
                    .arg(baselines.at(r), 0, 'f', 0)
                    .arg(baselines.at(r + 1), 0, 'f', 0)
                    .arg(sqliteRates.back(), 0, 'f', 0)
                    .arg(sqliteRates.back() / raw, 0, 'f', 2)
                    .arg(pgRates.back(), 0, 'f', 0)
                    .arg(pgRates.back() / raw, 0, 'f', 2));
        }
        auto median = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            const std::size_t n = v.size();
            return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        };
        std::vector<double> sqliteRatios, pgRatios;
        for (std::size_t r = 0; r < sqliteRates.size(); ++r) {
            const double raw = (baselines.at(r) + baselines.at(r + 1)) / 2;
            sqliteRatios.push_back(sqliteRates.at(r) / raw);
            pgRatios.push_back(pgRates.at(r) / raw);
        }
        const double sqliteRate = median(sqliteRates);
        say(u"  median over %1 round(s): baseline (AmqpClient consume + ack multiple, no storage) %2 events/s"_s
                .arg(rounds)
                .arg(median(baselines), 0, 'f', 0));
        say(u"  ingest into SQLite (WAL, synchronous=FULL): %1 events/s, ratio %2 (goal >= 0.5; goal >= 5000 events/s: %3)"_s
                .arg(sqliteRate, 0, 'f', 0)
                .arg(median(sqliteRatios), 0, 'f', 2)
                .arg(sqliteRate >= 5000 ? u"met"_s : u"NOT met"_s));
        say(u"  ingest into PostgreSQL 15: %1 events/s, ratio %2"_s.arg(median(pgRates), 0, 'f', 0)
                .arg(median(pgRatios), 0, 'f', 2));
    }
    publisher.stop();

    if (doRpc) {
        QTemporaryDir rpcDir;
        if (rpcBackend == u"sqlite" || rpcBackend == u"both")
            rpcLatency(**broker, StoreSettings::sqlite(rpcDir.filePath(u"rpc.db"_s)), u"SQLite"_s,
                runs, queries);
        if (rpcBackend == u"postgres" || rpcBackend == u"both")
            rpcLatency(
                **broker, postgresStore(pgDir, u"bench_rpc"_s), u"PostgreSQL"_s, runs, queries);
    }
    return 0;
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    try {
        return run(app);
    } catch (const BenchFailure &failure) {
        std::fprintf(stderr, "bench_ingest: %s\n", qPrintable(failure.what));
        return 1;
    }
}
