// RunHistoryModel (and the PagedTableModel under it), headless: runs.query pages by keyset
// cursor, loaded lazily by fetchMore as a view scrolls; the filter becomes the query's
// params; a reply to an older query is dropped; a failed page says why; cells and raw values
// per column. QAbstractItemModelTester watches a model paging through everything.

#include "fakeinvoker.h"
#include "jsonfixture.h"
#include "modelroles.h"
#include "pagedrpc.h"
#include "runhistorymodel.h"
#include "statusstyle.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace Qt::StringLiterals;

namespace {

QJsonArray makeRuns(int count)
{
    QJsonArray runs;
    const QDateTime t0(QDate(2026, 11, 25), QTime(2, 0), Qt::UTC);
    for (int i = 0; i < count; ++i) {
        const QDateTime start = t0.addDays(-i);
        runs.append(QJsonObject { { u"node"_s, u"web-01"_s }, { u"run_id"_s, u"r-%1"_s.arg(i) },
            { u"job"_s, u"home"_s }, { u"kind"_s, u"backup"_s }, { u"trigger"_s, u"schedule"_s },
            { u"status"_s, i % 10 == 3 ? u"failed"_s : u"success"_s },
            { u"started_at"_s, start.toString(Qt::ISODateWithMs) },
            { u"finished_at"_s, start.addSecs(185).toString(Qt::ISODateWithMs) },
            { u"duration_seconds"_s, 185.5 }, { u"original_size"_s, 7340032000LL },
            { u"deduplicated_size"_s, 65536000 }, { u"files"_s, 120034 } });
    }
    return runs;
}

PagedRpc runsRpc(int count)
{
    PagedRpc p;
    p.method = u"runs.query"_s;
    p.arrayKey = u"runs"_s;
    p.rows = makeRuns(count);
    return p;
}

} // namespace

class TestRunHistoryModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void pagesLoadAsTheViewAsks()
    {
        FakeInvoker invoker;
        invoker.setHandler(u"runs.query"_s, runsRpc(120).handler());
        RunHistoryModel model(&invoker);
        QSignalSpy pages(&model, &RunHistoryModel::pageLoaded);
        QSignalSpy loading(&model, &RunHistoryModel::loadingChanged);
        QVERIFY(!model.canFetchMore({}));

        RunFilter f;
        f.node = u"web-01"_s;
        f.status = u"failed"_s;
        model.setFilter(f);
        QCOMPARE(model.filter(), f);
        QVERIFY(model.isLoading());
        QVERIFY(!model.canFetchMore({})); // not while a page is on its way
        QVERIFY(pages.wait(5000));
        QCOMPARE(model.rowCount(), 50);
        QCOMPARE(model.pagesLoaded(), 1);
        QVERIFY(model.hasMore());
        QVERIFY(model.canFetchMore({}));
        QVERIFY(!model.canFetchMore(model.index(0, 0))); // a table: only the root fetches
        QCOMPARE(loading.count(), 2); // true, false

        const auto first = invoker.callsTo(u"runs.query"_s).first();
        QCOMPARE(first.params,
            (QJsonObject {
                { u"node"_s, u"web-01"_s }, { u"status"_s, u"failed"_s }, { u"limit"_s, 50 } }));

        model.fetchMore({});
        QVERIFY(pages.wait(5000));
        QCOMPARE(model.rowCount(), 100);
        QCOMPARE(invoker.callsTo(u"runs.query"_s).at(1).params.value("cursor"_L1).toString(),
            u"row:50"_s);
        QCOMPARE(
            invoker.callsTo(u"runs.query"_s).at(1).params.value("node"_L1).toString(), u"web-01"_s);
        model.fetchMore({});
        QVERIFY(pages.wait(5000));
        QCOMPARE(model.rowCount(), 120);
        QVERIFY(!model.hasMore());
        QVERIFY(!model.canFetchMore({}));
        model.fetchMore({}); // nothing more to ask
        QCOMPARE(invoker.callCount(u"runs.query"_s), 3);
        QCOMPARE(model.rowObject(119).value("run_id"_L1).toString(), u"r-119"_s);
        QCOMPARE(model.rowObject(120), QJsonObject());
    }

    void testerFollowsEveryPage()
    {
        // The tester itself calls fetchMore after every change, so the model pages through
        // all 230 runs with the tester checking it at each step.
        FakeInvoker invoker;
        invoker.setHandler(u"runs.query"_s, runsRpc(230).handler());
        RunHistoryModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setPageSize(40);
        QCOMPARE(model.pageSize(), 40);
        model.setFilter({});
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 230, 10000);
        QVERIFY(!model.hasMore());
        QCOMPARE(model.pagesLoaded(), 6);
    }

    void newQueryDropsTheOldReply()
    {
        FakeInvoker invoker;
        invoker.setHandler(u"runs.query"_s, [](const QJsonObject &params) {
            const bool failed = params.value("status"_L1).toString() == u"failed";
            QJsonArray runs = makeRuns(failed ? 2 : 5);
            return RpcReply::success(
                u"runs.query"_s, { { u"runs"_s, runs }, { u"next_cursor"_s, QJsonValue::Null } });
        });
        invoker.setHolding(true);
        RunHistoryModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setFilter({});
        RunFilter failed;
        failed.status = u"failed"_s;
        model.setFilter(failed);
        QCOMPARE(invoker.release(), 2);
        QCOMPARE(model.rowCount(), 2); // only the answer to the current query
        QVERIFY(!model.isLoading());

        model.reload();
        QVERIFY(model.isLoading());
        model.clear();
        QCOMPARE(invoker.release(), 1);
        QCOMPARE(model.rowCount(), 0); // cleared: the late page is dropped too
        QCOMPARE(model.query(), QJsonObject());
        QVERIFY(!model.isLoading());
    }

    void failedPageSaysWhy()
    {
        FakeInvoker invoker;
        invoker.setError(
            u"runs.query"_s, u"invalid_params"_s, u"params.since: not an RFC 3339 time"_s);
        RunHistoryModel model(&invoker);
        QSignalSpy errors(&model, &RunHistoryModel::errorOccurred);
        model.setFilter({});
        QVERIFY(errors.wait(5000));
        QCOMPARE(errors.first().first().toString(),
            u"runs.query: Invalid request — params.since: not an RFC 3339 time"_s);
        QVERIFY(!model.isLoading());
        QCOMPARE(model.rowCount(), 0);
    }

    void cells_data()
    {
        QTest::addColumn<int>("column");
        QTest::addColumn<QString>("display");
        QTest::addColumn<QVariant>("raw");

        QTest::newRow("started") << int(RunHistoryModel::StartedColumn) << u"2026-11-25 02:00:04"_s
                                 << QVariant(qlonglong(1795572004512));
        QTest::newRow("node") << int(RunHistoryModel::NodeColumn) << u"db-01"_s
                              << QVariant(u"db-01"_s);
        QTest::newRow("status") << int(RunHistoryModel::StatusColumn) << u"Failed"_s << QVariant(4);
        QTest::newRow("duration") << int(RunHistoryModel::DurationColumn) << u"3 min 6 s"_s
                                  << QVariant(185.5);
        QTest::newRow("original") << int(RunHistoryModel::OriginalSizeColumn) << u"6.84 GiB"_s
                                  << QVariant(qlonglong(7340032000));
        QTest::newRow("no dedup size")
            << int(RunHistoryModel::DeduplicatedSizeColumn) << QString() << QVariant(qlonglong(-1));
        QTest::newRow("files") << int(RunHistoryModel::FilesColumn) << u"120034"_s
                               << QVariant(qlonglong(120034));
        QTest::newRow("trigger") << int(RunHistoryModel::TriggerColumn) << u"command"_s
                                 << QVariant(u"command"_s);
        QTest::newRow("error with step")
            << int(RunHistoryModel::ErrorColumn) << u"dump:app: pg_dump: connection refused"_s
            << QVariant(u"dump:app: pg_dump: connection refused"_s);
    }

    void cells()
    {
        QFETCH(int, column);
        QFETCH(QString, display);
        QFETCH(QVariant, raw);
        FakeInvoker invoker;
        invoker.setResult(u"runs.query"_s, json(R"({"runs": [
            {"node": "db-01", "run_id": "r-9", "job": "pg", "kind": "backup", "trigger": "command",
             "status": "failed", "started_at": "2026-11-25T02:00:04.512Z",
             "finished_at": "2026-11-25T02:03:10.012Z", "duration_seconds": 185.5,
             "original_size": 7340032000, "deduplicated_size": null, "files": 120034,
             "failed_step": "dump:app", "error": "pg_dump: connection refused"}],
            "next_cursor": null})"));
        RunHistoryModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setFilter({});
        QTRY_COMPARE(model.rowCount(), 1);
        const QModelIndex i = model.index(0, column);
        QCOMPARE(i.data().toString(), display);
        QCOMPARE(i.data(RawValueRole), raw);
        QCOMPARE(i.data(SeverityRole).toInt(), 4);
        QCOMPARE(
            model.index(0, RunHistoryModel::StatusColumn).data(Qt::BackgroundRole).value<QColor>(),
            StatusStyle::background(u"failed"_s));
        QCOMPARE(model.index(0, RunHistoryModel::ErrorColumn).data(Qt::ToolTipRole).toString(),
            u"pg_dump: connection refused"_s);
        QCOMPARE(i.data(RowObjectRole).toJsonObject().value("run_id"_L1).toString(), u"r-9"_s);
        QCOMPARE(model
                     .headerData(
                         RunHistoryModel::DeduplicatedSizeColumn, Qt::Horizontal, Qt::DisplayRole)
                     .toString(),
            u"Deduplicated"_s);
    }

    void filterValidation_data()
    {
        QTest::addColumn<QString>("node");
        QTest::addColumn<QString>("status");
        QTest::addColumn<QString>("kind");
        QTest::addColumn<int>("sinceDaysAgo"); // -1: not set
        QTest::addColumn<int>("untilDaysAgo");
        QTest::addColumn<QString>("error"); // empty: valid

        QTest::newRow("empty") << QString() << QString() << QString() << -1 << -1 << QString();
        QTest::newRow("full") << u"web-01"_s << u"running"_s << u"drill"_s << 7 << 0 << QString();
        QTest::newRow("bad node") << u"Web 01"_s << QString() << QString() << -1 << -1
                                  << u"node: 'Web 01' is not a valid node id"_s;
        QTest::newRow("bad status")
            << QString() << u"ok"_s << QString() << -1 << -1
            << u"status: 'ok' is not one of success, warning, cancelled, failed, running"_s;
        QTest::newRow("bad kind") << QString() << QString() << u"prune"_s << -1 << -1
                                  << u"kind: 'prune' is not one of backup, check, drill, restore"_s;
        QTest::newRow("since after until")
            << QString() << QString() << QString() << 1 << 3 << u"since: is after until"_s;
    }

    void filterValidation()
    {
        QFETCH(QString, node);
        QFETCH(QString, status);
        QFETCH(QString, kind);
        QFETCH(int, sinceDaysAgo);
        QFETCH(int, untilDaysAgo);
        QFETCH(QString, error);
        const QDateTime now(QDate(2026, 11, 25), QTime(9, 0), Qt::UTC);
        RunFilter f;
        f.node = node;
        f.status = status;
        f.kind = kind;
        if (sinceDaysAgo >= 0)
            f.since = now.addDays(-sinceDaysAgo);
        if (untilDaysAgo >= 0)
            f.until = now.addDays(-untilDaysAgo);
        const auto ok = f.validate();
        QCOMPARE(ok ? QString() : ok.error().message, error);
    }

    void filterParams()
    {
        RunFilter f;
        QCOMPARE(f.toParams(), QJsonObject());
        f.node = u"web-01"_s;
        f.job = u"home"_s;
        f.kind = u"backup"_s;
        f.since = QDateTime(QDate(2026, 11, 1), QTime(0, 0), Qt::UTC);
        f.until
            = QDateTime(QDate(2026, 11, 25), QTime(1, 30), Qt::OffsetFromUTC, 3600); // 00:30 UTC
        QCOMPARE(f.toParams(),
            (QJsonObject { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s },
                { u"kind"_s, u"backup"_s }, { u"since"_s, u"2026-11-01T00:00:00.000Z"_s },
                { u"until"_s, u"2026-11-25T00:30:00.000Z"_s } }));
    }
};

QTEST_MAIN(TestRunHistoryModel)
#include "tst_runhistorymodel.moc"
