// FleetModel and FleetFilterProxy, headless, under QAbstractItemModelTester: one row per
// node and job from fleet.summary, the worst status wins, an RPO breach is highlighted, the
// last restore drill and borg check are coloured like statuses with their times in the
// tooltip ("never" when none), a new job inside its RPO grace is pending and says until
// when, a refresh with the same rows updates them in place (the selection survives), a
// failed refresh keeps the rows and says why; the proxy filters by text and "problems only"
// (pending is not a problem) and sorts on the raw values (severity, seconds — "never" the
// stalest).

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
// Six nodes: a warning, a failure with an RPO breach (and a failed restore drill after a
// good one, a borg check with a warning), an offline node that is fine, a node that lists
// no job yet, a job that never succeeded, and a new job inside its RPO grace (pending).
QJsonObject fleetFixture()
{
    return json(R"({
  "generated_at": "2026-11-25T09:00:00.000Z",
  "fleet": {"status": "failed", "nodes": 6, "nodes_online": 5, "jobs": 6, "jobs_ok": 3,
            "jobs_drill_failed": 1, "rpo_breaches": 1, "failures": 3},
  "nodes": [
    {"node": "web-01", "online": true, "last_seen": "2026-11-25T08:59:00.000Z", "status": "warning",
     "jobs": [
       {"job": "home", "repository": "ssh:\/\/borg@repo-01/./web-01", "status": "success",
        "last_status": "success", "last_run_at": "2026-11-25T02:03:10.000Z",
        "last_success_at": "2026-11-25T02:03:10.000Z", "age_seconds": 25200, "rpo_seconds": 93600,
        "rpo_breached": false, "failures_since_success": 0,
        "last_check_status": "success", "last_check_at": "2026-11-24T04:00:00.000Z",
        "last_drill_status": "success", "last_drill_at": "2026-11-24T03:00:48.000Z",
        "last_drill_success_at": "2026-11-24T03:00:48.000Z"},
       {"job": "www", "repository": "ssh:\/\/borg@repo-01/./web-01-www", "status": "warning",
        "last_status": "warning", "last_run_at": "2026-11-25T03:00:00.000Z",
        "last_success_at": "2026-11-25T03:00:00.000Z", "age_seconds": 21600, "rpo_seconds": 93600,
        "rpo_breached": false, "failures_since_success": 0,
        "last_check_status": null, "last_check_at": null,
        "last_drill_status": null, "last_drill_at": null, "last_drill_success_at": null}]},
    {"node": "db-01", "online": true, "last_seen": "2026-11-25T08:58:00.000Z", "status": "failed",
     "jobs": [
       {"job": "pg", "repository": "ssh:\/\/borg@repo-01/./db-01", "status": "failed",
        "last_status": "failed", "last_run_at": "2026-11-25T02:04:00.000Z",
        "last_success_at": "2026-11-23T02:04:00.000Z", "age_seconds": 197760, "rpo_seconds": 93600,
        "rpo_breached": true, "failures_since_success": 2,
        "last_check_status": "warning", "last_check_at": "2026-11-23T04:10:00.000Z",
        "last_drill_status": "failed", "last_drill_at": "2026-11-22T03:05:00.000Z",
        "last_drill_success_at": "2026-11-15T03:04:30.000Z"}]},
    {"node": "mail-01", "online": false, "last_seen": "2026-11-25T08:00:00.000Z", "status": "success",
     "jobs": [
       {"job": "maildir", "repository": "ssh:\/\/borg@repo-01/./mail-01", "status": "success",
        "last_status": "success", "last_run_at": "2026-11-25T07:00:00.000Z",
        "last_success_at": "2026-11-25T07:00:00.000Z", "age_seconds": 7200, "rpo_seconds": 0,
        "rpo_breached": false, "failures_since_success": 0,
        "last_check_status": "success", "last_check_at": "2026-11-22T05:00:00.000Z",
        "last_drill_status": null, "last_drill_at": null, "last_drill_success_at": null}]},
    {"node": "new-01", "online": true, "last_seen": "2026-11-25T08:59:30.000Z", "status": "unknown",
     "jobs": []},
    {"node": "ci-01", "online": true, "last_seen": "2026-11-25T08:59:30.000Z", "status": "unknown",
     "jobs": [
       {"job": "artifacts", "repository": "ssh:\/\/borg@repo-01/./ci-01", "status": "unknown",
        "last_status": null, "last_run_at": null, "last_success_at": null, "age_seconds": null,
        "rpo_seconds": 0, "rpo_breached": false, "failures_since_success": 0}]},
    {"node": "app-01", "online": true, "last_seen": "2026-11-25T08:59:40.000Z", "status": "pending",
     "jobs": [
       {"job": "media", "repository": "ssh:\/\/borg@repo-01/./app-01", "status": "pending",
        "last_status": null, "last_run_at": null, "last_success_at": null, "age_seconds": null,
        "rpo_seconds": 93600, "rpo_breached": false, "rpo_due_at": "2026-11-26T08:30:00.000Z",
        "first_seen_at": "2026-11-25T06:30:00.000Z", "failures_since_success": 0,
        "last_check_status": null, "last_check_at": null,
        "last_drill_status": null, "last_drill_at": null, "last_drill_success_at": null}]}]
})");
}

// The summary with `patch` merged into the job `node`/`job`.
QJsonObject patchedFleet(const QString &node, const QString &job, const QJsonObject &patch)
{
    QJsonObject summary = fleetFixture();
    QJsonArray nodes = summary.value("nodes"_L1).toArray();
    for (qsizetype n = 0; n < nodes.size(); ++n) {
        QJsonObject no = nodes.at(n).toObject();
        if (no.value("node"_L1).toString() != node)
            continue;
        QJsonArray jobs = no.value("jobs"_L1).toArray();
        for (qsizetype i = 0; i < jobs.size(); ++i) {
            QJsonObject jo = jobs.at(i).toObject();
            if (jo.value("job"_L1).toString() != job)
                continue;
            for (auto it = patch.begin(); it != patch.end(); ++it)
                jo.insert(it.key(), it.value());
            jobs.replace(i, jo);
        }
        no.insert(u"jobs"_s, jobs);
        nodes.replace(n, no);
    }
    summary.insert(u"nodes"_s, nodes);
    return summary;
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
        QCOMPARE(model.rowCount(), 7); // 2 + 1 + 1 + 1 (no jobs) + 1 + 1
        QCOMPARE(model.columnCount(), int(FleetModel::ColumnCount));
        QCOMPARE(model.nodes(),
            (QStringList { u"app-01"_s, u"ci-01"_s, u"db-01"_s, u"mail-01"_s, u"new-01"_s,
                u"web-01"_s }));
        QCOMPARE(model.jobs(u"web-01"_s), (QStringList { u"home"_s, u"www"_s }));
        QCOMPARE(model.jobs(u"new-01"_s), QStringList());
        QCOMPARE(model.rowOf(u"db-01"_s, u"pg"_s), 2);
        QCOMPARE(model.rowOf(u"db-01"_s, u"nope"_s), -1);
        QCOMPARE(model.fleetStatus(), u"failed"_s);
        QCOMPARE(model.summaryText(),
            u"Fleet Failed — 6 node(s) (5 online), 3 of 6 job(s) ok, 1 RPO breach(es), 3 failure(s), 1 failed drill(s) · as of 2026-11-25 09:00:00 UTC"_s);
        QCOMPARE(model.headerData(FleetModel::LastDrillColumn, Qt::Horizontal, Qt::DisplayRole),
            QVariant(u"Last drill"_s));
        QCOMPARE(model.headerData(FleetModel::LastCheckColumn, Qt::Horizontal, Qt::DisplayRole),
            QVariant(u"Last check"_s));
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
        // The last restore drill and borg check: the status, "never" below success.
        QTest::newRow("drill success") << u"web-01"_s << u"home"_s
                                       << int(FleetModel::LastDrillColumn) << u"Success"_s
                                       << QVariant(0);
        QTest::newRow("drill failed") << u"db-01"_s << u"pg"_s << int(FleetModel::LastDrillColumn)
                                      << u"Failed"_s << QVariant(4);
        QTest::newRow("never drilled") << u"web-01"_s << u"www"_s
                                       << int(FleetModel::LastDrillColumn) << u"never"_s
                                       << QVariant(-1);
        QTest::newRow("no jobs, no drill") << u"new-01"_s << QString()
                                           << int(FleetModel::LastDrillColumn) << QString()
                                           << QVariant(-1);
        QTest::newRow("check success") << u"mail-01"_s << u"maildir"_s
                                       << int(FleetModel::LastCheckColumn) << u"Success"_s
                                       << QVariant(0);
        QTest::newRow("check warning") << u"db-01"_s << u"pg"_s << int(FleetModel::LastCheckColumn)
                                       << u"Warning"_s << QVariant(2);
        QTest::newRow("never checked") << u"ci-01"_s << u"artifacts"_s
                                       << int(FleetModel::LastCheckColumn) << u"never"_s
                                       << QVariant(-1);
        QTest::newRow("no jobs, no check") << u"new-01"_s << QString()
                                           << int(FleetModel::LastCheckColumn) << QString()
                                           << QVariant(-1);
        // A new job inside its RPO grace.
        QTest::newRow("pending") << u"app-01"_s << u"media"_s << int(FleetModel::StatusColumn)
                                 << u"Pending"_s << QVariant(1);
        QTest::newRow("pending: no backup yet")
            << u"app-01"_s << u"media"_s << int(FleetModel::LastSuccessColumn) << u"never"_s
            << QVariant(std::numeric_limits<qlonglong>::max());
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

    void statusColumnsAreColoured_data()
    {
        QTest::addColumn<QString>("node");
        QTest::addColumn<QString>("job");
        QTest::addColumn<int>("column");
        QTest::addColumn<QString>("status"); // empty: no colour

        QTest::newRow("drill failed")
            << u"db-01"_s << u"pg"_s << int(FleetModel::LastDrillColumn) << u"failed"_s;
        QTest::newRow("drill success")
            << u"web-01"_s << u"home"_s << int(FleetModel::LastDrillColumn) << u"success"_s;
        QTest::newRow("never drilled")
            << u"web-01"_s << u"www"_s << int(FleetModel::LastDrillColumn) << QString();
        QTest::newRow("check warning")
            << u"db-01"_s << u"pg"_s << int(FleetModel::LastCheckColumn) << u"warning"_s;
        QTest::newRow("never checked")
            << u"ci-01"_s << u"artifacts"_s << int(FleetModel::LastCheckColumn) << QString();
        QTest::newRow("no jobs") << u"new-01"_s << QString() << int(FleetModel::LastDrillColumn)
                                 << QString();
        QTest::newRow("pending")
            << u"app-01"_s << u"media"_s << int(FleetModel::StatusColumn) << u"pending"_s;
    }

    void statusColumnsAreColoured()
    {
        QFETCH(QString, node);
        QFETCH(QString, job);
        QFETCH(int, column);
        QFETCH(QString, status);
        FleetModel model;
        model.setSummary(fleetFixture());
        const QModelIndex i = model.index(model.rowOf(node, job), column);
        QVERIFY(i.isValid());
        if (status.isEmpty()) {
            QVERIFY(!i.data(Qt::BackgroundRole).isValid());
            QVERIFY(!i.data(Qt::ForegroundRole).isValid());
            return;
        }
        QCOMPARE(i.data(Qt::BackgroundRole).value<QColor>(), StatusStyle::background(status));
        QCOMPARE(i.data(Qt::ForegroundRole).value<QColor>(), StatusStyle::foreground(status));
        QVERIFY(StatusStyle::background(status).isValid());
    }

    void toolTips_data()
    {
        QTest::addColumn<QString>("node");
        QTest::addColumn<QString>("job");
        QTest::addColumn<QByteArray>("patch"); // merged into the job first
        QTest::addColumn<int>("column");
        QTest::addColumn<QString>("toolTip"); // empty: none

        QTest::newRow("drill failed after a good one")
            << u"db-01"_s << u"pg"_s << QByteArray("{}") << int(FleetModel::LastDrillColumn)
            << u"Last restore drill: Failed, finished 2026-11-22 03:05:00 UTC\n"
               "Last good drill: 2026-11-15 03:04:30 UTC"_s;
        QTest::newRow("drill failed, none good")
            << u"db-01"_s << u"pg"_s << QByteArray(R"({"last_drill_success_at": null})")
            << int(FleetModel::LastDrillColumn)
            << u"Last restore drill: Failed, finished 2026-11-22 03:05:00 UTC\n"
               "Last good drill: never"_s;
        QTest::newRow("drill success")
            << u"web-01"_s << u"home"_s << QByteArray("{}") << int(FleetModel::LastDrillColumn)
            << u"Last restore drill: Success, finished 2026-11-24 03:00:48 UTC\n"
               "Last good drill: 2026-11-24 03:00:48 UTC"_s;
        QTest::newRow("never drilled") << u"web-01"_s << u"www"_s << QByteArray("{}")
                                       << int(FleetModel::LastDrillColumn)
                                       << u"Last restore drill: never"_s;
        QTest::newRow("check warning") << u"db-01"_s << u"pg"_s << QByteArray("{}")
                                       << int(FleetModel::LastCheckColumn)
                                       << u"Last borg check: Warning, finished 2026-11-23 04:10:00 UTC"_s;
        QTest::newRow("never checked") << u"ci-01"_s << u"artifacts"_s << QByteArray("{}")
                                       << int(FleetModel::LastCheckColumn)
                                       << u"Last borg check: never"_s;
        QTest::newRow("no jobs: no drill tip") << u"new-01"_s << QString() << QByteArray("{}")
                                               << int(FleetModel::LastDrillColumn) << QString();
        QTest::newRow("pending status")
            << u"app-01"_s << u"media"_s << QByteArray("{}") << int(FleetModel::StatusColumn)
            << u"new job: first backup due by 2026-11-26 08:30:00 UTC"_s;
        QTest::newRow("pending last success")
            << u"app-01"_s << u"media"_s << QByteArray("{}") << int(FleetModel::LastSuccessColumn)
            << u"new job: first backup due by 2026-11-26 08:30:00 UTC"_s;
        QTest::newRow("pending without a due time")
            << u"app-01"_s << u"media"_s << QByteArray(R"({"rpo_due_at": null})")
            << int(FleetModel::StatusColumn) << u"new job: no backup yet"_s;
        QTest::newRow("not pending: no status tip") << u"web-01"_s << u"home"_s << QByteArray("{}")
                                                    << int(FleetModel::StatusColumn) << QString();
    }

    void toolTips()
    {
        QFETCH(QString, node);
        QFETCH(QString, job);
        QFETCH(QByteArray, patch);
        QFETCH(int, column);
        QFETCH(QString, toolTip);
        FleetModel model;
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setSummary(patchedFleet(node, job, json(patch)));
        const QModelIndex i = model.index(model.rowOf(node, job), column);
        QVERIFY(i.isValid());
        if (toolTip.isEmpty())
            QVERIFY(!i.data(Qt::ToolTipRole).isValid());
        else
            QCOMPARE(i.data(Qt::ToolTipRole).toString(), toolTip);
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
        QCOMPARE(model.rowCount(), 8);
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
        QCOMPARE(model.rowCount(), 7);
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
        QCOMPARE(model.rowCount(), 7);
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
                   u"new-01/"_s, u"ci-01/artifacts"_s, u"app-01/media"_s };
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
        QTest::newRow("pending shown") << u"app-01"_s << false << QStringList { u"app-01/media"_s };
        QTest::newRow("pending is not a problem") << u"app-01"_s << true << QStringList();
        QTest::newRow("by drill status")
            << u"fail"_s << false << QStringList { u"db-01/pg"_s }; // status and last drill
        QTest::newRow("never (drilled, checked, succeeded)")
            << u"never"_s << false
            << QStringList { u"web-01/www"_s, u"mail-01/maildir"_s, u"ci-01/artifacts"_s,
                   u"app-01/media"_s };
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
        // The three rows without a good backup (two jobs that never had one, a node without
        // jobs) come first, in any order.
        QCOMPARE((QStringList { cell(proxy, 0, FleetModel::LastSuccessColumn),
                      cell(proxy, 1, FleetModel::LastSuccessColumn),
                      cell(proxy, 2, FleetModel::LastSuccessColumn) })
                     .count(u"never"_s),
            2);
        QCOMPARE(cell(proxy, 3, FleetModel::LastSuccessColumn), u"2 d 6 h ago"_s);
        QCOMPARE(cell(proxy, 4, FleetModel::LastSuccessColumn), u"7 h 0 min ago"_s);
        QCOMPARE(cell(proxy, 5, FleetModel::LastSuccessColumn), u"6 h 0 min ago"_s);
        QCOMPARE(cell(proxy, 6, FleetModel::LastSuccessColumn), u"2 h 0 min ago"_s);

        // By the last drill, worst first: the failed drill, the good one, then the jobs never
        // drilled (and the node without jobs).
        proxy.sort(FleetModel::LastDrillColumn, Qt::DescendingOrder);
        QCOMPARE(cell(proxy, 0, FleetModel::JobColumn), u"pg"_s);
        QCOMPARE(cell(proxy, 1, FleetModel::JobColumn), u"home"_s);
        for (int r = 2; r < proxy.rowCount(); ++r)
            QVERIFY(QStringList({ u"never"_s, QString() })
                        .contains(cell(proxy, r, FleetModel::LastDrillColumn)));
        // By the last check: warning above success.
        proxy.sort(FleetModel::LastCheckColumn, Qt::DescendingOrder);
        QCOMPARE(cell(proxy, 0, FleetModel::LastCheckColumn), u"Warning"_s);
        QCOMPARE(cell(proxy, 1, FleetModel::LastCheckColumn), u"Success"_s);
        QCOMPARE(cell(proxy, 2, FleetModel::LastCheckColumn), u"Success"_s);
    }
};

QTEST_MAIN(TestFleetModel)
#include "tst_fleetmodel.moc"
