// Trigger latency: how long from an operator's "back up now" until the orchestrator has the
// run (docs/benchmarks.md "Trigger latency"), with a fleet of idle agents connected.
//
// Set-up, all in a temporary directory and on loopback:
//  - a private broker from broker-config/ (tests/fixtures/broker.sh);
//  - N+1 nodes enrolled through the management API the way `sparky-orchestrator node add`
//    does it (BrokerManagement::addNode: queue, binding, user, permissions, topic permission);
//  - the real `sparky-orchestrator daemon` (SQLite store, production defaults otherwise) and
//    the real `sparky-agent daemon` of node bench-agent, pinned to the orchestrator's key,
//    with one small job on a local borg repository;
//  - N simulated idle agents in this process, each its own AmqpClient connection (TLS,
//    PLAIN login as its own node user, the agent's default heartbeat of 30 s) consuming its
//    own command queue with the agent's prefetch (4); each announces itself (agent.hello)
//    and sends agent.heartbeat every 60 s (the agent's default interval) from a random phase.
//
// Each round (W warm-up rounds first, not counted), with no borg run going:
//  1. relay: a persistent message relayed by bare AmqpClients in this process over the same
//     three queue hops the trigger takes (quorum → classic → quorum), with no work between;
//  2. node.ping: the RPC round trip console → orchestrator → agent → orchestrator's store →
//     console, through the real daemons;
//  3. trigger: backup.start as the console sends it (RpcClient as the operator user →
//     sparky.rpc → RpcServer → signed backup.run → agent → run.started → ingestion); the
//     orchestrator's store is polled every 2 ms until the run is there (committed). Then the
//     run is left to finish before the next round.
// The ratios trigger/relay and trigger/node.ping compare against baselines of the same run.
//
// Usage: bench_trigger_latency [--triggers 200] [--warmup 3] [--idle-agents 1000]
//                              [--wave 50] [--idle-seconds 10] [--batch-wait-ms N] [--keep]
// --batch-wait-ms sets the orchestrator's ingest.batch_wait_ms (default: its own, 50 ms).

#include "eventloopwait.h"
#include "brokermanagement.h"
#include "rpcclient.h"
#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "sparky/secrets.h"
#include "sparky/signing.h"
#include "testbroker.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDeadlineTimer>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QProcess>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QTemporaryDir>
#include <QTimer>
#include <QUrl>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace sparky;
using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
namespace proto = sparky::protocol;

namespace {

const QString kAgentNode = u"bench-agent"_s;
const QString kJob = u"quick"_s;

// ---- failure and clean-up: die() runs the same clean-up as a normal exit ----

std::vector<std::function<void()>> g_cleanup;

void runCleanup()
{
    while (!g_cleanup.empty()) {
        auto f = std::move(g_cleanup.back());
        g_cleanup.pop_back();
        f();
    }
}

[[noreturn]] void die(const QString &what)
{
    std::fprintf(stderr, "bench_trigger_latency: %s\n", qPrintable(what));
    std::fflush(stderr);
    runCleanup();
    std::exit(1);
}

void say(const QString &what)
{
    std::fprintf(stdout, "%s\n", qPrintable(what));
    std::fflush(stdout);
}

using sparky::bench::pause;
using sparky::bench::waitUntil;

// ---- statistics and the machine ----

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
    return v[i];
}

QString fmtMs(double ms)
{
    return ms < 10 ? QString::number(ms, 'f', 2) : QString::number(ms, 'f', 1);
}

QString summary(const std::vector<double> &v)
{
    return u"p50 %1 / p95 %2 / p99 %3 / max %4 ms"_s.arg(fmtMs(percentile(v, 0.50)),
        fmtMs(percentile(v, 0.95)), fmtMs(percentile(v, 0.99)), fmtMs(percentile(v, 1.0)));
}

QString loadAverage()
{
    QFile f(u"/proc/loadavg"_s);
    if (!f.open(QIODevice::ReadOnly))
        return u"?"_s;
    const QList<QByteArray> parts = f.readAll().split(' ');
    return parts.size() >= 3 ? QString::fromLatin1(parts[0] + ' ' + parts[1] + ' ' + parts[2])
                             : u"?"_s;
}

// utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15).
double cpuSeconds(qint64 pid)
{
    QFile f(u"/proc/%1/stat"_s.arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    const QByteArray text = f.readAll();
    const QList<QByteArray> fields = text.mid(text.lastIndexOf(')') + 2).split(' ');
    if (fields.size() < 13)
        return 0;
    return double(fields[11].toLongLong() + fields[12].toLongLong()) / double(sysconf(_SC_CLK_TCK));
}

double selfCpuSeconds()
{
    rusage u {};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
        + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The broker, the simulated fleet and the daemons all need a descriptor per connection; the
// broker and the daemons inherit this process's limit.
QString raiseFileLimit()
{
    rlimit l {};
    getrlimit(RLIMIT_NOFILE, &l);
    if (l.rlim_cur < l.rlim_max) {
        l.rlim_cur = l.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &l) != 0)
            return u"RLIMIT_NOFILE: could not raise (%1)"_s.arg(
                QString::fromLocal8Bit(strerror(errno)));
    }
    getrlimit(RLIMIT_NOFILE, &l);
    return u"RLIMIT_NOFILE soft %1 hard %2"_s.arg(qulonglong(l.rlim_cur))
        .arg(qulonglong(l.rlim_max));
}

// ---- the two daemons, as child processes with their logs in files ----

class Daemon final
{
public:
    Daemon(QString name, QString logFile)
        : m_name(std::move(name))
        , m_logFile(std::move(logFile))
    { }
    ~Daemon() { terminate(); }

    void start(const QString &program, const QStringList &args, const QProcessEnvironment &env)
    {
        m_process.setProcessEnvironment(env);
        m_process.setStandardOutputFile(m_logFile, QIODevice::Append);
        m_process.setStandardErrorFile(m_logFile, QIODevice::Append);
        m_process.start(program, args);
        if (!m_process.waitForStarted(10000))
            die(u"cannot start %1 (%2): %3"_s.arg(m_name, program, m_process.errorString()));
    }
    QString log() const
    {
        QFile f(m_logFile);
        return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
    }
    QString logTail(int lines = 30) const
    {
        const QStringList all = log().split(u'\n');
        return all.mid(std::max<qsizetype>(0, all.size() - lines)).join(u'\n');
    }
    bool running() const { return m_process.state() == QProcess::Running; }
    qint64 pid() const { return m_process.processId(); }
    void waitForLog(const QString &text, int timeoutMs)
    {
        if (!waitUntil([&] { return !running() || log().contains(text); }, timeoutMs, 50)
            || !log().contains(text))
            die(u"%1 did not log '%2' within %3 s (running: %4); its log ends:\n%5"_s
                    .arg(m_name, text)
                    .arg(timeoutMs / 1000)
                    .arg(running() ? u"yes"_s : u"no"_s)
                    .arg(logTail()));
    }
    void terminate()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        ::kill(pid_t(m_process.processId()), SIGTERM);
        if (!m_process.waitForFinished(30000)) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }

private:
    QString m_name;
    QString m_logFile;
    QProcess m_process;
};

// ---- the idle fleet ----

class IdleFleet final
{
public:
    IdleFleet(test::TestBroker &broker, QString nodesDir)
        : m_broker(broker)
        , m_nodesDir(std::move(nodesDir))
    {
        m_heartbeat.setInterval(1000);
        QObject::connect(&m_heartbeat, &QTimer::timeout, &m_heartbeat, [this] { heartbeatTick(); });
    }
    ~IdleFleet() { stop(); }

    static QString nodeName(int i) { return u"idle-%1"_s.arg(i, 4, 10, QChar(u'0')); }

    // Connects agents wave by wave (a TLS handshake storm of a thousand clients at once would
    // only measure the broker's accept queue). Stops adding agents if a wave does not come
    // up in time, and says how many did.
    int start(int count, int wave)
    {
        for (int first = 0; first < count; first += wave) {
            const int last = std::min(count, first + wave);
            for (int i = first; i < last; ++i)
                add(i);
            if (!waitUntil(
                    [&] { return m_connected >= last || !m_failures.isEmpty(); }, 120000, 20)) {
                say(u"  only %1 of %2 idle agents connected within 120 s of their wave; the fleet "
                    "stays at the agents that did"_s.arg(m_connected)
                        .arg(last));
                break;
            }
            if (!m_failures.isEmpty())
                die(u"idle agent refused: %1"_s.arg(m_failures.first()));
        }
        // Agents of an incomplete wave that never connected would only keep retrying.
        for (auto &a : m_agents)
            if (!a.up)
                a.client->stop();
        m_heartbeat.start();
        return m_connected;
    }

    int connected() const { return m_connected; }
    int reconnects() const { return m_reconnects; }

    void stop()
    {
        m_heartbeat.stop();
        for (auto &a : m_agents)
            a.client->stop();
        m_agents.clear();
    }

private:
    struct Agent
    {
        QString node;
        std::unique_ptr<AmqpClient> client;
        bool up = false;
        QDateTime startedAt;
    };

    void add(int i)
    {
        const QString node = nodeName(i);
        // The agent's defaults (heartbeat, timeouts, back-off), not the test harness's quick ones.
        BrokerSettings s;
        s.endpoints = { BrokerEndpoint { m_broker.host(), m_broker.port() } };
        s.user = node;
        s.tokenFile = m_nodesDir + u'/' + node + u".token"_s;
        s.caFile = m_broker.caFile();
        s.connectionName = u"sparky-agent "_s + node;
        Agent a { node, std::make_unique<AmqpClient>(s), false, QDateTime::currentDateTimeUtc() };
        AmqpClient *c = a.client.get();
        const size_t index = m_agents.size();
        QObject::connect(c, &AmqpClient::connected, c, [this, index](const QString &) {
            if (!m_agents[index].up) {
                m_agents[index].up = true;
                ++m_connected;
            } else {
                ++m_reconnects;
            }
        });
        QObject::connect(c, &AmqpClient::failed, c,
            [this, node](const Error &e) { m_failures << node + u": "_s + e.toString(); });
        // An idle agent gets no commands in this bench; acknowledge anything at once anyway.
        QObject::connect(c, &AmqpClient::delivered, c, [c](const Delivery &d) { c->ack(d); });
        ConsumerOptions consumer;
        consumer.queue = proto::agentQueue(node);
        consumer.prefetch = 4;
        c->consume(consumer);
        c->publish(event(node, proto::type::AgentHello, hello(node, a.startedAt)));
        c->start();
        m_agents.push_back(std::move(a));
    }

    static QJsonObject hello(const QString &node, const QDateTime &startedAt)
    {
        proto::AgentHello h;
        h.version = u"0.1.0"_s;
        h.configDigest = u"sha256:"_s + QString(64, u'0');
        h.hostname = node + u".bench.invalid"_s;
        h.startedAt = startedAt;
        proto::JobInfo job;
        job.name = u"home"_s;
        job.repository = u"ssh://borg@repo-01:22/./"_s + node;
        job.schedule = u"0 2 * * *"_s;
        job.rpoSeconds = 93600;
        h.jobs = { job };
        return h.toJson();
    }

    static OutgoingMessage event(
        const QString &node, QLatin1StringView type, const QJsonObject &body)
    {
        const Envelope e = Envelope::make(QString(type), node, body);
        OutgoingMessage m;
        m.exchange = QString(proto::kEventsExchange);
        m.routingKey = proto::eventRoutingKey(node, e.type);
        m.body = serializeEnvelope(e);
        m.properties = propertiesFor(e, node);
        return m;
    }

    // One tick a second; agent i beats when the tick number ≡ its phase (mod 60).
    void heartbeatTick()
    {
        const int slot = int(m_tick++ % 60);
        for (size_t i = size_t(slot); i < m_agents.size(); i += 60) {
            Agent &a = m_agents[i];
            if (!a.up)
                continue;
            proto::AgentHeartbeat h;
            h.version = u"0.1.0"_s;
            h.configDigest = u"sha256:"_s + QString(64, u'0');
            h.uptimeSeconds = a.startedAt.secsTo(QDateTime::currentDateTimeUtc());
            a.client->publish(event(a.node, proto::type::AgentHeartbeat, h.toJson()));
        }
    }

    test::TestBroker &m_broker;
    QString m_nodesDir;
    std::vector<Agent> m_agents;
    QTimer m_heartbeat;
    quint64 m_tick = quint64(QRandomGenerator::global()->bounded(60));
    int m_connected = 0;
    int m_reconnects = 0;
    QStringList m_failures;
};

// ---- the raw baseline: the trigger's three queue hops with no work in between ----

class Relay final
{
public:
    static constexpr QLatin1StringView kHop1 { "bench.relay.quorum-1" };
    static constexpr QLatin1StringView kHop2 { "bench.relay.classic" };
    static constexpr QLatin1StringView kHop3 { "bench.relay.quorum-2" };

    explicit Relay(test::TestBroker &broker)
        : m_user(broker.admin().user)
        , m_a(broker.admin())
        , m_b(broker.admin())
    {
        const QByteArray quorum
            = R"({"durable":true,"auto_delete":false,"arguments":{"x-queue-type":"quorum"}})";
        const QByteArray classic
            = R"({"durable":true,"auto_delete":false,"arguments":{"x-queue-type":"classic"}})";
        for (const auto &[queue, body] : { std::pair { kHop1, quorum },
                 std::pair { kHop2, classic }, std::pair { kHop3, quorum } })
            if (auto ok = broker.management(u"PUT"_s, u"/queues/sparky/"_s + queue, body); !ok)
                die(u"declaring %1: %2"_s.arg(queue, ok.error().toString()));
        // B reads hops 1 and 3, A reads hop 2: every hop goes from one connection to another.
        m_b.consume(ConsumerOptions { QString(kHop1), 10, false });
        m_b.consume(ConsumerOptions { QString(kHop3), 10, false });
        m_a.consume(ConsumerOptions { QString(kHop2), 10, false });
        QObject::connect(&m_b, &AmqpClient::delivered, &m_b, [this](const Delivery &d) {
            m_b.ack(d);
            if (d.queue == kHop1)
                send(m_b, kHop2, d.body);
            else if (d.queue == kHop3 && d.properties.messageId == m_waitingFor)
                m_doneNs = m_clock.nsecsElapsed(); // taken here, not at the next poll tick
        });
        QObject::connect(&m_a, &AmqpClient::delivered, &m_a, [this](const Delivery &d) {
            m_a.ack(d);
            if (d.queue == kHop2)
                send(m_a, kHop3, d.body);
        });
        m_a.start();
        m_b.start();
        if (!waitUntil([&] { return m_a.isConnected() && m_b.isConnected(); }, 30000))
            die(u"relay clients did not connect"_s);
    }

    // One relay; milliseconds from the first publish() to the last delivery.
    double once(int seq)
    {
        // About the size of a command or a run.started event.
        const Envelope e = Envelope::make(
            u"bench.relay"_s, u"bench"_s, { { u"seq"_s, seq }, { u"pad"_s, QString(300, u'x') } });
        m_waitingFor = e.id;
        m_doneNs = -1;
        m_clock.start();
        send(m_a, kHop1, serializeEnvelope(e), e.id);
        if (!waitUntil([&] { return m_doneNs >= 0; }, 30000, 1))
            die(u"a relay did not come through within 30 s"_s);
        return double(m_doneNs) / 1e6;
    }

private:
    void send(AmqpClient &from, QLatin1StringView queue, const QByteArray &body, QString id = {})
    {
        if (id.isEmpty())
            id = parseEnvelope(body).value().id;
        OutgoingMessage m;
        m.exchange = QString(); // the default exchange: routing key = queue
        m.routingKey = QString(queue);
        m.body = body;
        m.properties.messageId = id;
        m.properties.type = u"bench.relay"_s;
        m.properties.timestamp = QDateTime::currentDateTimeUtc();
        m.properties.userId = m_user;
        from.publish(std::move(m));
    }

    QString m_user;
    AmqpClient m_a;
    AmqpClient m_b;
    QString m_waitingFor;
    QElapsedTimer m_clock;
    qint64 m_doneNs = -1;
};

// ---- the orchestrator's store, read beside it (SQLite WAL: readers never block it) ----

class StoreObserver final
{
public:
    explicit StoreObserver(const QString &path)
    {
        m_db = QSqlDatabase::addDatabase(u"QSQLITE"_s, u"bench-observer"_s);
        m_db.setDatabaseName(path);
        m_db.setConnectOptions(u"QSQLITE_BUSY_TIMEOUT=5000"_s);
        if (!m_db.open())
            die(u"cannot open the orchestrator's store %1: %2"_s.arg(
                path, m_db.lastError().text()));
        m_newRun = QSqlQuery(m_db);
        // rowid grows with every new run row (SQLite): the first row after the ones seen.
        m_newRun.prepare(u"SELECT rowid, run_id, command_id, started_at, updated_at FROM runs"
                         " WHERE node = ? AND rowid > ? ORDER BY rowid LIMIT 1"_s);
    }

    qint64 scalar(const QString &sql, const QVariantList &values = {})
    {
        QSqlQuery q(m_db);
        q.prepare(sql);
        for (const QVariant &v : values)
            q.addBindValue(v);
        const qint64 r = q.exec() && q.next() ? q.value(0).toLongLong() : -1;
        q.finish();
        return r;
    }

    QVariantList row(const QString &sql, const QVariantList &values)
    {
        QSqlQuery q(m_db);
        q.prepare(sql);
        for (const QVariant &v : values)
            q.addBindValue(v);
        QVariantList out;
        if (q.exec() && q.next())
            for (int i = 0; i < q.record().count(); ++i)
                out << q.value(i);
        q.finish();
        return out;
    }

    struct NewRun
    {
        qint64 rowid = 0;
        QString runId;
        QString commandId;
        qint64 startedAt = 0; // the agent's clock (ms)
        qint64 writtenAt = 0; // updated_at: when the ingest batch wrote it (ms)
    };

    // A run of `node` stored after `afterRowid`, if there is one yet.
    std::optional<NewRun> newRun(const QString &node, qint64 afterRowid)
    {
        m_newRun.addBindValue(node);
        m_newRun.addBindValue(afterRowid);
        std::optional<NewRun> r;
        if (m_newRun.exec() && m_newRun.next())
            r = NewRun { m_newRun.value(0).toLongLong(), m_newRun.value(1).toString(),
                m_newRun.value(2).toString(), m_newRun.value(3).toLongLong(),
                m_newRun.value(4).toLongLong() };
        m_newRun.finish(); // ends the read transaction, so the WAL can be checkpointed
        return r;
    }

    void close()
    {
        m_newRun = QSqlQuery();
        m_db.close();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(u"bench-observer"_s);
    }

private:
    QSqlDatabase m_db;
    QSqlQuery m_newRun;
};

QByteArray orchestratorYaml(const test::TestBroker &broker, const QString &storePath,
    const QString &keyFile, int batchWaitMs)
{
    const BrokerSettings b = broker.orchestrator();
    QByteArray y;
    y += "broker:\n  hosts: [\"" + b.endpoints.first().toString().toUtf8() + "\"]\n";
    y += "  vhost: " + b.vhost.toUtf8() + "\n  user: " + b.user.toUtf8() + "\n";
    y += "  token_file: " + b.tokenFile.toUtf8() + "\n  tls:\n    ca_file: " + b.caFile.toUtf8()
        + "\n";
    y += "store:\n  driver: sqlite\n  path: " + storePath.toUtf8() + "\n";
    y += "commands:\n  signing_key: " + keyFile.toUtf8() + "\n";
    y += "rpc:\n  roles:\n    " + broker.operatorUser().user.toUtf8() + ": operator\n";
    if (batchWaitMs > 0)
        y += "ingest:\n  batch_wait_ms: " + QByteArray::number(batchWaitMs) + "\n";
    return y; // everything else: the production defaults (ingest batches of 500 or 50 ms …)
}

QByteArray agentYaml(const test::TestBroker &broker, const QString &dir, const QString &tokenFile,
    const QString &orchestratorKey)
{
    QByteArray y;
    y += "node: " + kAgentNode.toUtf8() + "\n";
    y += "state_dir: " + dir.toUtf8() + "/state\n";
    y += "broker:\n  hosts: [\""
        + QString(broker.host() + u':' + QString::number(broker.port())).toUtf8() + "\"]\n";
    y += "  vhost: sparky\n  user: " + kAgentNode.toUtf8() + "\n  token_file: " + tokenFile.toUtf8()
        + "\n";
    y += "  tls:\n    ca_file: " + broker.caFile().toUtf8() + "\n";
    y += "commands:\n  orchestrator_key: \"" + orchestratorKey.toUtf8() + "\"\n";
    y += "  allowed: [backup.run, agent.ping]\n";
    y += "metrics:\n  listen: \"127.0.0.1:0\"\n";
    y += "repositories:\n  local:\n    url: " + dir.toUtf8() + "/repo\n    encryption: none\n";
    y += "jobs:\n  " + kJob.toUtf8() + ":\n    repository: local\n    sources: [" + dir.toUtf8()
        + "/src]\n    compression: lz4\n";
    return y;
}

void makeSourceTree(const QString &dir)
{
    if (!QDir().mkpath(dir))
        die(u"cannot create %1"_s.arg(dir));
    for (int i = 0; i < 5; ++i) {
        QFile f(dir + u"/file%1.txt"_s.arg(i));
        if (!f.open(QIODevice::WriteOnly))
            die(f.fileName() + u": "_s + f.errorString());
        for (int k = 0; k < 200; ++k)
            f.write("line " + QByteArray::number(k) + " of file " + QByteArray::number(i) + '\n');
    }
}

// Enrolls every node through the management API, a few at a time; tokens go to 0600 files.
void enroll(const test::TestBroker &broker, const QStringList &nodes, const QString &nodesDir)
{
    orchestrator::ManagementSettings m;
    m.baseUrl = QUrl(u"https://%1:%2"_s.arg(broker.host()).arg(broker.managementPort()));
    m.user = broker.value(u"SPARKY_BROKER_ADMIN_USER"_s);
    m.passwordFile = broker.value(u"SPARKY_BROKER_ADMIN_PASSWORD_FILE"_s);
    m.caFile = broker.caFile();
    orchestrator::BrokerManagement management(m);
    std::atomic<int> next { 0 };
    std::atomic<bool> failed { false };
    QString failure;
    std::mutex failureMutex;
    std::vector<std::thread> workers;
    for (int w = 0; w < 4; ++w)
        workers.emplace_back([&] {
            for (int i = next++; i < nodes.size() && !failed; i = next++) {
                auto token = management.addNode(nodes.at(i));
                Result written = token
                    ? writeSecretFile(nodesDir + u'/' + nodes.at(i) + u".token"_s, *token)
                    : Result(token.error());
                if (!written) {
                    const std::lock_guard lock(failureMutex);
                    failure = nodes.at(i) + u": "_s + written.error().toString();
                    failed = true;
                }
            }
        });
    for (std::thread &t : workers)
        t.join();
    if (failed)
        die(u"enrolling: "_s + failure);
}

QJsonObject managementJson(const test::TestBroker &broker, const QString &path)
{
    auto r = broker.management(u"GET"_s, path);
    if (!r)
        return {};
    const QJsonDocument d = QJsonDocument::fromJson(*r);
    return d.isArray() ? d.array().first().toObject() : d.object();
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    int triggers = 200;
    int warmup = 3;
    int idleAgents = 1000;
    int wave = 50;
    int idleSeconds = 10;
    int batchWaitMs = 0; // 0: the orchestrator's default (50 ms)
    bool keep = false;
    const QStringList args = app.arguments();
    for (qsizetype i = 1; i < args.size(); ++i) {
        const QString a = args.at(i);
        auto next = [&] { return i + 1 < args.size() ? args.at(++i).toInt() : -1; };
        if (a == u"--triggers")
            triggers = next();
        else if (a == u"--warmup")
            warmup = next();
        else if (a == u"--idle-agents")
            idleAgents = next();
        else if (a == u"--wave")
            wave = next();
        else if (a == u"--idle-seconds")
            idleSeconds = next();
        else if (a == u"--batch-wait-ms")
            batchWaitMs = next();
        else if (a == u"--keep")
            keep = true;
        else
            die(u"unknown argument %1 (see the head of bench_trigger_latency.cpp)"_s.arg(a));
    }
    if (triggers < 1 || warmup < 0 || idleAgents < 0 || wave < 1 || idleSeconds < 0
        || batchWaitMs < 0)
        die(u"bad arguments"_s);
    // This process's own transport chatter (a thousand "connected" lines); the daemons log as
    // configured, into their log files.
    QLoggingCategory::setFilterRules(u"sparky.*.info=false\nsparky.*.debug=false"_s);
    if (qEnvironmentVariableIsEmpty("SPARKY_SOURCE_DIR"))
        qputenv("SPARKY_SOURCE_DIR", SPARKY_BENCH_SOURCE_DIR);
    const QString limit = raiseFileLimit();
    const QString loadAtStart = loadAverage();

    QTemporaryDir tmp(QDir::tempPath() + u"/sparky-bench-trigger-XXXXXX"_s);
    tmp.setAutoRemove(false);
    if (!tmp.isValid())
        die(u"no temporary directory"_s);
    const QString dir = tmp.path();
    g_cleanup.push_back([dir, keep] {
        if (keep)
            say(u"kept %1"_s.arg(dir));
        else
            QDir(dir).removeRecursively();
    });
    say(u"bench_trigger_latency: %1 triggers (+%2 warm-up), %3 idle agents, ingest batch wait %4, "
        "%5 cores, load average %6, %7"_s.arg(triggers)
            .arg(warmup)
            .arg(idleAgents)
            .arg(batchWaitMs > 0 ? u"%1 ms"_s.arg(batchWaitMs) : u"default (50 ms)"_s)
            .arg(std::thread::hardware_concurrency())
            .arg(loadAtStart, limit));

    // ---- broker and enrollment ----
    QElapsedTimer phase;
    phase.start();
    auto started = test::TestBroker::startPrivate(dir + u"/broker"_s);
    if (!started)
        die(started.error().toString());
    std::shared_ptr<test::TestBroker> broker
        = std::move(*started); // the only owner: reset() cleans it
    g_cleanup.push_back([&broker] { broker.reset(); }); // broker.sh clean
    say(u"  broker up in %1 s (pid %2)"_s.arg(phase.elapsed() / 1000.0, 0, 'f', 1)
            .arg(broker->value(u"SPARKY_BROKER_PID"_s)));

    const QString nodesDir = dir + u"/nodes"_s;
    QDir().mkpath(nodesDir);
    QStringList nodes { kAgentNode };
    for (int i = 0; i < idleAgents; ++i)
        nodes << IdleFleet::nodeName(i);
    phase.restart();
    enroll(*broker, nodes, nodesDir);
    say(u"  enrolled %1 nodes through the management API in %2 s (queue, binding, user, "
        "permissions, topic permission each)"_s.arg(nodes.size())
            .arg(phase.elapsed() / 1000.0, 0, 'f', 1));

    // ---- orchestrator ----
    auto key = SigningKey::generate();
    if (!key)
        die(key.error().toString());
    const QString orchDir = dir + u"/orchestrator"_s;
    QDir().mkpath(orchDir);
    const QString keyFile = orchDir + u"/signing.key"_s;
    const QString storePath = orchDir + u"/store.db"_s;
    if (auto ok = writeSecretFile(keyFile, key->toPem()); !ok)
        die(ok.error().toString());
    const QString orchConfig = orchDir + u"/orchestrator.yaml"_s;
    if (auto ok
        = writeSecretFile(orchConfig, orchestratorYaml(*broker, storePath, keyFile, batchWaitMs));
        !ok)
        die(ok.error().toString());
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(u"QT_LOGGING_RULES"_s);
    auto orchestrator = std::make_unique<Daemon>(u"sparky-orchestrator"_s, orchDir + u"/log"_s);
    g_cleanup.push_back([&orchestrator] { orchestrator.reset(); });
    orchestrator->start(QStringLiteral(SPARKY_BENCH_ORCHESTRATOR_BINARY),
        { u"daemon"_s, u"-c"_s, orchConfig }, env);
    orchestrator->waitForLog(u"consuming from sparky.orchestrator.events"_s, 60000);
    StoreObserver store(storePath);
    g_cleanup.push_back([&store] { store.close(); });

    // ---- the idle fleet ----
    IdleFleet fleet(*broker, nodesDir);
    g_cleanup.push_back([&fleet] { fleet.stop(); });
    if (idleAgents > 0) {
        phase.restart();
        const int up = fleet.start(idleAgents, wave);
        say(u"  %1 idle agents connected in %2 s (waves of %3)"_s.arg(up)
                .arg(phase.elapsed() / 1000.0, 0, 'f', 1)
                .arg(wave));
        if (!waitUntil(
                [&] {
                    return store.scalar(u"SELECT COUNT(*) FROM nodes WHERE node LIKE 'idle-%'"_s)
                        >= up;
                },
                120000, 200))
            die(u"the orchestrator did not store the hellos of the idle agents"_s);
    }

    // ---- the real agent ----
    const QString agentDir = dir + u"/agent"_s;
    makeSourceTree(agentDir + u"/src"_s);
    const QString agentConfig = agentDir + u"/agent.yaml"_s;
    if (auto ok = writeSecretFile(agentConfig,
            agentYaml(*broker, agentDir, nodesDir + u'/' + kAgentNode + u".token"_s,
                key->publicKeyBase64()));
        !ok)
        die(ok.error().toString());
    QProcessEnvironment agentEnv = env;
    agentEnv.insert(u"BORG_BASE_DIR"_s, agentDir + u"/borg-base"_s); // cache and keys stay here
    auto agent = std::make_unique<Daemon>(u"sparky-agent"_s, agentDir + u"/log"_s);
    g_cleanup.push_back([&agent] { agent.reset(); });
    agent->start(
        QStringLiteral(SPARKY_BENCH_AGENT_BINARY), { u"daemon"_s, u"-c"_s, agentConfig }, agentEnv);
    if (!waitUntil(
            [&] {
                return !agent->running()
                    || store.scalar(u"SELECT COUNT(*) FROM nodes WHERE node = ?"_s, { kAgentNode })
                    == 1;
            },
            60000, 50)
        || !agent->running())
        die(u"the orchestrator did not hear from the real agent; its log ends:\n"_s
            + agent->logTail());

    // ---- the console and the relay ----
    auto console = std::make_unique<AmqpClient>(broker->operatorUser());
    auto rpc = std::make_unique<RpcClient>(console.get());
    console->start();
    auto relay = std::make_unique<Relay>(*broker);
    g_cleanup.push_back([&relay, &rpc, &console] {
        relay.reset();
        rpc.reset();
        console.reset();
    });
    if (!waitUntil([&] { return console->isConnected(); }, 30000))
        die(u"the console's client did not connect"_s);

    // ---- what the idle fleet costs while nothing else happens ----
    const qint64 brokerPid = broker->value(u"SPARKY_BROKER_PID"_s).toLongLong();
    {
        const double self0 = selfCpuSeconds();
        const double broker0 = cpuSeconds(brokerPid);
        const double orch0 = cpuSeconds(orchestrator->pid());
        const double agent0 = cpuSeconds(agent->pid());
        QElapsedTimer idle;
        idle.start();
        pause(idleSeconds * 1000);
        const double s = double(idle.elapsed()) / 1000.0;
        const QJsonObject totals
            = managementJson(*broker, u"/overview"_s).value(u"object_totals"_s).toObject();
        const QJsonObject node = managementJson(*broker, u"/nodes"_s);
        say(u"  idle for %1 s: CPU % of one core — broker %2, this process (fleet + relay + "
            u"console) %3, "
            "orchestrator %4, agent %5"_s.arg(s, 0, 'f', 0)
                .arg(100 * (cpuSeconds(brokerPid) - broker0) / s, 0, 'f', 1)
                .arg(100 * (selfCpuSeconds() - self0) / s, 0, 'f', 1)
                .arg(100 * (cpuSeconds(orchestrator->pid()) - orch0) / s, 0, 'f', 1)
                .arg(100 * (cpuSeconds(agent->pid()) - agent0) / s, 0, 'f', 1));
        say(u"  broker: %1 connections, %2 channels, %3 queues, %4 consumers; fd %5/%6, "
            "memory %7 MiB"_s.arg(totals.value(u"connections"_s).toInt())
                .arg(totals.value(u"channels"_s).toInt())
                .arg(totals.value(u"queues"_s).toInt())
                .arg(totals.value(u"consumers"_s).toInt())
                .arg(node.value(u"fd_used"_s).toInt())
                .arg(node.value(u"fd_total"_s).toInt())
                .arg(node.value(u"mem_used"_s).toDouble() / 1048576.0, 0, 'f', 0));
        say(u"  orchestrator store: %1 nodes"_s.arg(store.scalar(u"SELECT COUNT(*) FROM nodes"_s)));
    }

    // ---- the rounds ----
    std::vector<double> relayMs, pingMs, triggerMs, replyMs;
    std::vector<double> toIssued, toRunning, toStarted, toWritten, toCommitted, runSeconds;
    int failedRuns = 0;
    qint64 lastRowid = store.scalar(
        u"SELECT COALESCE(MAX(rowid), 0) FROM runs WHERE node = ?"_s, { kAgentNode });
    // A call, and the moment (on `clock`) its answer arrived, taken in the finished signal.
    auto rpcCall = [&](const QString &method, const QJsonObject &params, const QElapsedTimer &clock,
                       double *answeredMs) {
        *answeredMs = -1;
        RpcCall *call = rpc->call(method, params, 30s);
        call->setAutoDelete(false);
        QObject::connect(call, &RpcCall::finished, call,
            [&clock, answeredMs](RpcCall *) { *answeredMs = double(clock.nsecsElapsed()) / 1e6; });
        return std::unique_ptr<RpcCall>(call);
    };
    say(u"rounds (relay, node.ping, backup.start → run.started stored, run left to finish):"_s);
    QElapsedTimer total;
    total.start();
    for (int round = 0; round < warmup + triggers; ++round) {
        const bool counted = round >= warmup;

        const double relayOnce = relay->once(round);

        QElapsedTimer clock;
        clock.start();
        double pingOnce = -1;
        auto ping = rpcCall(u"node.ping"_s, { { u"node"_s, kAgentNode } }, clock, &pingOnce);
        if (!waitUntil([&] { return ping->isFinished(); }, 40000, 1) || !ping->isOk())
            die(u"node.ping failed: %1 %2"_s.arg(ping->errorCode(), ping->errorString()));

        // The trigger. The store is polled every 2 ms: that is the resolution of this figure.
        const qint64 t0 = QDateTime::currentMSecsSinceEpoch();
        clock.restart();
        double replyOnce = -1;
        auto call = rpcCall(u"backup.start"_s, { { u"node"_s, kAgentNode }, { u"job"_s, kJob } },
            clock, &replyOnce);
        std::optional<StoreObserver::NewRun> run;
        const bool stored = waitUntil(
            [&] {
                run = store.newRun(kAgentNode, lastRowid);
                return run.has_value();
            },
            30000, 2);
        const double triggerOnce = double(clock.nsecsElapsed()) / 1e6;
        const qint64 t1 = QDateTime::currentMSecsSinceEpoch();
        if (!waitUntil([&] { return call->isFinished(); }, 30000, 1) || !call->isOk())
            die(u"backup.start failed: %1 %2"_s.arg(call->errorCode(), call->errorString()));
        const QString commandId
            = call->result().value(u"command"_s).toObject().value(u"id"_s).toString();
        if (!stored)
            die(u"no run.started stored 30 s after backup.start (command %1); the agent's log ends:\n%2"_s
                    .arg(commandId, agent->logTail()));
        if (run->commandId != commandId)
            die(u"a run of another command (%1, expected %2) appeared"_s.arg(
                run->commandId, commandId));
        lastRowid = run->rowid;

        // Let the run finish (no borg in the background of the next round's measurements).
        QElapsedTimer runClock;
        runClock.start();
        QString status;
        if (!waitUntil(
                [&] {
                    const QVariantList r
                        = store.row(u"SELECT status FROM runs WHERE node = ? AND run_id = ?"_s,
                            { kAgentNode, run->runId });
                    status = r.isEmpty() ? QString() : r.first().toString();
                    return !status.isEmpty() && status != u"running";
                },
                300000, 25))
            die(u"run %1 did not finish within 5 min; the agent's log ends:\n%2"_s.arg(
                run->runId, agent->logTail()));
        const double runTook = double(runClock.elapsed()) / 1000.0 + triggerOnce / 1000.0;
        const QVariantList c
            = store.row(u"SELECT issued_at, published_at, running_at FROM commands WHERE id = ?"_s,
                { commandId });
        if (status != u"success" && status != u"warning") {
            ++failedRuns;
            const QVariantList why
                = store.row(u"SELECT failed_step, error FROM runs WHERE node = ? AND run_id = ?"_s,
                    { kAgentNode, run->runId });
            say(u"  round %1: run %2 ended %3 (step %4: %5)"_s.arg(round + 1).arg(
                run->runId, status, why.value(0).toString(), why.value(1).toString().left(300)));
        }

        if (counted) {
            relayMs.push_back(relayOnce);
            pingMs.push_back(pingOnce);
            triggerMs.push_back(triggerOnce);
            replyMs.push_back(replyOnce);
            runSeconds.push_back(runTook);
            if (c.size() == 3 && !c[2].isNull()) {
                const qint64 issued = c[0].toLongLong();
                const qint64 runningAt = c[2].toLongLong();
                toIssued.push_back(double(issued - t0));
                toRunning.push_back(double(runningAt - issued));
                toStarted.push_back(double(run->startedAt - runningAt));
                toWritten.push_back(double(run->writtenAt - run->startedAt));
                toCommitted.push_back(double(t1 - run->writtenAt));
            }
        }
        if ((round + 1) % 20 == 0 || round + 1 == warmup)
            say(u"  %1/%2 rounds (%3 s): last relay %4 ms, node.ping %5 ms, trigger %6 ms"_s
                    .arg(round + 1)
                    .arg(warmup + triggers)
                    .arg(total.elapsed() / 1000)
                    .arg(fmtMs(relayOnce), fmtMs(pingOnce), fmtMs(triggerOnce)));
        // A little random air, so the rounds do not beat with any periodic timer; and at least
        // 1.2 s between two runs' starts: the agent names archives to the second, so a second
        // backup of the job within the same second fails with "archive already exists".
        const qint64 sinceTrigger = QDateTime::currentMSecsSinceEpoch() - t0;
        pause(int(
            std::max<qint64>(100 + QRandomGenerator::global()->bounded(300), 1200 - sinceTrigger)));
    }

    // ---- results ----
    const QString loadAtEnd = loadAverage();
    const double p50 = percentile(triggerMs, 0.50);
    const double p99 = percentile(triggerMs, 0.99);
    say(u"results over %1 triggers (%2 warm-up rounds excluded), %3 idle agents connected:"_s
            .arg(triggerMs.size())
            .arg(warmup)
            .arg(fleet.connected()));
    say(u"  baseline relay (quorum → classic → quorum, bare AmqpClients): %1"_s.arg(
        summary(relayMs)));
    say(u"  baseline node.ping RPC round trip (via orchestrator and agent): %1"_s.arg(
        summary(pingMs)));
    say(u"  backup.start RPC reply:                                    %1"_s.arg(summary(replyMs)));
    say(u"  TRIGGER backup.start → run.started stored:                 %1"_s.arg(
        summary(triggerMs)));
    say(u"  ratio trigger/relay: p50 %1, p99 %2"_s.arg(p50 / percentile(relayMs, 0.50), 0, 'f', 2)
            .arg(p99 / percentile(relayMs, 0.99), 0, 'f', 2));
    say(u"  ratio trigger/node.ping: p50 %1, p99 %2"_s
            .arg(p50 / percentile(pingMs, 0.50), 0, 'f', 2)
            .arg(p99 / percentile(pingMs, 0.99), 0, 'f', 2));
    say(u"  where the time goes (ms, p50 / p95, from the store's timestamps; same host clock):"_s);
    const std::pair<QString, const std::vector<double> *> stages[] = {
        { u"RPC to the orchestrator, command issued (issued_at - t0)"_s, &toIssued },
        { u"command stored, signed, published, agent took it and started the run (running_at - issued_at)"_s,
            &toRunning },
        { u"agent: run.started (started_at - running_at)"_s, &toStarted },
        { u"run.started through outbox, broker and ingest batch (updated_at - started_at)"_s,
            &toWritten },
        { u"commit and seen by the 2 ms poll (t1 - updated_at)"_s, &toCommitted },
    };
    for (const auto &[what, v] : stages)
        say(u"    %1 / %2  %3"_s.arg(fmtMs(percentile(*v, 0.50)), 6)
                .arg(fmtMs(percentile(*v, 0.95)), 6)
                .arg(what));
    say(u"  runs: %1 finished, %2 not success; trigger to run finished p50 %3 s"_s
            .arg(runSeconds.size())
            .arg(failedRuns)
            .arg(percentile(runSeconds, 0.5), 0, 'f', 2));
    say(u"  idle agents: %1 connected, %2 reconnects during the run"_s.arg(fleet.connected())
            .arg(fleet.reconnects()));
    say(u"  load average: %1 at start, %2 at end"_s.arg(loadAtStart, loadAtEnd));
    say(u"  goal p99 <= 1000 ms: %1"_s.arg(p99 <= 1000 ? u"met"_s : u"NOT met"_s));

    runCleanup();
    return 0;
}
