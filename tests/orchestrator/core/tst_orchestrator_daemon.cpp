// The real `sparky-orchestrator daemon` process against the real broker and BOTH SQLite and
// a real PostgreSQL: SIGKILL in the middle of ingestion and a restart store every event
// exactly once; two replicas on one PostgreSQL store each event once between them (and
// only one runs the singleton duties); RPC roles are enforced (a viewer cannot start a
// backup) and re-read on SIGHUP; a command to an offline node expires in its queue, is
// dead-lettered and marked expired; a command to an unknown node fails "not enrolled";
// SIGTERM shuts down in order.

#include "database.h"
#include "eventfactory.h"
#include "rpcclient.h"
#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "sparky/secrets.h"
#include "sparky/signing.h"
#include "testbroker.h"
#include "teststore.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTemporaryFile>
#include <QTest>
#include <csignal>

using namespace sparky;
using namespace sparky::orchestrator;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

// One orchestrator process; its stderr is collected for assertions.
class Daemon final
{
public:
    explicit Daemon(QString config)
        : m_config(std::move(config))
    {
        m_process.setProcessChannelMode(QProcess::SeparateChannels);
        QObject::connect(&m_process, &QProcess::readyReadStandardError, &m_process,
            [this] { m_log += QString::fromUtf8(m_process.readAllStandardError()); });
    }
    ~Daemon()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(10000);
        }
    }

    bool start()
    {
        m_process.start(
            binaryPath(u"orchestrator/sparky-orchestrator"_s), { u"daemon"_s, u"-c"_s, m_config });
        if (!m_process.waitForStarted(10000))
            return false;
        return waitFor(u"consuming from sparky.orchestrator.events"_s, 20000);
    }
    bool waitFor(const QString &text, int ms = 15000)
    {
        return QTest::qWaitFor(
                   [&] {
                       return m_log.contains(text) || m_process.state() == QProcess::NotRunning;
                   },
                   ms)
            && m_log.contains(text);
    }
    void signal(int signo) { ::kill(pid_t(m_process.processId()), signo); }
    bool waitExit(int ms = 20000)
    {
        return QTest::qWaitFor([&] { return m_process.state() == QProcess::NotRunning; }, ms);
    }
    int exitCode() const { return m_process.exitCode(); }
    QProcess::ExitStatus exitStatus() const { return m_process.exitStatus(); }
    const QString &log() const { return m_log; }
    // "ingestion stopped: N stored" from a graceful stop.
    qint64 storedAtStop() const
    {
        const qsizetype at = m_log.lastIndexOf(u"ingestion stopped: "_s);
        if (at < 0)
            return -1;
        return m_log.mid(at + 19).section(u' ', 0, 0).toLongLong();
    }

private:
    QString m_config;
    QProcess m_process;
    QString m_log;
};

} // namespace

class TestOrchestratorDaemon : public QObject
{
    Q_OBJECT

    std::shared_ptr<TestBroker> m_broker;
    QTemporaryDir m_dir;
    QString m_keyFile;
    int m_serial = 0;

    QString writeConfig(
        const StoreSettings &store, const QString &roles, const QString &name, bool metrics = false)
    {
        const BrokerSettings b = m_broker->orchestrator();
        QByteArray yaml;
        yaml += "broker:\n  hosts: [\"" + b.endpoints.first().toString().toUtf8()
            + "\"]\n  vhost: " + b.vhost.toUtf8() + "\n  user: " + b.user.toUtf8()
            + "\n  token_file: " + b.tokenFile.toUtf8()
            + "\n  heartbeat: 10s\n  reconnect_max: 2s\n  tls:\n    ca_file: " + b.caFile.toUtf8()
            + "\n";
        yaml += storeYaml(store);
        yaml += "commands:\n  signing_key: " + m_keyFile.toUtf8() + "\n  default_lifetime: 1h\n";
        yaml += "rpc:\n  roles:\n    " + m_broker->operatorUser().user.toUtf8() + ": "
            + roles.toUtf8() + "\n";
        yaml += "duties:\n  interval: 1s\nnodes:\n  offline_after: 5m\nreport:\n  interval: 2s\n";
        if (metrics)
            yaml += "metrics:\n  listen: \"127.0.0.1:0\"\n";
        const QString path = m_dir.filePath(name + u".yaml"_s);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(yaml) != yaml.size())
            qFatal("cannot write %s", qPrintable(path));
        return path;
    }

    Expected<StoreSettings> store(const QString &backend)
    {
        const QString tag = u"daemon_%1_%2"_s.arg(backend).arg(++m_serial);
        QDir().mkpath(m_dir.filePath(tag));
        return storeFor(backend, m_dir.filePath(tag), tag);
    }

    // Publishes every message with confirms, as the agent's outbox does.
    static bool publishAll(AmqpClient &publisher, const QList<OutgoingMessage> &messages)
    {
        qsizetype confirmed = 0;
        QList<Error> failures;
        QObject ctx;
        QObject::connect(&publisher, &AmqpClient::confirmed, &ctx,
            [&](const QList<quint64> &t) { confirmed += t.size(); });
        QObject::connect(&publisher, &AmqpClient::publishFailed, &ctx,
            [&](quint64, const Error &e) { failures.append(e); });
        for (const OutgoingMessage &m : messages)
            publisher.publish(m);
        return QTest::qWaitFor(
                   [&] { return confirmed >= messages.size() || !failures.isEmpty(); }, 60000)
            && failures.isEmpty();
    }

    QList<OutgoingMessage> runEvents(
        const QString &node, int runs, int progress, const QString &prefix)
    {
        QList<OutgoingMessage> out;
        for (int i = 0; i < runs; ++i) {
            AgentRun r { node };
            r.runId = prefix + QString::number(i);
            r.progressEvents = progress;
            for (const Envelope &e : r.events())
                out.append(eventMessage(e, node));
        }
        return out;
    }

    // How many of these messages' ids the store holds (each at most once: primary key).
    static qint64 countIds(Database &db, const QList<OutgoingMessage> &events)
    {
        QSet<QString> ids;
        for (const OutgoingMessage &m : events)
            ids.insert(m.properties.messageId);
        const QStringList all(ids.cbegin(), ids.cend());
        qint64 found = 0;
        for (qsizetype i = 0; i < all.size(); i += 500) {
            const QStringList chunk = all.mid(i, 500);
            QVariantList values;
            for (const QString &id : chunk)
                values.append(id);
            found += count(db,
                u"SELECT COUNT(*) FROM message_ids WHERE id IN (?"_s
                    + u", ?"_s.repeated(chunk.size() - 1) + u')',
                values);
        }
        return found;
    }

    static qint64 count(Database &db, const QString &sql, const QVariantList &values = {})
    {
        auto q = db.exec(sql, values);
        return q && q->next() ? q->value(0).toLongLong() : -1;
    }

private Q_SLOTS:
    void initTestCase()
    {
        auto b = TestBroker::shared();
        QVERIFY2(b, qPrintable(b ? QString() : b.error().toString()));
        m_broker = *b;
        auto key = SigningKey::generate();
        QVERIFY(key);
        m_keyFile = m_dir.filePath(u"orchestrator.key"_s);
        QVERIFY(writeSecretFile(m_keyFile, key->toPem()));
    }

    void sigkillMidBatchThenRestartStoresEveryEventOnce_data()
    {
        QTest::addColumn<QString>("backend");
        QTest::newRow("sqlite") << u"sqlite"_s;
        QTest::newRow("postgres") << u"postgres"_s;
    }

    void sigkillMidBatchThenRestartStoresEveryEventOnce()
    {
        QFETCH(QString, backend);
        auto settings = store(backend);
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().toString()));
        const QString config = writeConfig(*settings, u"viewer"_s, u"kill-"_s + backend);
        const QString node = u"kill-"_s + backend;
        auto nodeSettings = m_broker->node(node);
        QVERIFY(nodeSettings);
        AmqpClient publisher(*nodeSettings);
        QSignalSpy up(&publisher, &AmqpClient::connected);
        publisher.start();
        QTRY_COMPARE_WITH_TIMEOUT(up.count(), 1, 15000);

        const int runs = 2000;
        const QList<OutgoingMessage> events = runEvents(node, runs, 2, u"k"_s); // 8000 events
        QVERIFY(publishAll(publisher, events));

        auto db = Database::open(*settings, u"observer-kill-"_s + backend);
        QVERIFY2(db, qPrintable(db ? QString() : db.error().toString()));
        const QString ids = u"SELECT COUNT(*) FROM runs WHERE node = ?"_s;
        qint64 atKill = 0;
        {
            Daemon first(config);
            QVERIFY2(first.start(), qPrintable(first.log()));
            // Kill it while it is half-way through the backlog.
            QVERIFY(QTest::qWaitFor([&] { return count(**db, ids, { node }) > 0; }, 30000));
            first.signal(SIGKILL);
            QVERIFY(first.waitExit());
            QCOMPARE(first.exitStatus(), QProcess::CrashExit);
            atKill = count(**db, ids, { node });
            qInfo() << "killed after" << atKill << "of" << runs << "runs were stored";
        }
        QVERIFY2(atKill < runs, "the daemon finished before the kill; the test proved nothing");

        Daemon second(config);
        QVERIFY2(second.start(), qPrintable(second.log()));
        QTRY_COMPARE_WITH_TIMEOUT(
            count(**db, u"SELECT COUNT(*) FROM runs WHERE node = ? AND status = 'success'"_s,
                { node }),
            qint64(runs), 60000);
        // Every event id is stored exactly once, none lost, none twice.
        const qint64 found = countIds(**db, events);
        QCOMPARE(found, qint64(events.size()));
        QCOMPARE(
            count(**db, u"SELECT COUNT(*) FROM runs WHERE node = ?"_s, { node }), qint64(runs));
        // And the queue is drained: everything acked after its commit.
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
            auto q = m_broker->management(u"GET"_s, u"/queues/sparky/sparky.orchestrator.events"_s);
            const QJsonObject o = q ? QJsonDocument::fromJson(*q).object() : QJsonObject();
            return o.value("messages"_L1).toInt(-1) == 0;
        }()),
            30000);
        second.signal(SIGTERM);
        QVERIFY(second.waitExit());
        QCOMPARE(second.exitStatus(), QProcess::NormalExit);
        QCOMPARE(second.exitCode(), 0);
        QVERIFY2(
            second.log().contains(u"ingestion stopped"_s), qPrintable(second.log().right(2000)));
        publisher.stop();
    }

    void twoReplicasOnPostgresStoreEachEventOnce()
    {
        auto settings = store(u"postgres"_s);
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().toString()));
        const QString config = writeConfig(*settings, u"viewer"_s, u"replicas"_s);
        const QString node = u"replicas-pg"_s;
        auto nodeSettings = m_broker->node(node);
        QVERIFY(nodeSettings);

        Daemon a(config);
        Daemon b(config);
        QVERIFY2(a.start(), qPrintable(a.log()));
        QVERIFY2(b.start(), qPrintable(b.log()));

        AmqpClient publisher(*nodeSettings);
        QSignalSpy up(&publisher, &AmqpClient::connected);
        publisher.start();
        QTRY_COMPARE_WITH_TIMEOUT(up.count(), 1, 15000);
        const int runs = 1500;
        QList<OutgoingMessage> events = runEvents(node, runs, 2, u"rep"_s); // 6000 events
        // Some of the stream arrives twice (an agent republishing after a lost confirm).
        events += events.mid(0, 500);
        QVERIFY(publishAll(publisher, events));

        auto db = Database::open(*settings, u"observer-replicas"_s);
        QVERIFY(db);
        QTRY_COMPARE_WITH_TIMEOUT(
            count(**db, u"SELECT COUNT(*) FROM runs WHERE node = ? AND status = 'success'"_s,
                { node }),
            qint64(runs), 60000);
        QTRY_COMPARE_WITH_TIMEOUT(countIds(**db, events), qint64(runs * 4), 30000);

        a.signal(SIGTERM);
        b.signal(SIGTERM);
        QVERIFY(a.waitExit());
        QVERIFY(b.waitExit());
        const qint64 storedA = a.storedAtStop();
        const qint64 storedB = b.storedAtStop();
        qInfo() << "replica A stored" << storedA << ", replica B stored" << storedB;
        // Both competed for the queue, and between them each event was stored once: every
        // stored event added one id to the (fresh) store, so a double store would show as
        // more "stored" than ids.
        QVERIFY2(storedA > 0 && storedB > 0, qPrintable(a.log().right(1500) + b.log().right(1500)));
        QCOMPARE(storedA + storedB, count(**db, u"SELECT COUNT(*) FROM message_ids"_s));
        // Exactly one replica ran the singleton duties.
        const QString leader = u"this replica now runs the singleton duties"_s;
        QCOMPARE(int(a.log().contains(leader)) + int(b.log().contains(leader)), 1);
        publisher.stop();
    }

    void rolesCommandsAndExpiry()
    {
        auto settings = store(u"sqlite"_s);
        QVERIFY(settings);
        const QString config = writeConfig(*settings, u"viewer"_s, u"rpc"_s, true);
        Daemon daemon(config);
        QVERIFY2(daemon.start(), qPrintable(daemon.log()));
        QVERIFY(daemon.waitFor(u"consuming from sparky.orchestrator.rpc"_s));

        AmqpClient amqp(m_broker->operatorUser());
        RpcClient rpc(&amqp);
        QSignalSpy up(&amqp, &AmqpClient::connected);
        amqp.start();
        QTRY_COMPARE_WITH_TIMEOUT(up.count(), 1, 15000);
        auto call = [&](const QString &method, const QJsonObject &params) {
            RpcCall *c = rpc.call(method, params, std::chrono::seconds(15));
            c->setAutoDelete(false);
            QSignalSpy done(c, &RpcCall::finished);
            if (!done.wait(20000) && !c->isFinished())
                qWarning() << "no answer to" << method;
            return std::unique_ptr<RpcCall>(c);
        };

        // A viewer can read but cannot start a backup.
        auto summary = call(u"fleet.summary"_s, {});
        QVERIFY2(summary->isOk(), qPrintable(summary->errorString()));
        QVERIFY(summary->result().contains("fleet"_L1));
        const QString offline = u"cmd-offline"_s;
        QVERIFY(m_broker->node(offline)); // enrolled (its queue exists) but no agent consumes it
        auto denied = call(u"backup.start"_s, { { u"node"_s, offline }, { u"job"_s, u"home"_s } });
        QVERIFY(!denied->isOk());
        QCOMPARE(denied->errorCode(), u"forbidden"_s);
        QVERIFY2(denied->errorString().contains(u"operator"_s), qPrintable(denied->errorString()));

        // SIGHUP re-reads the roles: now the same user is an operator.
        writeConfig(*settings, u"operator"_s, u"rpc"_s, true);
        daemon.signal(SIGHUP);
        QVERIFY(daemon.waitFor(u"reloaded RPC roles"_s));
        auto started = call(u"backup.start"_s,
            { { u"node"_s, offline }, { u"job"_s, u"home"_s }, { u"lifetime_seconds"_s, 2 } });
        QVERIFY2(
            started->isOk(), qPrintable(started->errorCode() + u": "_s + started->errorString()));
        const QString commandId
            = started->result().value("command"_L1).toObject().value("id"_L1).toString();
        QVERIFY(!commandId.isEmpty());

        // Nobody consumes the node's queue: the broker expires the command there and
        // dead-letters it; the orchestrator marks it expired.
        auto db = Database::open(*settings, u"observer-rpc"_s);
        QVERIFY(db);
        QTRY_COMPARE_WITH_TIMEOUT(
            count(**db, u"SELECT COUNT(*) FROM commands WHERE id = ? AND state = 'expired'"_s,
                { commandId }),
            1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(
            count(**db,
                u"SELECT COUNT(*) FROM dead_letters WHERE message_id = ? AND reason = 'expired'"
                " AND queue = ?"_s,
                { commandId, proto::agentQueue(offline) }),
            1, 20000);
        auto listed = call(u"commands.query"_s, { { u"node"_s, offline } });
        QVERIFY(listed->isOk());
        bool seen = false;
        for (const QJsonValue &c : listed->result().value("commands"_L1).toArray())
            if (c.toObject().value("id"_L1).toString() == commandId) {
                seen = true;
                QCOMPARE(c.toObject().value("state"_L1).toString(), u"expired"_s);
                QCOMPARE(
                    c.toObject().value("issued_by"_L1).toString(), m_broker->operatorUser().user);
            }
        QVERIFY(seen);

        // A node that was never enrolled: the mandatory publish comes back unroutable.
        auto lost = call(
            u"backup.start"_s, { { u"node"_s, u"never-enrolled"_s }, { u"job"_s, u"home"_s } });
        QVERIFY(lost->isOk());
        const QString lostId
            = lost->result().value("command"_L1).toObject().value("id"_L1).toString();
        QTRY_COMPARE_WITH_TIMEOUT(
            count(**db,
                u"SELECT COUNT(*) FROM commands WHERE id = ? AND state = 'failed'"
                " AND error LIKE '%not enrolled%'"_s,
                { lostId }),
            1, 15000);
        // Both attempts and the allowed calls are in the audit log with the broker user.
        QCOMPARE(
            count(**db,
                u"SELECT COUNT(*) FROM audit_log WHERE method = 'backup.start' AND actor = ?"_s,
                { m_broker->operatorUser().user }),
            3);
        QCOMPARE(count(**db,
                     u"SELECT COUNT(*) FROM audit_log WHERE method = 'backup.start' AND ok = 0"_s),
            1);

        // The fleet metrics exposer saw it all (and its output passes promtool).
        const qsizetype at = daemon.log().indexOf(u"fleet metrics on"_s);
        QVERIFY(at >= 0);
        const quint16 port = quint16(
            daemon.log().mid(at).section(u"port "_s, 1, 1).section(u'\n', 0, 0).trimmed().toUInt());
        QVERIFY(port > 0);
        QNetworkAccessManager http;
        QByteArray metrics;
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
            QNetworkReply *reply
                = http.get(QNetworkRequest(QUrl(u"http://127.0.0.1:%1/metrics"_s.arg(port))));
            QSignalSpy finished(reply, &QNetworkReply::finished);
            finished.wait(5000);
            metrics = reply->readAll();
            reply->deleteLater();
            return metrics.contains("sparky_orchestrator_commands_total{state=\"expired\"}")
                && metrics.contains("sparky_orchestrator_events_ingested_total");
        }()),
            15000);
        QTemporaryFile scraped;
        QVERIFY(scraped.open());
        scraped.write(metrics);
        scraped.flush();
        QProcess promtool;
        promtool.setProcessChannelMode(QProcess::MergedChannels);
        promtool.setStandardInputFile(scraped.fileName());
        promtool.start(u"promtool"_s, { u"check"_s, u"metrics"_s });
        QVERIFY(promtool.waitForFinished(30000));
        QVERIFY2(promtool.exitCode() == 0, promtool.readAll().constData());

        amqp.stop();
        daemon.signal(SIGTERM);
        QVERIFY(daemon.waitExit());
        QCOMPARE(daemon.exitCode(), 0);
    }

    void nodeEnrollmentThroughTheCli()
    {
        // `node add` through the management API of the real broker: the printed token logs
        // the node in, and only as itself; rotate-token retires it; remove deletes the user.
        const QString config = m_dir.filePath(u"mgmt.yaml"_s);
        {
            QFile f(config);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("store:\n  path: " + m_dir.filePath(u"mgmt.db"_s).toUtf8()
                + "\nmanagement:\n  url: https://" + m_broker->host().toUtf8() + ":"
                + QByteArray::number(m_broker->managementPort())
                + "\n  user: " + m_broker->admin().user.toUtf8()
                + "\n  password_file: " + m_broker->admin().tokenFile.toUtf8()
                + "\n  ca_file: " + m_broker->caFile().toUtf8() + "\n");
        }
        const QString node = u"cli-enrolled-%1"_s.arg(QDateTime::currentMSecsSinceEpoch() % 100000);
        auto run = [&](const QStringList &args) {
            QProcess p;
            p.start(binaryPath(u"orchestrator/sparky-orchestrator"_s), args);
            p.waitForFinished(60000);
            return std::make_tuple(
                p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError());
        };
        auto [code, out, err] = run({ u"node"_s, u"add"_s, node, u"-c"_s, config });
        QVERIFY2(code == 0, err.constData());
        const QByteArray token = out.trimmed();
        QVERIFY(token.size() >= 32);
        QVERIFY(!err.contains(token)); // printed once, on stdout only

        const QString tokenFile = m_dir.filePath(node + u".token"_s);
        QVERIFY(writeSecretFile(tokenFile, token));
        AmqpClient agent(m_broker->settings(node, tokenFile));
        QSignalSpy up(&agent, &AmqpClient::connected);
        agent.start();
        QTRY_COMPARE_WITH_TIMEOUT(up.count(), 1, 15000);
        agent.stop();

        auto [rcode, rout, rerr] = run({ u"node"_s, u"rotate-token"_s, node, u"-c"_s, config });
        QVERIFY2(rcode == 0, rerr.constData());
        QVERIFY(rout.trimmed() != token);
        AmqpClient::Options once;
        once.permanentRetry = std::chrono::milliseconds(0);
        AmqpClient stale(m_broker->settings(node, tokenFile), once);
        QSignalSpy failed(&stale, &AmqpClient::failed);
        stale.start();
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 15000);
        QCOMPARE(failed.first().first().value<Error>().code, ErrorCode::Auth);
        stale.stop();

        auto [xcode, xout, xerr] = run({ u"node"_s, u"remove"_s, node, u"-c"_s, config });
        QVERIFY2(xcode == 0, xerr.constData());
        QVERIFY(!m_broker->management(u"GET"_s, u"/users/"_s + node));
    }
};

QTEST_GUILESS_MAIN(TestOrchestratorDaemon)
#include "tst_orchestrator_daemon.moc"
