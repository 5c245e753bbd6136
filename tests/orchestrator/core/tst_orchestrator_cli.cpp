// The sparky-orchestrator command line, run as the real binary: `report` in all three
// formats over a store on BOTH engines (the JSON validated against docs/report.schema.json;
// restore drills, checks and a pending new job in every format),
// `keygen` (0600 key whose public half is printed), `check-config` naming file:line, and
// `node` without a management section.

#include "database.h"
#include "eventfactory.h"
#include "eventstore.h"
#include "jsonschemacheck.h"
#include "sparky/protocol.h"
#include "sparky/signing.h"
#include "teststore.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::orchestrator;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

struct Run
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

Run cli(const QStringList &args)
{
    QProcess p;
    p.start(
        qEnvironmentVariable("SPARKY_BINARY_DIR") + u"/orchestrator/sparky-orchestrator"_s, args);
    if (!p.waitForFinished(30000))
        p.kill();
    return Run { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
        p.readAllStandardOutput(), p.readAllStandardError() };
}

} // namespace

class TestOrchestratorCli : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;

private Q_SLOTS:
    void reportInEveryFormat_data()
    {
        QTest::addColumn<QString>("backend");
        QTest::newRow("sqlite") << u"sqlite"_s;
        QTest::newRow("postgres") << u"postgres"_s;
    }

    void reportInEveryFormat()
    {
        QFETCH(QString, backend);
        const QString tag = u"cli_report_"_s + backend;
        QDir().mkpath(m_dir.filePath(tag));
        auto settings = storeFor(backend, m_dir.filePath(tag), tag);
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().toString()));
        {
            auto db = Database::open(*settings, tag);
            QVERIFY2(db, qPrintable(db ? QString() : db.error().toString()));
            EventStore store(**db);
            QList<IncomingEvent> events;
            // cli-03's backups are fine but its last restore drill failed; cli-04 was
            // enrolled two hours ago and has not backed up yet (pending: its RPO of a day has
            // not passed). The orchestrator first stored the hellos then; they come again now.
            const auto hellos = [] {
                QList<IncomingEvent> out;
                for (const Envelope &e : QList<Envelope> {
                         helloEnvelope(u"cli-01"_s,
                             { proto::JobInfo { u"home"_s, u"/r"_s, u"@daily"_s, 86400 } }),
                         helloEnvelope(u"cli-02"_s,
                             { proto::JobInfo { u"db"_s, u"/r"_s, u"@hourly"_s, 60 } }),
                         helloEnvelope(u"cli-03"_s,
                             { proto::JobInfo { u"web"_s, u"/r"_s, u"@daily"_s, 86400 } }),
                         helloEnvelope(u"cli-04"_s,
                             { proto::JobInfo { u"home"_s, u"/r"_s, u"@daily"_s, 86400 } }) })
                    out.append(*decodeEvent(e));
                return out;
            };
            const QDateTime now = QDateTime::currentDateTimeUtc();
            QVERIFY(store.applyBatch(hellos(), {}, now.addSecs(-7200)));
            events = hellos();
            AgentRun ok { u"cli-01"_s };
            ok.runId = u"ok"_s;
            AgentRun bad { u"cli-02"_s };
            bad.runId = u"bad, \"quoted\""_s;
            bad.job = u"db"_s;
            bad.status = proto::Status::Failed;
            AgentRun webBackup { u"cli-03"_s };
            webBackup.runId = u"b"_s;
            webBackup.job = u"web"_s;
            webBackup.start = now.addSecs(-600);
            AgentRun webCheck = webBackup;
            webCheck.runId = u"c"_s;
            webCheck.kind = proto::RunKind::Check;
            webCheck.start = now.addSecs(-500);
            AgentRun goodDrill = webBackup;
            goodDrill.runId = u"d1"_s;
            goodDrill.kind = proto::RunKind::Drill;
            goodDrill.start = now.addSecs(-400);
            AgentRun badDrill = goodDrill;
            badDrill.runId = u"d2"_s;
            badDrill.status = proto::Status::Failed;
            badDrill.start = now.addSecs(-300);
            for (const Envelope &e : ok.events() + bad.events() + webBackup.events()
                    + webCheck.events() + goodDrill.events() + badDrill.events())
                events.append(*decodeEvent(e));
            QVERIFY(store.applyBatch(events, {}));
        }
        const QString config = m_dir.filePath(tag + u".yaml"_s);
        QFile f(config);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(storeYaml(*settings));
        f.close();

        const Run json = cli(
            { u"report"_s, u"-c"_s, config, u"--format"_s, u"json"_s, u"--since"_s, u"2d"_s });
        QVERIFY2(json.exitCode == 0, json.err.constData());
        const QJsonObject report = QJsonDocument::fromJson(json.out).object();
        QFile schemaFile(qEnvironmentVariable("SPARKY_SOURCE_DIR") + u"/docs/report.schema.json"_s);
        QVERIFY(schemaFile.open(QIODevice::ReadOnly));
        const QStringList problems
            = JsonSchemaCheck(QJsonDocument::fromJson(schemaFile.readAll()).object())
                  .validate(report);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u'\n')));
        QCOMPARE(report.value("fleet"_L1).toObject().value("status"_L1).toString(), u"failed"_s);
        QCOMPARE(report.value("fleet"_L1).toObject().value("jobs_drill_failed"_L1).toInt(), 1);
        QCOMPARE(
            report.value("failures"_L1).toArray().size(), 2); // cli-02's backup, cli-03's drill
        const QDateTime since
            = *parseTimestamp(report.value("window"_L1).toObject().value("since"_L1).toString());
        QVERIFY(std::abs(since.secsTo(QDateTime::currentDateTimeUtc()) - 2 * 86400) < 60);

        const Run csv = cli({ u"report"_s, u"-c"_s, config, u"--format"_s, u"csv"_s });
        QVERIFY2(csv.exitCode == 0, csv.err.constData());
        const QList<QByteArray> lines = csv.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 5);
        // The original columns keep their positions; the new ones follow.
        QCOMPARE(lines.at(0).trimmed(),
            "node,online,job,status,last_status,last_success_at,age_seconds,rpo_seconds,"
            "rpo_breached,failures_since_success,last_run_at,rpo_due_at,last_check_status,"
            "last_check_at,last_drill_status,last_drill_at,last_drill_success_at");
        QVERIFY2(
            lines.at(1).startsWith("cli-01,true,home,success,success,"), lines.at(1).constData());
        QVERIFY2(lines.at(2).startsWith("cli-02,true,db,failed,failed,"), lines.at(2).constData());
        const QStringList header = QString::fromUtf8(lines.at(0).trimmed()).split(u',');
        const QStringList drilled = QString::fromUtf8(lines.at(3).trimmed()).split(u',');
        const auto cellOf = [&header](const QStringList &row, const QString &column) {
            return row.value(header.indexOf(column));
        };
        QCOMPARE(drilled.size(), header.size());
        QCOMPARE(cellOf(drilled, u"node"_s), u"cli-03"_s);
        QCOMPARE(cellOf(drilled, u"status"_s), u"failed"_s); // the failed drill
        QCOMPARE(cellOf(drilled, u"last_status"_s), u"success"_s);
        QCOMPARE(cellOf(drilled, u"rpo_breached"_s), u"false"_s);
        QCOMPARE(cellOf(drilled, u"last_check_status"_s), u"success"_s);
        QCOMPARE(cellOf(drilled, u"last_drill_status"_s), u"failed"_s);
        const auto drillAt = parseTimestamp(cellOf(drilled, u"last_drill_at"_s));
        const auto drillOkAt = parseTimestamp(cellOf(drilled, u"last_drill_success_at"_s));
        QVERIFY2(drillAt && drillOkAt, lines.at(3).constData());
        QCOMPARE(drillOkAt->secsTo(*drillAt), 100); // the good drill ran 100 s before the bad one
        const QStringList pending = QString::fromUtf8(lines.at(4).trimmed()).split(u',');
        QCOMPARE(cellOf(pending, u"node"_s), u"cli-04"_s);
        QCOMPARE(cellOf(pending, u"status"_s), u"pending"_s);
        QCOMPARE(cellOf(pending, u"rpo_breached"_s), u"false"_s);
        QCOMPARE(cellOf(pending, u"last_status"_s), QString());
        const auto due = parseTimestamp(cellOf(pending, u"rpo_due_at"_s));
        QVERIFY2(due, lines.at(4).constData());
        QVERIFY(std::abs(QDateTime::currentDateTimeUtc().secsTo(*due) - (86400 - 7200)) < 120);

        const Run wholeTable = cli({ u"report"_s, u"-c"_s, config, u"--format"_s, u"table"_s });
        QVERIFY2(wholeTable.exitCode == 0, wholeTable.err.constData());
        QVERIFY2(wholeTable.out.startsWith("fleet failed: 4/4 nodes online, 1/4 jobs ok, 1 RPO "
                                           "breaches, 2 failures since "),
            wholeTable.out.constData());
        QVERIFY2(
            wholeTable.out.contains(", 1 failed restore drills\n"), wholeTable.out.constData());
        QVERIFY2(wholeTable.out.contains("last_drill_status"), wholeTable.out.constData());

        const QString outFile = m_dir.filePath(tag + u".txt"_s);
        const Run table
            = cli({ u"report"_s, u"-c"_s, config, u"--out"_s, outFile, u"--node"_s, u"cli-01"_s });
        QVERIFY2(table.exitCode == 0, table.err.constData());
        QFile written(outFile);
        QVERIFY(written.open(QIODevice::ReadOnly));
        const QByteArray text = written.readAll();
        QVERIFY2(text.startsWith("fleet success: 1/1 nodes online, 1/1 jobs ok"), text.constData());
        QVERIFY(text.contains("cli-01"));
        QVERIFY(!text.contains("cli-02"));

        const Run badFormat = cli({ u"report"_s, u"-c"_s, config, u"--format"_s, u"xml"_s });
        QCOMPARE(badFormat.exitCode, 2);
        QVERIFY(badFormat.err.contains("unknown format 'xml'"));
    }

    void keygenWritesAPrivateKeyAndPrintsThePublicOne()
    {
        const QString path = m_dir.filePath(u"k/orchestrator.key"_s);
        QDir().mkpath(m_dir.filePath(u"k"_s));
        const Run r = cli({ u"keygen"_s, u"--out"_s, path });
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(QFile::permissions(path)
                & (QFileDevice::ReadGroup | QFileDevice::ReadOther | QFileDevice::WriteGroup
                    | QFileDevice::WriteOther),
            QFileDevice::Permissions());
        auto key = SigningKey::load(path);
        QVERIFY2(key, qPrintable(key ? QString() : key.error().toString()));
        QCOMPARE(QString::fromLatin1(r.out.trimmed()), key->publicKeyBase64());
        // A signature made with the file verifies with the printed key.
        auto verify = VerifyKey::fromBase64(QString::fromLatin1(r.out.trimmed()));
        QVERIFY(verify);
        QVERIFY(verify->verify("data", key->sign("data").value()));
        const Run again = cli({ u"keygen"_s, u"--out"_s, path });
        QCOMPARE(again.exitCode, 1);
        QVERIFY(again.err.contains("refusing to replace"));
    }

    void checkConfigNamesFileLineAndField()
    {
        const QString path = m_dir.filePath(u"bad.yaml"_s);
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("store:\n  driver: oracle\nrpc:\n  roles:\n    alice: superuser\ningest:\n  "
                "batch_size: 0\n");
        f.close();
        const Run r = cli({ u"check-config"_s, u"-c"_s, path });
        QCOMPARE(r.exitCode, 1);
        const QString err = QString::fromUtf8(r.err);
        QVERIFY2(err.contains(path + u":2:"_s) && err.contains(u"oracle"_s), qPrintable(err));
        QVERIFY2(err.contains(u"viewer, operator or admin"_s), qPrintable(err));
        QVERIFY2(err.contains(u"batch_size"_s), qPrintable(err));
        QVERIFY2(err.contains(u"broker"_s), qPrintable(err)); // the daemon needs one
        const Run daemon = cli({ u"daemon"_s, u"-c"_s, path });
        QCOMPARE(daemon.exitCode, 78);
    }

    void nodeCommandsNeedAManagementSection()
    {
        const QString path = m_dir.filePath(u"nomgmt.yaml"_s);
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("store:\n  path: " + m_dir.filePath(u"nomgmt.db"_s).toUtf8() + "\n");
        f.close();
        const Run r = cli({ u"node"_s, u"add"_s, u"web-09"_s, u"-c"_s, path });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("management section"), r.err.constData());
        QVERIFY(r.out.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestOrchestratorCli)
#include "tst_orchestrator_cli.moc"
