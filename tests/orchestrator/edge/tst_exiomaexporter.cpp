// ExiomaExporter against a local HTTPS console (QSslServer on 127.0.0.1 with certificates
// from a test CA made by openssl), with its outbox in SQLite and in a real, throwaway
// PostgreSQL cluster. No sleeps: every wait is on a signal or a condition.

#include "exiomaexporter.h"
#include "httpstestserver.h"
#include "sparky/envelope.h"
#include "sparky/secrets.h"
#include "testpostgres.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::orchestrator;
using namespace Qt::StringLiterals;
using namespace std::chrono_literals;

namespace {

const QByteArray kToken = "s3cret-token-for-tests";

quint16 freePort()
{
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
}

Result openssl(const QStringList &args, const QString &dir)
{
    QProcess p;
    p.setWorkingDirectory(dir);
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(u"openssl"_s, args);
    if (!p.waitForFinished(30000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return unexpected(ErrorCode::Io,
            u"openssl %1: %2"_s.arg(args.join(u' '), QString::fromUtf8(p.readAll())));
    return {};
}

// A CA and a server certificate for 127.0.0.1/localhost signed by it: <name>-ca.pem,
// <name>-server.pem, <name>-server.key.
Result makePki(const QString &dir, const QString &name)
{
    const QString ext = dir + u"/server.ext"_s;
    QFile f(ext);
    if (!f.open(QIODevice::WriteOnly))
        return unexpected(ErrorCode::Io, f.errorString());
    f.write("basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
            "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n");
    f.close();
    const QStringList steps[] = {
        { u"req"_s, u"-x509"_s, u"-newkey"_s, u"ec"_s, u"-pkeyopt"_s, u"ec_paramgen_curve:P-256"_s,
            u"-nodes"_s, u"-keyout"_s, name + u"-ca.key"_s, u"-out"_s, name + u"-ca.pem"_s,
            u"-days"_s, u"2"_s, u"-subj"_s, u"/CN=sparky test CA "_s + name, u"-addext"_s,
            u"basicConstraints=critical,CA:TRUE"_s, u"-addext"_s,
            u"keyUsage=critical,keyCertSign,cRLSign"_s },
        { u"req"_s, u"-newkey"_s, u"ec"_s, u"-pkeyopt"_s, u"ec_paramgen_curve:P-256"_s, u"-nodes"_s,
            u"-keyout"_s, name + u"-server.key"_s, u"-out"_s, name + u"-server.csr"_s, u"-subj"_s,
            u"/CN=localhost"_s },
        { u"x509"_s, u"-req"_s, u"-in"_s, name + u"-server.csr"_s, u"-CA"_s, name + u"-ca.pem"_s,
            u"-CAkey"_s, name + u"-ca.key"_s, u"-CAcreateserial"_s, u"-out"_s,
            name + u"-server.pem"_s, u"-days"_s, u"2"_s, u"-extfile"_s, ext },
    };
    for (const QStringList &step : steps)
        if (auto ok = openssl(step, dir); !ok)
            return ok;
    return {};
}

QJsonObject sampleReport(int n)
{
    return QJsonObject {
        { u"schema"_s, u"sparky.report/1"_s },
        { u"sequence"_s, n },
        { u"jobs"_s,
            QJsonArray { QJsonObject { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s },
                { u"status"_s, u"success"_s } } } },
    };
}

} // namespace

class TestExiomaExporter : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QTemporaryDir m_pgDir;
    std::unique_ptr<TestPostgres> m_pg;
    QString m_ca, m_cert, m_key; // trusted
    QString m_rogueCa, m_rogueCert, m_rogueKey; // a CA the exporter does not know
    int m_counter = 0;
    QStringList m_connections;

    QString path(const QString &name) const { return m_dir.filePath(name); }

    // A fresh outbox store: a new SQLite file, or an emptied PostgreSQL database.
    QString openStore(const QString &backend)
    {
        const QString name = u"store-%1"_s.arg(++m_counter);
        if (backend == u"postgresql"_s) {
            if (auto ok = m_pg->addConnection(name); !ok)
                qFatal("%s", qPrintable(ok.error().toString()));
            QSqlDatabase db = QSqlDatabase::database(name);
            if (db.tables().contains(u"export_outbox"_s))
                QSqlQuery(db).exec(u"DROP TABLE export_outbox"_s);
        } else {
            QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, name);
            db.setDatabaseName(path(u"outbox-%1.db"_s.arg(m_counter)));
            if (!db.open())
                qFatal("cannot open SQLite");
        }
        m_connections.append(name);
        return name;
    }

    // The same database under a new connection: what a restarted process would open.
    QString reopenStore(const QString &backend, const QString &old)
    {
        const QString file = QSqlDatabase::database(old, false).databaseName();
        QSqlDatabase::database(old, false).close();
        const QString name = u"store-%1"_s.arg(++m_counter);
        if (backend == u"postgresql"_s) {
            if (auto ok = m_pg->addConnection(name); !ok)
                qFatal("%s", qPrintable(ok.error().toString()));
        } else {
            QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, name);
            db.setDatabaseName(file);
            if (!db.open())
                qFatal("cannot reopen SQLite");
        }
        m_connections.append(name);
        return name;
    }

    QString tokenFile(const QByteArray &token)
    {
        const QString file = path(u"token-%1"_s.arg(++m_counter));
        if (auto ok = writeSecretFile(file, token); !ok)
            qFatal("%s", qPrintable(ok.error().toString()));
        return file;
    }

    ExiomaSettings settings(quint16 port, const QString &token, const QString &ca = {})
    {
        ExiomaSettings s;
        s.url = QUrl(u"https://127.0.0.1:%1/api/v1/sparky/exports"_s.arg(port));
        s.tokenFile = token;
        s.caFile = ca.isEmpty() ? m_ca : ca;
        s.interval = 3600s; // reportDue() is not under test here
        s.timeout = 5s;
        s.retryMin = 20ms;
        s.retryMax = 200ms;
        return s;
    }

    static void addBackends()
    {
        QTest::addColumn<QString>("backend");
        QTest::newRow("sqlite") << u"sqlite"_s;
        QTest::newRow("postgresql") << u"postgresql"_s;
    }

    static QStringList errorsOf(const QSignalSpy &spy)
    {
        QStringList out;
        for (const QList<QVariant> &args : spy)
            out.append(args.at(1).value<Error>().toString());
        return out;
    }

private Q_SLOTS:
    void initTestCase()
    {
        qRegisterMetaType<Error>();
        QVERIFY(m_dir.isValid());
        QVERIFY(m_pgDir.isValid());
        auto ok = makePki(m_dir.path(), u"trusted"_s);
        QVERIFY2(ok, qPrintable(ok ? QString() : ok.error().toString()));
        ok = makePki(m_dir.path(), u"rogue"_s);
        QVERIFY2(ok, qPrintable(ok ? QString() : ok.error().toString()));
        m_ca = path(u"trusted-ca.pem"_s);
        m_cert = path(u"trusted-server.pem"_s);
        m_key = path(u"trusted-server.key"_s);
        m_rogueCa = path(u"rogue-ca.pem"_s);
        m_rogueCert = path(u"rogue-server.pem"_s);
        m_rogueKey = path(u"rogue-server.key"_s);
        auto pg = TestPostgres::start(m_pgDir.path());
        QVERIFY2(pg, qPrintable(pg ? QString() : pg.error().toString()));
        m_pg = std::move(*pg);
    }

    void cleanup()
    {
        for (const QString &name : std::as_const(m_connections))
            QSqlDatabase::removeDatabase(name);
        m_connections.clear();
    }

    void cleanupTestCase() { m_pg.reset(); }

    void deliversWithTokenAndIdempotencyKey_data() { addBackends(); }
    void deliversWithTokenAndIdempotencyKey()
    {
        QFETCH(QString, backend);
        HttpsTestServer server(m_cert, m_key, kToken);
        QVERIFY2(server.listen(), qPrintable(server.lastError()));
        const QString store = openStore(backend);
        {
            ExiomaExporter exporter(settings(server.port(), tokenFile(kToken)), store);
            QVERIFY(exporter.ensureSchema());
            QVERIFY(exporter.ensureSchema()); // idempotent
            QSignalSpy delivered(&exporter, &ExiomaExporter::delivered);
            QSignalSpy failed(&exporter, &ExiomaExporter::deliveryFailed);
            QSignalSpy backlog(&exporter, &ExiomaExporter::backlogChanged);
            QVERIFY(exporter.start());
            auto id = exporter.enqueue(sampleReport(1));
            QVERIFY2(id, qPrintable(id ? QString() : id.error().toString()));
            QVERIFY(isValidMessageId(*id));
            QTRY_COMPARE_WITH_TIMEOUT(delivered.count(), 1, 10000);
            QCOMPARE(delivered.first().first().toString(), *id);
            QVERIFY2(failed.isEmpty(), qPrintable(errorsOf(failed).join(u'\n')));
            QCOMPARE(exporter.pending(), 0);
            QCOMPARE(exporter.failedCount(), 0);
            QVERIFY(exporter.entries()->isEmpty());
            QCOMPARE(backlog.last().at(0).toLongLong(), 0);

            QCOMPARE(server.requests().size(), 1);
            const HttpsTestServer::Request &r = server.requests().first();
            QCOMPARE(r.method, "POST");
            QCOMPARE(r.path, "/api/v1/sparky/exports");
            QCOMPARE(r.headers.value("authorization"), "Bearer " + kToken);
            QCOMPARE(r.headers.value("idempotency-key"), id->toLatin1());
            QCOMPARE(r.headers.value("content-type"), "application/json");
            const QJsonObject body = QJsonDocument::fromJson(r.body).object();
            QCOMPARE(body.value(u"export_id"_s).toString(), *id);
            const auto generated = parseTimestamp(body.value(u"generated_at"_s).toString());
            QVERIFY(generated);
            QVERIFY(qAbs(generated->secsTo(QDateTime::currentDateTimeUtc())) < 60);
            QCOMPARE(body.value(u"report"_s).toObject(), sampleReport(1));
            QCOMPARE(body.keys(), (QStringList { u"export_id"_s, u"generated_at"_s, u"report"_s }));
        }
    }

    void retriesWhileDownThenDeliversEachOnceInOrder_data() { addBackends(); }
    void retriesWhileDownThenDeliversEachOnceInOrder()
    {
        QFETCH(QString, backend);
        const quint16 port = freePort(); // nothing listens there yet
        const QString store = openStore(backend);
        ExiomaExporter exporter(settings(port, tokenFile(kToken)), store);
        QVERIFY(exporter.ensureSchema());
        QSignalSpy delivered(&exporter, &ExiomaExporter::delivered);
        QSignalSpy failed(&exporter, &ExiomaExporter::deliveryFailed);
        QVERIFY(exporter.start());
        QStringList ids;
        for (int i = 0; i < 3; ++i) {
            auto id = exporter.enqueue(sampleReport(i));
            QVERIFY(id);
            ids.append(*id);
        }
        // 1. The console is down: connection refused, retried with backoff, nothing lost.
        QTRY_VERIFY_WITH_TIMEOUT(failed.count() >= 3, 10000);
        for (const QList<QVariant> &args : std::as_const(failed)) {
            QCOMPARE(args.at(0).toString(), ids.first()); // in order: the head holds the line
            QCOMPARE(args.at(1).value<Error>().code, ErrorCode::Network);
        }
        QCOMPARE(failed.last().at(2).toInt(), failed.count()); // attempts count up
        QCOMPARE(exporter.pending(), 3);
        QCOMPARE(delivered.count(), 0);
        auto entries = exporter.entries();
        QVERIFY(entries);
        QCOMPARE(entries->size(), 3);
        QVERIFY(entries->first().attempts >= 1);
        QVERIFY2(entries->first().lastError.contains(u"network"_s),
            qPrintable(entries->first().lastError));

        // 2. It comes up answering 503, then takes a request but the answer is lost, then
        //    works: the lost answer makes the client send the same export again (Qt resends
        //    on a connection closed without an answer, or the exporter retries), and the
        //    Idempotency-Key lets the console drop the duplicate.
        HttpsTestServer server(m_cert, m_key, kToken);
        server.script({ { 503, {} }, { 503, "Retry-After: 0\r\n" }, { 200, {}, true } });
        failed.clear();
        QVERIFY2(server.listen(port), qPrintable(server.lastError()));
        QTRY_COMPARE_WITH_TIMEOUT(delivered.count(), 3, 15000);
        QCOMPARE(server.accepted(), ids); // each once, in order
        QCOMPARE(server.duplicates(), 1); // the one whose answer was lost
        QCOMPARE(exporter.pending(), 0);
        int unavailable = 0;
        for (const QList<QVariant> &args : std::as_const(failed))
            unavailable += args.at(1).value<Error>().code == ErrorCode::Unavailable ? 1 : 0;
        QCOMPARE(unavailable, 2);
        // Every request of the first export carried its key; bodies arrive in order.
        QStringList bodiesInOrder;
        for (const HttpsTestServer::Request &r : server.requests()) {
            const QJsonObject body = QJsonDocument::fromJson(r.body).object();
            QCOMPARE(QString::fromLatin1(r.headers.value("idempotency-key")),
                body.value(u"export_id"_s).toString());
            if (r.answeredStatus == 200)
                bodiesInOrder.append(QString::number(
                    body.value(u"report"_s).toObject().value(u"sequence"_s).toInt()));
        }
        QCOMPARE(bodiesInOrder, (QStringList { u"0"_s, u"1"_s, u"2"_s }));
    }

    void restartedExporterDeliversWhatWasLeft_data() { addBackends(); }
    void restartedExporterDeliversWhatWasLeft()
    {
        QFETCH(QString, backend);
        const quint16 port = freePort();
        const QString token = tokenFile(kToken);
        QString store = openStore(backend);
        QStringList ids;
        {
            ExiomaExporter first(settings(port, token), store);
            QVERIFY(first.ensureSchema());
            QSignalSpy failed(&first, &ExiomaExporter::deliveryFailed);
            QVERIFY(first.start());
            for (int i = 0; i < 2; ++i)
                ids.append(*first.enqueue(sampleReport(i)));
            QTRY_VERIFY_WITH_TIMEOUT(failed.count() >= 1, 10000);
            QCOMPARE(first.pending(), 2);
        } // the process ends with two exports undelivered
        store = reopenStore(backend, store);

        HttpsTestServer server(m_cert, m_key, kToken);
        QVERIFY2(server.listen(port), qPrintable(server.lastError()));
        ExiomaExporter second(settings(port, token), store);
        QVERIFY(second.ensureSchema());
        QCOMPARE(second.pending(), 2);
        QSignalSpy delivered(&second, &ExiomaExporter::delivered);
        QVERIFY(second.start());
        QTRY_COMPARE_WITH_TIMEOUT(delivered.count(), 2, 10000);
        QCOMPARE(server.accepted(), ids);
        QCOMPARE(server.duplicates(), 0);
        QCOMPARE(second.pending(), 0);
        // A new export after the restart still queues behind nothing and goes out.
        auto third = second.enqueue(sampleReport(3));
        QVERIFY(third);
        QTRY_COMPARE_WITH_TIMEOUT(delivered.count(), 3, 10000);
        QCOMPARE(server.accepted().last(), *third);
    }

    void wrongTokenIsParkedLoudlyAndRetriedAfterTheFix_data() { addBackends(); }
    void wrongTokenIsParkedLoudlyAndRetriedAfterTheFix()
    {
        QFETCH(QString, backend);
        HttpsTestServer server(m_cert, m_key, kToken);
        QVERIFY2(server.listen(), qPrintable(server.lastError()));
        const QString token = tokenFile("not-the-right-token");
        ExiomaExporter exporter(settings(server.port(), token), openStore(backend));
        QVERIFY(exporter.ensureSchema());
        QSignalSpy delivered(&exporter, &ExiomaExporter::delivered);
        QSignalSpy failed(&exporter, &ExiomaExporter::deliveryFailed);
        QSignalSpy parked(&exporter, &ExiomaExporter::failedPermanently);
        QVERIFY(exporter.start());
        const QString first = *exporter.enqueue(sampleReport(1));
        QTRY_COMPARE_WITH_TIMEOUT(parked.count(), 1, 10000);
        const Error e = parked.first().at(1).value<Error>();
        QCOMPARE(parked.first().at(0).toString(), first);
        QCOMPARE(e.code, ErrorCode::Auth);
        QVERIFY2(e.message.contains(u"HTTP 401"_s), qPrintable(e.message));
        QVERIFY2(!e.message.contains(u"not-the-right-token"_s), qPrintable(e.message));
        QCOMPARE(failed.count(), 1);
        QCOMPARE(exporter.pending(), 0);
        QCOMPARE(exporter.failedCount(), 1);
        auto entries = exporter.entries();
        QVERIFY(entries);
        QCOMPARE(entries->size(), 1);
        QVERIFY(entries->first().failed);
        QVERIFY(!entries->first().nextAttemptAt);
        QVERIFY(entries->first().lastError.contains(u"401"_s));

        // A second export is refused the same way; the first was not retried meanwhile.
        const QString second = *exporter.enqueue(sampleReport(2));
        QTRY_COMPARE_WITH_TIMEOUT(parked.count(), 2, 10000);
        QCOMPARE(server.requests().size(), 2);
        QVERIFY(server.accepted().isEmpty());

        // The operator fixes the token and retries the parked exports: both go, in order.
        QVERIFY(writeSecretFile(token, kToken));
        auto n = exporter.retryFailed();
        QVERIFY(n);
        QCOMPARE(*n, 2);
        QTRY_COMPARE_WITH_TIMEOUT(delivered.count(), 2, 10000);
        QCOMPARE(server.accepted(), (QStringList { first, second }));
        QCOMPARE(exporter.failedCount(), 0);
        QCOMPARE(exporter.pending(), 0);
    }

    void untrustedCertificateIsRefused()
    {
        HttpsTestServer rogue(m_rogueCert, m_rogueKey, kToken);
        QVERIFY2(rogue.listen(), qPrintable(rogue.lastError()));
        const QString store = openStore(u"sqlite"_s);
        const QString token = tokenFile(kToken);
        {
            ExiomaExporter exporter(settings(rogue.port(), token), store);
            QVERIFY(exporter.ensureSchema());
            QSignalSpy delivered(&exporter, &ExiomaExporter::delivered);
            QSignalSpy failed(&exporter, &ExiomaExporter::deliveryFailed);
            QVERIFY(exporter.start());
            QVERIFY(exporter.enqueue(sampleReport(1)));
            QTRY_VERIFY_WITH_TIMEOUT(failed.count() >= 2, 10000);
            const Error e = failed.first().at(1).value<Error>();
            QCOMPARE(e.code, ErrorCode::Tls);
            QVERIFY2(
                e.message.contains(u"certificate"_s, Qt::CaseInsensitive), qPrintable(e.message));
            QCOMPARE(delivered.count(), 0);
            QCOMPARE(exporter.pending(), 1); // kept for when the trust problem is fixed
            QVERIFY(rogue.requests().isEmpty()); // not a byte of the report (or token) sent
            QVERIFY(rogue.handshakeFailures() >= 1);
        }
        // The same server is fine once its CA is configured: the refusal was about trust.
        ExiomaExporter trusting(settings(rogue.port(), token, m_rogueCa), store);
        QSignalSpy delivered(&trusting, &ExiomaExporter::delivered);
        QVERIFY(trusting.start());
        QTRY_COMPARE_WITH_TIMEOUT(delivered.count(), 1, 10000);
        QCOMPARE(rogue.accepted().size(), 1);
    }

    void statusClassification_data()
    {
        QTest::addColumn<int>("status");
        QTest::addColumn<bool>("retried");
        QTest::addColumn<int>("code");
        QTest::newRow("400") << 400 << false << int(ErrorCode::Rejected);
        QTest::newRow("401") << 401 << false << int(ErrorCode::Auth);
        QTest::newRow("403") << 403 << false << int(ErrorCode::Auth);
        QTest::newRow("404") << 404 << false << int(ErrorCode::Rejected);
        QTest::newRow("413") << 413 << false << int(ErrorCode::Rejected);
        QTest::newRow("422") << 422 << false << int(ErrorCode::Rejected);
        QTest::newRow("301") << 301 << false << int(ErrorCode::Config);
        QTest::newRow("408") << 408 << true << int(ErrorCode::Timeout);
        QTest::newRow("429") << 429 << true << int(ErrorCode::Rejected);
        QTest::newRow("500") << 500 << true << int(ErrorCode::Unavailable);
        QTest::newRow("502") << 502 << true << int(ErrorCode::Unavailable);
        QTest::newRow("503") << 503 << true << int(ErrorCode::Unavailable);
        QTest::newRow("504") << 504 << true << int(ErrorCode::Unavailable);
    }
    void statusClassification()
    {
        QFETCH(int, status);
        QFETCH(bool, retried);
        QFETCH(int, code);
        HttpsTestServer server(m_cert, m_key, kToken);
        server.script({ { status,
            status == 301 ? QByteArray("Location: https://elsewhere.example/\r\n")
                          : QByteArray() } });
        QVERIFY2(server.listen(), qPrintable(server.lastError()));
        ExiomaExporter exporter(settings(server.port(), tokenFile(kToken)), openStore(u"sqlite"_s));
        QVERIFY(exporter.ensureSchema());
        QSignalSpy delivered(&exporter, &ExiomaExporter::delivered);
        QSignalSpy failed(&exporter, &ExiomaExporter::deliveryFailed);
        QSignalSpy parked(&exporter, &ExiomaExporter::failedPermanently);
        QVERIFY(exporter.start());
        const QString id = *exporter.enqueue(sampleReport(1));
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
        const Error e = failed.first().at(1).value<Error>();
        QCOMPARE(int(e.code), code);
        QVERIFY2(e.message.contains(u"HTTP %1"_s.arg(status)), qPrintable(e.message));
        QCOMPARE(failed.first().at(2).toInt(), 1);
        if (retried) {
            QTRY_COMPARE_WITH_TIMEOUT(delivered.count(), 1, 10000);
            QCOMPARE(server.accepted(), QStringList { id });
            QCOMPARE(parked.count(), 0);
        } else {
            QTRY_COMPARE_WITH_TIMEOUT(parked.count(), 1, 10000);
            QCOMPARE(exporter.failedCount(), 1);
            QCOMPARE(server.requests().size(), 1); // not retried, not followed
            QCOMPARE(delivered.count(), 0);
        }
    }

    void stalledConsoleTimesOutAndIsRetried()
    {
        HttpsTestServer server(m_cert, m_key, kToken);
        server.setStalled(true);
        QVERIFY2(server.listen(), qPrintable(server.lastError()));
        ExiomaSettings s = settings(server.port(), tokenFile(kToken));
        s.timeout = 1s;
        ExiomaExporter exporter(s, openStore(u"sqlite"_s));
        QVERIFY(exporter.ensureSchema());
        QSignalSpy delivered(&exporter, &ExiomaExporter::delivered);
        QSignalSpy failed(&exporter, &ExiomaExporter::deliveryFailed);
        QSignalSpy handled(&server, &HttpsTestServer::requestHandled);
        QVERIFY(exporter.start());
        const QString id = *exporter.enqueue(sampleReport(1));
        QTRY_COMPARE_WITH_TIMEOUT(handled.count(), 1, 10000); // it arrived, and hangs
        server.setStalled(false);
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
        QCOMPARE(failed.first().at(1).value<Error>().code, ErrorCode::Timeout);
        QTRY_COMPARE_WITH_TIMEOUT(delivered.count(), 1, 10000);
        QCOMPARE(server.accepted(), QStringList { id });
    }

    void stopMidRequestKeepsTheExport()
    {
        HttpsTestServer server(m_cert, m_key, kToken);
        server.setStalled(true);
        QVERIFY2(server.listen(), qPrintable(server.lastError()));
        const QString store = openStore(u"sqlite"_s);
        const QString token = tokenFile(kToken);
        QString id;
        {
            ExiomaExporter exporter(settings(server.port(), token), store);
            QVERIFY(exporter.ensureSchema());
            QSignalSpy handled(&server, &HttpsTestServer::requestHandled);
            QSignalSpy failed(&exporter, &ExiomaExporter::deliveryFailed);
            QVERIFY(exporter.start());
            id = *exporter.enqueue(sampleReport(1));
            QTRY_COMPARE_WITH_TIMEOUT(handled.count(), 1, 10000);
            exporter.stop(); // shutdown while the console has not answered
            QVERIFY(!exporter.isRunning());
            QCOMPARE(exporter.pending(), 1);
            QCOMPARE(failed.count(), 0); // an abort by us is not a delivery failure
        }
        server.setStalled(false);
        ExiomaExporter again(settings(server.port(), token), store);
        QSignalSpy delivered(&again, &ExiomaExporter::delivered);
        QVERIFY(again.start());
        QTRY_COMPARE_WITH_TIMEOUT(delivered.count(), 1, 10000);
        QCOMPARE(server.accepted(), QStringList { id });
        QCOMPARE(server.requests().size(), 2); // the same export, sent again
        QCOMPARE(server.requests().first().headers.value("idempotency-key"), id.toLatin1());
    }

    void retryAfterIsHonoured()
    {
        HttpsTestServer server(m_cert, m_key, kToken);
        server.script({ { 429, "Retry-After: 1\r\n" } });
        QVERIFY2(server.listen(), qPrintable(server.lastError()));
        ExiomaSettings s = settings(server.port(), tokenFile(kToken));
        s.retryMax = 5s;
        ExiomaExporter exporter(s, openStore(u"sqlite"_s));
        QVERIFY(exporter.ensureSchema());
        QSignalSpy delivered(&exporter, &ExiomaExporter::delivered);
        QSignalSpy failed(&exporter, &ExiomaExporter::deliveryFailed);
        QVERIFY(exporter.start());
        QVERIFY(exporter.enqueue(sampleReport(1)));
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
        QElapsedTimer sinceRefusal;
        sinceRefusal.start();
        QTRY_COMPARE_WITH_TIMEOUT(delivered.count(), 1, 10000);
        QVERIFY2(
            sinceRefusal.elapsed() >= 900, qPrintable(QString::number(sinceRefusal.elapsed())));
    }

    void tokenFileMustBePrivate()
    {
        HttpsTestServer server(m_cert, m_key, kToken);
        QVERIFY2(server.listen(), qPrintable(server.lastError()));
        const QString token = tokenFile(kToken);
        QVERIFY(QFile::setPermissions(
            token, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther));
        ExiomaExporter exporter(settings(server.port(), token), openStore(u"sqlite"_s));
        QVERIFY(exporter.ensureSchema());
        QSignalSpy delivered(&exporter, &ExiomaExporter::delivered);
        QSignalSpy failed(&exporter, &ExiomaExporter::deliveryFailed);
        QVERIFY(exporter.start());
        QVERIFY(exporter.enqueue(sampleReport(1)));
        QTRY_VERIFY_WITH_TIMEOUT(failed.count() >= 1, 10000);
        const Error e = failed.first().at(1).value<Error>();
        QCOMPARE(e.code, ErrorCode::Permission);
        QVERIFY2(e.message.contains(token), qPrintable(e.message));
        QVERIFY(server.requests().isEmpty()); // nothing sent with a token others can read
        QCOMPARE(exporter.pending(), 1);
        QVERIFY(QFile::setPermissions(token, QFile::ReadOwner | QFile::WriteOwner));
        QTRY_COMPARE_WITH_TIMEOUT(delivered.count(), 1, 10000);
    }

    void reportDueFollowsTheInterval()
    {
        ExiomaSettings s = settings(freePort(), tokenFile(kToken));
        s.interval = 1s;
        ExiomaExporter exporter(s, openStore(u"sqlite"_s));
        QVERIFY(exporter.ensureSchema());
        QSignalSpy due(&exporter, &ExiomaExporter::reportDue);
        QVERIFY(exporter.start());
        QTRY_COMPARE_WITH_TIMEOUT(due.count(), 1, 5000);
        exporter.stop();
        QVERIFY(!exporter.isRunning());
    }

    void storeErrorsAreValues()
    {
        // No schema: enqueue says so instead of losing the report silently.
        ExiomaExporter exporter(settings(freePort(), tokenFile(kToken)), openStore(u"sqlite"_s));
        auto id = exporter.enqueue(sampleReport(1));
        QVERIFY(!id);
        QCOMPARE(id.error().code, ErrorCode::Io);
        QVERIFY2(id.error().message.contains(u"export"_s), qPrintable(id.error().message));
        // No such connection at all.
        ExiomaExporter orphan(settings(freePort(), tokenFile(kToken)), u"no-such-connection"_s);
        auto schema = orphan.ensureSchema();
        QVERIFY(!schema);
        QCOMPARE(schema.error().code, ErrorCode::Unavailable);
    }

    void settingsAreValidated_data()
    {
        QTest::addColumn<QString>("url");
        QTest::addColumn<QString>("token");
        QTest::addColumn<int>("retryMinMs");
        QTest::addColumn<int>("retryMaxMs");
        QTest::addColumn<QString>("complaint");
        QTest::newRow("http") << u"http://127.0.0.1/x"_s << u"/t"_s << 10 << 20 << u"https"_s;
        QTest::newRow("no host") << u"https:///x"_s << u"/t"_s << 10 << 20 << u"https"_s;
        QTest::newRow("credentials in url")
            << u"https://u:p@127.0.0.1/x"_s << u"/t"_s << 10 << 20 << u"credentials"_s;
        QTest::newRow("no token file")
            << u"https://127.0.0.1/x"_s << QString() << 10 << 20 << u"token_file"_s;
        QTest::newRow("retry bounds")
            << u"https://127.0.0.1/x"_s << u"/t"_s << 50 << 20 << u"retry"_s;
    }
    void settingsAreValidated()
    {
        QFETCH(QString, url);
        QFETCH(QString, token);
        QFETCH(int, retryMinMs);
        QFETCH(int, retryMaxMs);
        QFETCH(QString, complaint);
        ExiomaSettings s;
        s.url = QUrl(url);
        s.tokenFile = token;
        s.retryMin = std::chrono::milliseconds(retryMinMs);
        s.retryMax = std::chrono::milliseconds(retryMaxMs);
        ExiomaExporter exporter(s, openStore(u"sqlite"_s));
        auto ok = exporter.start();
        QVERIFY(!ok);
        QCOMPARE(ok.error().code, ErrorCode::Config);
        QVERIFY2(ok.error().message.contains(complaint), qPrintable(ok.error().message));
        QVERIFY(!ok.error().message.contains(u":p@"_s));
        QVERIFY(!exporter.isRunning());
    }
};

QTEST_GUILESS_MAIN(TestExiomaExporter)
#include "tst_exiomaexporter.moc"
