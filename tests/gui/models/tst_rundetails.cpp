// RunDetails and its StepsModel, headless: run.get fills the details (headline, stats line,
// steps with durations and exit codes); a newer selection wins over a late answer; the
// steps model under QAbstractItemModelTester.

#include "fakeinvoker.h"
#include "jsonfixture.h"
#include "modelroles.h"
#include "rundetails.h"
#include "statusstyle.h"
#include "stepsmodel.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace Qt::StringLiterals;

namespace {

QJsonObject runFixture(const QString &runId = u"r-7f3a"_s)
{
    QJsonObject r = json(R"({"node": "web-01", "run_id": "r-7f3a", "job": "home", "kind": "backup",
      "trigger": "schedule", "status": "warning",
      "started_at": "2026-11-25T02:00:04.512Z", "finished_at": "2026-11-25T02:03:10.020Z",
      "duration_seconds": 185.5, "original_size": 7340032000, "compressed_size": 3145728000,
      "deduplicated_size": 65536000, "files": 120034, "archive_name": "web-01-home-2026-11-25T02:00:04",
      "log_tail": "Creating archive at ssh:\/\/…\n/home/alice/notes.txt: file changed while we backed it up",
      "steps": [
        {"name": "hook:before:stop-app", "status": "success", "started_at": "2026-11-25T02:00:04.600Z",
         "finished_at": "2026-11-25T02:00:05.100Z", "exit_code": 0},
        {"name": "create", "status": "warning", "started_at": "2026-11-25T02:00:05.200Z",
         "finished_at": "2026-11-25T02:03:00.200Z", "exit_code": 1,
         "error": "/home/alice/notes.txt: file changed while we backed it up"},
        {"name": "prune", "status": "success", "started_at": "2026-11-25T02:03:00.300Z"}]})");
    r.insert(u"run_id"_s, runId);
    return r;
}

} // namespace

class TestRunDetails : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void stepsModel()
    {
        StepsModel steps;
        QAbstractItemModelTester tester(
            &steps, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(steps.rowCount(), 0);
        steps.setSteps(runFixture().value("steps"_L1).toArray());
        QCOMPARE(steps.rowCount(), 3);
        QCOMPARE(steps.columnCount(), int(StepsModel::ColumnCount));
        QCOMPARE(
            steps.index(0, StepsModel::NameColumn).data().toString(), u"hook:before:stop-app"_s);
        QCOMPARE(steps.index(0, StepsModel::DurationColumn).data().toString(), u"0.5 s"_s);
        QCOMPARE(steps.index(1, StepsModel::DurationColumn).data().toString(), u"2 min 55 s"_s);
        QCOMPARE(steps.index(1, StepsModel::DurationColumn).data(RawValueRole).toDouble(), 175.0);
        QCOMPARE(steps.index(2, StepsModel::DurationColumn).data().toString(),
            QString()); // not finished
        QCOMPARE(steps.index(2, StepsModel::DurationColumn).data(RawValueRole).toDouble(), -1.0);
        QCOMPARE(steps.index(1, StepsModel::StatusColumn).data().toString(), u"Warning"_s);
        QCOMPARE(steps.index(1, StepsModel::StatusColumn).data(Qt::BackgroundRole).value<QColor>(),
            StatusStyle::background(u"warning"_s));
        QCOMPARE(steps.index(1, StepsModel::ExitCodeColumn).data().toInt(), 1);
        QCOMPARE(steps.index(2, StepsModel::ExitCodeColumn).data().toString(), QString());
        QCOMPARE(steps.index(2, StepsModel::ExitCodeColumn).data(RawValueRole).toInt(), -1);
        QCOMPARE(steps.index(1, StepsModel::ErrorColumn).data(Qt::ToolTipRole).toString(),
            u"/home/alice/notes.txt: file changed while we backed it up"_s);
        QCOMPARE(
            steps.index(1, StepsModel::StartedColumn).data().toString(), u"2026-11-25 02:00:05"_s);
        QCOMPARE(steps.index(2, StepsModel::NameColumn).data(RawValueRole).toInt(), 2); // run order
        QCOMPARE(steps.index(1, 0).data(SeverityRole).toInt(), 2);
        QCOMPARE(steps.headerData(StepsModel::ExitCodeColumn, Qt::Horizontal, Qt::DisplayRole)
                     .toString(),
            u"Exit code"_s);
        steps.setSteps({});
        QCOMPARE(steps.rowCount(), 0);
    }

    void loadsRunGet()
    {
        FakeInvoker invoker;
        invoker.setHandler(u"run.get"_s, [](const QJsonObject &params) {
            return RpcReply::success(
                u"run.get"_s, runFixture(params.value("run_id"_L1).toString()));
        });
        RunDetails details(&invoker);
        QAbstractItemModelTester tester(
            details.steps(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy loaded(&details, &RunDetails::loaded);
        details.load(u"web-01"_s, u"r-7f3a"_s);
        QVERIFY(details.isLoading());
        QVERIFY(loaded.wait(5000));
        QVERIFY(!details.isLoading());
        QCOMPARE(invoker.callsTo(u"run.get"_s).first().params,
            (QJsonObject { { u"node"_s, u"web-01"_s }, { u"run_id"_s, u"r-7f3a"_s } }));
        QCOMPARE(details.run().value("run_id"_L1).toString(), u"r-7f3a"_s);
        QCOMPARE(details.steps()->rowCount(), 3);
        QCOMPARE(RunDetails::headline(details.run()),
            u"backup of web-01/home — Warning (trigger schedule), started 2026-11-25 02:00:04, finished 2026-11-25 02:03:10 UTC"_s);
        QCOMPARE(RunDetails::statsText(details.run()),
            u"Archive web-01-home-2026-11-25T02:00:04 · original 6.84 GiB, compressed 2.93 GiB, deduplicated 62.5 MiB · 120034 files · 3 min 6 s"_s);

        // A newer selection wins over a late answer.
        invoker.setHolding(true);
        details.load(u"web-01"_s, u"r-old"_s);
        details.load(u"web-01"_s, u"r-new"_s);
        QCOMPARE(invoker.release(), 2);
        QCOMPARE(details.run().value("run_id"_L1).toString(), u"r-new"_s);

        details.clear();
        QCOMPARE(details.run(), QJsonObject());
        QCOMPARE(details.steps()->rowCount(), 0);
        QCOMPARE(RunDetails::headline({}), QString());
    }

    void statsTextLeavesOutWhatIsMissing_data()
    {
        QTest::addColumn<QByteArray>("run");
        QTest::addColumn<QString>("text");
        QTest::newRow("nothing") << QByteArray("{}") << QString();
        QTest::newRow("failed run") << QByteArray(R"({"duration_seconds": 3.75})") << u"3.8 s"_s;
        QTest::newRow("sizes only")
            << QByteArray(R"({"original_size": 1536, "deduplicated_size": 0})")
            << u"original 1.50 KiB, deduplicated 0 B"_s;
        QTest::newRow("archive and files")
            << QByteArray(R"({"archive_name": "a", "files": 3})") << u"Archive a · 3 files"_s;
    }

    void statsTextLeavesOutWhatIsMissing()
    {
        QFETCH(QByteArray, run);
        QFETCH(QString, text);
        QCOMPARE(RunDetails::statsText(json(run)), text);
    }

    void detailsOfRestoresAndDrills_data()
    {
        QTest::addColumn<QByteArray>("run");
        QTest::addColumn<QString>("text");
        QTest::newRow("backup") << QByteArray(R"({"kind": "backup", "details": {"target": "/x"}})")
                                << QString();
        QTest::newRow("restore to the default")
            << QByteArray(
                   R"({"kind": "restore", "details": {"target": "/var/lib/sparky/restore/5c0e",
                 "files": 4, "bytes": 1909845, "errors": []}})")
            << u"restored to /var/lib/sparky/restore/5c0e, 4 files, 1.82 MiB"_s;
        QTest::newRow("restore with borg errors") << QByteArray(
            R"({"kind": "restore", "details": {"target": "/srv/r", "errors": ["x: never matched"]}})")
                                                  << u"restored to /srv/r, 1 error(s) from borg"_s;
        QTest::newRow("database restore") << QByteArray(
            R"({"kind": "restore", "details": {"database": "shop_restored", "bytes": 1048576}})")
                                          << u"restored into database shop_restored, 1.00 MiB"_s;
        QTest::newRow("good drill")
            << QByteArray(R"({"kind": "drill", "details": {"files_checked": 25, "mismatches": [],
                 "databases": [{"database": "app"}]}})")
            << u"25 sampled files checked, all match, 1 database(s) restored to scratch and checked"_s;
        QTest::newRow("bad drill") << QByteArray(
            R"({"kind": "drill", "details": {"files_checked": 25, "mismatches": [{}, {}],
                 "mismatches_total": 130}})")
                                   << u"25 sampled files checked, 130 differ"_s;
    }

    void detailsOfRestoresAndDrills()
    {
        QFETCH(QByteArray, run);
        QFETCH(QString, text);
        QCOMPARE(RunDetails::detailsText(json(run)), text);
    }

    void failedLoadSaysWhy()
    {
        FakeInvoker invoker;
        invoker.setError(u"run.get"_s, u"not_found"_s, u"no run r-x of node web-01"_s);
        RunDetails details(&invoker);
        QSignalSpy errors(&details, &RunDetails::errorOccurred);
        details.load(u"web-01"_s, u"r-x"_s);
        QVERIFY(errors.wait(5000));
        QCOMPARE(
            errors.first().first().toString(), u"run.get: Not found — no run r-x of node web-01"_s);
        QVERIFY(!details.isLoading());
    }
};

QTEST_MAIN(TestRunDetails)
#include "tst_rundetails.moc"
