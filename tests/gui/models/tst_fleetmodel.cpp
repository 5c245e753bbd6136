// FleetModel and FleetFilterProxy, headless, under QAbstractItemModelTester: one row per
// node and job from fleet.summary, the worst status wins, an RPO breach is highlighted, a
// refresh with the same rows updates them in place (the selection survives), a failed
// refresh keeps the rows and says why; the proxy filters by text and "problems only" and
// sorts on the raw values (severity, seconds — "never" the stalest).

#include "fakeinvoker.h"
#include "fleetfilterproxy.h"
#include "fleetmodel.h"
#include "jsonfixture.h"
#include "modelroles.h"
#include "statusstyle.h"

#include <QAbstractItemModelTester>
#include <QFont>
#include <QSignalSpy>
#include <QTest>

using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace Qt::StringLiterals;

namespace {

// (Inside multi-line raw strings "//" is written "\/\/", a valid JSON escape: moc would take
// it for a comment and find no class in this file.)
// Five nodes: a warning, a failure with an RPO breach, an offline node that is fine, a node
// that lists no job yet, and a job that never succeeded.
QJsonObject fleetFixture()
{
    return json(R"({
  "generated_at": "2026-11-25T09:00:00.000Z",
  "fleet": {"status": "failed", "nodes": 5, "nodes_online": 4, "jobs": 5, "jobs_ok": 3,
            "rpo_breaches": 1, "failures": 2},
  "nodes": [
    {"node": "web-01", "online": true, "last_seen": "2026-11-25T08:59:00.000Z", "status": "warning",
     "jobs": [
       {"job": "home", "repository": "ssh:\/\/borg@repo-01/./web-01", "status": "success",
        "last_status": "success", "last_run_at": "2026-11-25T02:03:10.000Z",
        "last_success_at": "2026-11-25T02:03:10.000Z", "age_seconds": 25200, "rpo_seconds": 93600,
        "rpo_breached": false, "failures_since_success": 0},
       {"job": "www", "repository": "ssh:\/\/borg@repo-01/./web-01-www", "status": "warning",
        "last_status": "warning", "last_run_at": "2026-11-25T03:00:00.000Z",
        "last_success_at": "2026-11-25T03:00:00.000Z", "age_seconds": 21600, "rpo_seconds": 93600,
        "rpo_breached": false, "failures_since_success": 0}]},
    {"node": "db-01", "online": true, "last_seen": "2026-11-25T08:58:00.000Z", "status": "failed",
     "jobs": [
       {"job": "pg", "repository": "ssh:\/\/borg@repo-01/./db-01", "status": "failed",
        "last_status": "failed", "last_run_at": "2026-11-25T02:04:00.000Z",
        "last_success_at": "2026-11-23T02:04:00.000Z", "age_seconds": 197760, "rpo_seconds": 93600,
        "rpo_breached": true, "failures_since_success": 2}]},
    {"node": "mail-01", "online": false, "last_seen": "2026-11-25T08:00:00.000Z", "status": "success",
     "jobs": [
       {"job": "maildir", "repository": "ssh:\/\/borg@repo-01/./mail-01", "status": "success",
        "last_status": "success", "last_run_at": "2026-11-25T07:00:00.000Z",
        "last_success_at": "2026-11-25T07:00:00.000Z", "age_seconds": 7200, "rpo_seconds": 0,
        "rpo_breached": false, "failures_since_success": 0}]},
    {"node": "new-01", "online": true, "last_seen": "2026-11-25T08:59:30.000Z", "status": "unknown",
     "jobs": []},
    {"node": "ci-01", "online": true, "last_seen": "2026-11-25T08:59:30.000Z", "status": "unknown",
     "jobs": [
       {"job": "artifacts", "repository": "ssh:\/\/borg@repo-01/./ci-01", "status": "unknown",
        "last_status": null, "last_run_at": null, "last_success_at": null, "age_seconds": null,
        "rpo_seconds": 0, "rpo_breached": false, "failures_since_success": 0}]}]
})");
}

QString cell(const QAbstractItemModel &m, int row, int column, int role = Qt::DisplayRole)
{
    return m.index(row, column).data(role).toString();
}

} // namespace

class TestFleetModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void refreshLoadsRowsUnderTheTester()
    {
        FakeInvoker invoker;
        invoker.setResult(u"fleet.summary"_s, fleetFixture());
        FleetModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy refreshed(&model, &FleetModel::refreshed);
        QCOMPARE(model.summaryText(), u"No fleet data yet"_s);

        model.refresh();
        QVERIFY(model.isLoading());
        QCOMPARE(model.rowCount(), 0); // the answer comes later, never inside refresh()
        QVERIFY(refreshed.wait(5000));
        QVERIFY(!model.isLoading());
        QCOMPARE(invoker.callCount(u"fleet.summary"_s), 1);
        QCOMPARE(model.rowCount(), 6); // 2 + 1 + 1 + 1 (no jobs) + 1
        QCOMPARE(model.columnCount(), int(FleetModel::ColumnCount));
        QCOMPARE(model.nodes(),
            (QStringList { u"ci-01"_s, u"db-01"_s, u"mail-01"_s, u"new-01"_s, u"web-01"_s }));
        QCOMPARE(model.jobs(u"web-01"_s), (QStringList { u"home"_s, u"www"_s }));
        QCOMPARE(model.jobs(u"new-01"_s), QStringList());
        QCOMPARE(model.rowOf(u"db-01"_s, u"pg"_s), 2);
        QCOMPARE(model.rowOf(u"db-01"_s, u"nope"_s), -1);
        QCOMPARE(model.fleetStatus(), u"failed"_s);
        QCOMPARE(model.summaryText(),
            u"Fleet Failed — 5 node(s) (4 online), 3 of 5 job(s) ok, 1 RPO breach(es), 2 failure(s) · as of 2026-11-25 09:00:00 UTC"_s);
    }

    void cells_data()
    {
        QTest::addColumn<QString>("node");
        QTest::addColumn<QString>("job");
        QTest::addColumn<int>("column");
        QTest::addColumn<QString>("display");
        QTest::addColumn<QVariant>("raw");

        QTest::newRow("status success") << u"web-01"_s << u"home"_s << int(FleetModel::StatusColumn)
                                        << u"Success"_s << QVariant(0);
        QTest::newRow("status warning") << u"web-01"_s << u"www"_s << int(FleetModel::StatusColumn)
                                        << u"Warning"_s << QVariant(2);
        QTest::newRow("status failed")
            << u"db-01"_s << u"pg"_s << int(FleetModel::StatusColumn) << u"Failed"_s << QVariant(4);
        QTest::newRow("age hours") << u"web-01"_s << u"home"_s << int(FleetModel::LastSuccessColumn)
                                   << u"7 h 0 min ago"_s << QVariant(qlonglong(25200));
        QTest::newRow("age days") << u"db-01"_s << u"pg"_s << int(FleetModel::LastSuccessColumn)
                                  << u"2 d 6 h ago"_s << QVariant(qlonglong(197760));
        QTest::newRow("never succeeded")
            << u"ci-01"_s << u"artifacts"_s << int(FleetModel::LastSuccessColumn) << u"never"_s
            << QVariant(std::numeric_limits<qlonglong>::max());
        QTest::newRow("rpo") << u"db-01"_s << u"pg"_s << int(FleetModel::RpoColumn)
                             << u"26 h 0 min"_s << QVariant(qlonglong(93600));
        QTest::newRow("no rpo") << u"mail-01"_s << u"maildir"_s << int(FleetModel::RpoColumn)
                                << QString() << QVariant(qlonglong(0));
        QTest::newRow("failures") << u"db-01"_s << u"pg"_s << int(FleetModel::FailuresColumn)
                                  << u"2"_s << QVariant(2);
        QTest::newRow("last run") << u"db-01"_s << u"pg"_s << int(FleetModel::LastRunColumn)
                                  << u"2026-11-25 02:04:00"_s << QVariant(qlonglong(1795572240000));
        QTest::newRow("never ran") << u"ci-01"_s << u"artifacts"_s << int(FleetModel::LastRunColumn)
                                   << u"—"_s << QVariant(qlonglong(-1));
        QTest::newRow("online") << u"web-01"_s << u"home"_s << int(FleetModel::OnlineColumn)
                                << u"online"_s << QVariant(1);
        QTest::newRow("offline") << u"mail-01"_s << u"maildir"_s << int(FleetModel::OnlineColumn)
                                 << u"offline"_s << QVariant(0);
        QTest::newRow("repository")
            << u"db-01"_s << u"pg"_s << int(FleetModel::RepositoryColumn)
            << u"ssh://borg@repo-01/./db-01"_s << QVariant(u"ssh://borg@repo-01/./db-01"_s);
        QTest::newRow("node without jobs") << u"new-01"_s << QString() << int(FleetModel::JobColumn)
                                           << u"(no jobs)"_s << QVariant(QString());
        QTest::newRow("node status when no jobs")
            << u"new-01"_s << QString() << int(FleetModel::StatusColumn) << u"Unknown"_s
            << QVariant(1);
    }

    void cells()
    {
        QFETCH(QString, node);
        QFETCH(QString, job);
        QFETCH(int, column);
        QFETCH(QString, display);
        QFETCH(QVariant, raw);
        FleetModel model;
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setSummary(fleetFixture());
        const int row = model.rowOf(node, job);
        QVERIFY(row >= 0);
        QCOMPARE(cell(model, row, column), display);
        QCOMPARE(model.index(row, column).data(RawValueRole), raw);
        const QJsonObject o = model.index(row, 0).data(RowObjectRole).toJsonObject();
        QCOMPARE(o.value("node"_L1).toString(), node);
        QCOMPARE(o.value("job"_L1).toString(), job);
    }

    void rpoBreachIsHighlighted()
    {
        FleetModel model;
        model.setSummary(fleetFixture());
        const QModelIndex stale
            = model.index(model.rowOf(u"db-01"_s, u"pg"_s), FleetModel::LastSuccessColumn);
        QCOMPARE(stale.data(Qt::BackgroundRole).value<QColor>(), StatusStyle::staleBackground());
        QVERIFY(stale.data(Qt::FontRole).value<QFont>().bold());
        QCOMPARE(stale.data(Qt::ToolTipRole).toString(),
            u"RPO breached: the last good backup is 2 d 6 h old, the RPO is 26 h 0 min"_s);
        const QModelIndex fresh
            = model.index(model.rowOf(u"web-01"_s, u"home"_s), FleetModel::LastSuccessColumn);
        QVERIFY(!fresh.data(Qt::BackgroundRole).isValid());
        QVERIFY(!fresh.data(Qt::FontRole).isValid());

        const QModelIndex status
            = model.index(model.rowOf(u"db-01"_s, u"pg"_s), FleetModel::StatusColumn);
        QCOMPARE(
            status.data(Qt::BackgroundRole).value<QColor>(), StatusStyle::background(u"failed"_s));
        QCOMPARE(status.data(SeverityRole).toInt(), 4);
        const QModelIndex offline
            = model.index(model.rowOf(u"mail-01"_s, u"maildir"_s), FleetModel::NodeColumn);
        QCOMPARE(
            offline.data(Qt::ForegroundRole).value<QColor>(), StatusStyle::offlineForeground());
        QCOMPARE(model.index(model.rowOf(u"mail-01"_s, u"maildir"_s), FleetModel::OnlineColumn)
                     .data(Qt::ToolTipRole)
                     .toString(),
            u"last seen 2026-11-25 08:00:00 UTC"_s);
    }

    void sameRowsUpdateInPlace()
    {
        FakeInvoker invoker;
        QJsonObject summary = fleetFixture();
        invoker.setHandler(u"fleet.summary"_s, [&summary](const QJsonObject &) {
            return RpcReply::success(u"fleet.summary"_s, summary);
        });
        FleetModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy refreshed(&model, &FleetModel::refreshed);
        model.refresh();
        QVERIFY(refreshed.wait(5000));

        // The same nodes and jobs, one status changed: dataChanged, no reset.
        QJsonArray nodes = summary.value("nodes"_L1).toArray();
        QJsonObject db = nodes.at(1).toObject();
        QJsonArray jobs = db.value("jobs"_L1).toArray();
        QJsonObject pg = jobs.at(0).toObject();
        pg.insert(u"status"_s, u"success"_s);
        jobs.replace(0, pg);
        db.insert(u"jobs"_s, jobs);
        nodes.replace(1, db);
        summary.insert(u"nodes"_s, nodes);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.refresh();
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(reset.count(), 0);
        QCOMPARE(changed.count(), 1);
        QCOMPARE(
            cell(model, model.rowOf(u"db-01"_s, u"pg"_s), FleetModel::StatusColumn), u"Success"_s);

        // A new node: the rows differ, so the model resets.
        nodes.append(json(R"({"node": "zz-01", "online": true, "status": "unknown", "jobs": []})"));
        summary.insert(u"nodes"_s, nodes);
        model.refresh();
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(reset.count(), 1);
        QCOMPARE(model.rowCount(), 7);
    }

    void failedRefreshKeepsRowsAndSaysWhy()
    {
        FakeInvoker invoker;
        invoker.setResult(u"fleet.summary"_s, fleetFixture());
        FleetModel model(&invoker);
        QSignalSpy refreshed(&model, &FleetModel::refreshed);
        QSignalSpy errors(&model, &FleetModel::errorOccurred);
        model.refresh();
        QVERIFY(refreshed.wait(5000));
        invoker.setError(u"fleet.summary"_s, u"unavailable"_s, u"the store is down"_s);
        model.refresh();
        QVERIFY(errors.wait(5000));
        QCOMPARE(
            errors.first().first().toString(), u"fleet.summary: Unavailable — the store is down"_s);
        QCOMPARE(model.rowCount(), 6);
        QCOMPARE(refreshed.count(), 1);
        QVERIFY(!model.isLoading());
    }

    void refreshWhileLoadingAsksOnce()
    {
        FakeInvoker invoker;
        invoker.setResult(u"fleet.summary"_s, fleetFixture());
        invoker.setHolding(true);
        FleetModel model(&invoker);
        model.refresh();
        model.refresh();
        model.refresh();
        QCOMPARE(invoker.callCount(u"fleet.summary"_s), 1);
        QCOMPARE(invoker.release(), 1);
        QCOMPARE(model.rowCount(), 6);
        model.refresh();
        QCOMPARE(invoker.callCount(u"fleet.summary"_s), 2);
    }

    void proxyFilters_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("problemsOnly");
        QTest::addColumn<QStringList>("rows"); // node/job, in the source order

        QTest::newRow("everything")
            << QString() << false
            << QStringList { u"web-01/home"_s, u"web-01/www"_s, u"db-01/pg"_s, u"mail-01/maildir"_s,
                   u"new-01/"_s, u"ci-01/artifacts"_s };
        QTest::newRow("by node") << u"web"_s << false
                                 << QStringList { u"web-01/home"_s, u"web-01/www"_s };
        QTest::newRow("case-insensitive status")
            << u"FAILED"_s << false << QStringList { u"db-01/pg"_s };
        QTest::newRow("by repository") << u"db-01-x"_s << false << QStringList();
        QTest::newRow("trimmed") << u"  maildir "_s << false
                                 << QStringList { u"mail-01/maildir"_s };
        QTest::newRow("problems only")
            << QString() << true
            << QStringList { u"web-01/www"_s, u"db-01/pg"_s, u"mail-01/maildir"_s, u"new-01/"_s,
                   u"ci-01/artifacts"_s };
        QTest::newRow("problems of one node")
            << u"web-01"_s << true << QStringList { u"web-01/www"_s };
    }

    void proxyFilters()
    {
        QFETCH(QString, text);
        QFETCH(bool, problemsOnly);
        QFETCH(QStringList, rows);
        FleetModel model;
        FleetFilterProxy proxy;
        proxy.setSourceModel(&model);
        QAbstractItemModelTester tester(
            &proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setSummary(fleetFixture());
        proxy.setText(text);
        proxy.setProblemsOnly(problemsOnly);
        QCOMPARE(proxy.problemsOnly(), problemsOnly);
        QStringList got;
        for (int r = 0; r < proxy.rowCount(); ++r) {
            const QJsonObject o = proxy.index(r, 0).data(RowObjectRole).toJsonObject();
            got << o.value("node"_L1).toString() + u'/' + o.value("job"_L1).toString();
        }
        QCOMPARE(got, rows);
    }

    void proxySortsOnRawValues()
    {
        FleetModel model;
        FleetFilterProxy proxy;
        proxy.setSourceModel(&model);
        QAbstractItemModelTester tester(
            &proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setSummary(fleetFixture());

        proxy.sort(FleetModel::StatusColumn, Qt::DescendingOrder); // worst first
        QCOMPARE(cell(proxy, 0, FleetModel::NodeColumn), u"db-01"_s);
        QCOMPARE(cell(proxy, 1, FleetModel::JobColumn), u"www"_s);
        QCOMPARE(cell(proxy, proxy.rowCount() - 1, FleetModel::StatusColumn), u"Success"_s);

        // By age: "never" is the stalest, then days before hours (not "2 d" < "7 h" as text).
        proxy.sort(FleetModel::LastSuccessColumn, Qt::DescendingOrder);
        // The two rows without a good backup (a job that never had one, a node without
        // jobs) come first, in any order.
        QCOMPARE((QSet<QString> { cell(proxy, 0, FleetModel::LastSuccessColumn),
                     cell(proxy, 1, FleetModel::LastSuccessColumn) }),
            (QSet<QString> { u"never"_s, QString() }));
        QCOMPARE(cell(proxy, 2, FleetModel::LastSuccessColumn), u"2 d 6 h ago"_s);
        QCOMPARE(cell(proxy, 3, FleetModel::LastSuccessColumn), u"7 h 0 min ago"_s);
        QCOMPARE(cell(proxy, 4, FleetModel::LastSuccessColumn), u"6 h 0 min ago"_s);
        QCOMPARE(cell(proxy, 5, FleetModel::LastSuccessColumn), u"2 h 0 min ago"_s);
    }
};

QTEST_MAIN(TestFleetModel)
#include "tst_fleetmodel.moc"
