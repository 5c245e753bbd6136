// The console's read-only screens against the real orchestrator and broker (ConsoleRig):
// the fleet dashboard shows every node and job of the demo fleet with the worst status
// first, the RPO breach, the offline node, the last restore drill (a failed one after a
// good one) and borg check, filters; the run history pages through the real
// runs.query and shows a run's details (steps, error, log tail) from run.get; the charts
// plot the good backups; the commands log lists what was issued; File → Export writes the
// orchestrator's CSV report; a viewer still sees all of it.

#include "chartsview.h"
#include "commandsmodel.h"
#include "commandsview.h"
#include "consolerig.h"
#include "fleetfilterproxy.h"
#include "fleetmodel.h"
#include "fleetview.h"
#include "mainwindow.h"
#include "rundetails.h"
#include "runhistorymodel.h"
#include "runhistoryview.h"
#include "runseriesmodel.h"
#include "statusstyle.h"
#include "uifind.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTest>

using namespace sparky;
using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace sparky::test;
using namespace Qt::StringLiterals;

class TestConsoleDashboard : public QObject
{
    Q_OBJECT

    std::unique_ptr<ConsoleRig> m_rig;

    MainWindow *window() const { return m_rig->window(); }
    QTableView *fleetTable() const { return child<QTableView>(window(), u"fleetTable"_s); }
    QString message() const { return child<QLabel>(window(), u"messageLabel"_s)->text(); }

    void selectFleetRow(const QString &node, const QString &job)
    {
        const int row = rowOf(fleetTable(), node, job);
        QVERIFY2(row >= 0, qPrintable(node + u'/' + job));
        fleetTable()->selectRow(row);
        QCOMPARE(window()->fleetView()->selectedNode(), node);
        QCOMPARE(window()->fleetView()->selectedJob(), job);
    }

private Q_SLOTS:
    void initTestCase()
    {
        auto rig = ConsoleRig::create();
        QVERIFY2(rig, qPrintable(rig ? QString() : rig.error().toString()));
        m_rig = std::move(*rig);
    }

    void cleanupTestCase() { m_rig.reset(); }

    void connectsAsTheProfilesUser()
    {
        const QString state = child<QLabel>(window(), u"connectionLabel"_s)->text();
        QVERIFY2(state.startsWith(u"connected to "_s) && state.endsWith(u" as sparky-operator"_s),
            qPrintable(state));
        QCOMPARE(window()->windowTitle(), u"sparky-for-backup — test"_s);
        QVERIFY(window()->isVisible());
        QCOMPARE(m_rig->profiles()->defaultProfile(), u"test"_s); // remembered as the last used
    }

    void fleetShowsNodesAndWorstStatus()
    {
        FleetModel *fleet = window()->fleetModel();
        QCOMPARE(
            fleet->nodes(), (QStringList { u"db-01"_s, u"files-01"_s, u"mail-01"_s, u"web-01"_s }));
        QCOMPARE(fleet->rowCount(), 6);
        QCOMPARE(fleet->fleetStatus(), u"failed"_s);
        const QString summary = child<QLabel>(window(), u"fleetSummary"_s)->text();
        QVERIFY2(
            summary.startsWith(u"Fleet Failed — 4 node(s) (3 online), "_s), qPrintable(summary));
        QVERIFY2(summary.contains(u", 1 RPO breach(es), "_s), qPrintable(summary));
        QVERIFY2(summary.contains(u", 1 failed drill(s)"_s), qPrintable(summary));

        // Worst first: the failed database job on top, its stale last success highlighted.
        QTableView *table = fleetTable();
        QCOMPARE(cellText(table, 0, FleetModel::NodeColumn), u"db-01"_s);
        QCOMPARE(cellText(table, 0, FleetModel::JobColumn), u"pg"_s);
        QCOMPARE(cellText(table, 0, FleetModel::StatusColumn), u"Failed"_s);
        QCOMPARE(cellText(table, 0, FleetModel::FailuresColumn), u"2"_s);
        QVERIFY2(cellText(table, 0, FleetModel::LastSuccessColumn).startsWith(u"2 d "_s),
            qPrintable(cellText(table, 0, FleetModel::LastSuccessColumn)));
        QCOMPARE(table->model()
                     ->index(0, FleetModel::LastSuccessColumn)
                     .data(Qt::BackgroundRole)
                     .value<QColor>(),
            StatusStyle::staleBackground());
        QCOMPARE(cellText(table, 1, FleetModel::StatusColumn), u"Cancelled"_s);
        QCOMPARE(cellText(table, 1, FleetModel::NodeColumn), u"files-01"_s);
        QCOMPARE(cellText(table, 2, FleetModel::StatusColumn), u"Warning"_s);
        QCOMPARE(cellText(table, 2, FleetModel::JobColumn), u"www"_s);

        const int mail = rowOf(table, u"mail-01"_s, u"maildir"_s);
        QVERIFY(mail >= 0);
        QCOMPARE(cellText(table, mail, FleetModel::OnlineColumn), u"offline"_s);
        QCOMPARE(cellText(table, mail, FleetModel::StatusColumn), u"Success"_s);
        QCOMPARE(cellText(table, mail, FleetModel::RpoColumn), u"26 h 0 min"_s);
        const int home = rowOf(table, u"web-01"_s, u"home"_s);
        QCOMPARE(cellText(table, home, FleetModel::OnlineColumn), u"online"_s);
        QVERIFY2(cellText(table, home, FleetModel::LastSuccessColumn).endsWith(u" h 0 min ago"_s)
                || cellText(table, home, FleetModel::LastSuccessColumn).contains(u" min ago"_s),
            qPrintable(cellText(table, home, FleetModel::LastSuccessColumn)));
        QCOMPARE(cellText(table, home, FleetModel::RepositoryColumn),
            u"ssh://borg@repo-01.example.net/./web-01-home"_s);

        // The last restore drill: db-01/pg's failed after a good one a week before, in the
        // failed colour, both times in the tooltip; web-01/home's are good; never for the rest.
        const DemoFleet::Job *pg = m_rig->fleet()->job(u"db-01"_s, u"pg"_s);
        auto drillEnd = [&](int archiveIndex) {
            return m_rig->fleet()
                ->runStart(*pg, archiveIndex)
                .addSecs(3600 + 48)
                .toString(u"yyyy-MM-dd HH:mm:ss"_s);
        };
        const QModelIndex pgDrill = table->model()->index(0, FleetModel::LastDrillColumn);
        QCOMPARE(pgDrill.data().toString(), u"Failed"_s);
        QCOMPARE(pgDrill.data(Qt::BackgroundRole).value<QColor>(),
            StatusStyle::background(u"failed"_s));
        QCOMPARE(pgDrill.data(Qt::ToolTipRole).toString(),
            u"Last restore drill: Failed, finished %1 UTC\nLast good drill: %2 UTC"_s.arg(
                drillEnd(3), drillEnd(10)));
        QCOMPARE(cellText(table, home, FleetModel::LastDrillColumn), u"Success"_s);
        QCOMPARE(table->model()
                     ->index(home, FleetModel::LastDrillColumn)
                     .data(Qt::BackgroundRole)
                     .value<QColor>(),
            StatusStyle::background(u"success"_s));
        QCOMPARE(cellText(table, mail, FleetModel::LastDrillColumn), u"never"_s);
        // The last borg check: db-01/etc's was good; web-01/home never had one.
        const int etc = rowOf(table, u"db-01"_s, u"etc"_s);
        QVERIFY(etc >= 0);
        QCOMPARE(cellText(table, etc, FleetModel::LastCheckColumn), u"Success"_s);
        QVERIFY2(table->model()
                     ->index(etc, FleetModel::LastCheckColumn)
                     .data(Qt::ToolTipRole)
                     .toString()
                     .startsWith(u"Last borg check: Success, finished "_s),
            qPrintable(table->model()
                    ->index(etc, FleetModel::LastCheckColumn)
                    .data(Qt::ToolTipRole)
                    .toString()));
        QCOMPARE(cellText(table, home, FleetModel::LastCheckColumn), u"never"_s);
        QCOMPARE(cellText(table, etc, FleetModel::StatusColumn), u"Success"_s);
    }

    void fleetFilters()
    {
        QTableView *table = fleetTable();
        auto *problems = child<QCheckBox>(window(), u"fleetProblemsOnly"_s);
        problems->setChecked(true);
        // Not success, past the RPO, or offline: pg, projects, www, maildir.
        QCOMPARE(table->model()->rowCount(), 4);
        QCOMPARE(rowOf(table, u"web-01"_s, u"home"_s), -1);
        QCOMPARE(rowOf(table, u"db-01"_s, u"etc"_s), -1);
        problems->setChecked(false);
        auto *filter = child<QLineEdit>(window(), u"fleetFilter"_s);
        QTest::keyClicks(filter, u"db-01"_s);
        QCOMPARE(table->model()->rowCount(), 2);
        filter->clear();
        QCOMPARE(table->model()->rowCount(), 6);
    }

    void refreshKeepsTheSelection()
    {
        selectFleetRow(u"web-01"_s, u"www"_s);
        QSignalSpy refreshed(window()->fleetModel(), &FleetModel::refreshed);
        QSignalSpy reset(window()->fleetModel(), &QAbstractItemModel::modelReset);
        QTest::mouseClick(child<QPushButton>(window(), u"fleetRefreshButton"_s), Qt::LeftButton);
        QVERIFY(refreshed.wait(20000));
        QCOMPARE(reset.count(), 0);
        QCOMPARE(window()->fleetView()->selectedJob(), u"www"_s);
    }

    void historyWithDetails()
    {
        selectFleetRow(u"db-01"_s, u"pg"_s);
        RunHistoryView *runs = window()->runHistoryView();
        QSignalSpy pages(runs->model(), &RunHistoryModel::pageLoaded);
        QSignalSpy details(runs->details(), &RunDetails::loaded);
        QTest::mouseClick(child<QPushButton>(window(), u"fleetHistoryButton"_s), Qt::LeftButton);
        QCOMPARE(window()->findChild<QTabWidget *>(u"mainTabs"_s)->currentWidget(), runs);
        QCOMPARE(runs->currentFilter().node, u"db-01"_s);
        QCOMPARE(runs->currentFilter().job, u"pg"_s);
        QVERIFY(pages.wait(20000));
        QCOMPARE(runs->model()->rowCount(), 32); // 30 backups and 2 drills
        QVERIFY(!runs->model()->hasMore());
        QCOMPARE(child<QLabel>(runs, u"runCount"_s)->text(), u"32 run(s) loaded"_s);

        // The newest run is selected and its details come from run.get.
        QTableView *table = child<QTableView>(runs, u"runTable"_s);
        QCOMPARE(cellText(table, 0, RunHistoryModel::StatusColumn), u"Failed"_s);
        QCOMPARE(cellText(table, 0, RunHistoryModel::ErrorColumn),
            u"dump:app: pg_dump: error: connection to server at \"127.0.0.1\", port 5432 failed: Connection refused"_s);
        QTRY_VERIFY_WITH_TIMEOUT(!details.isEmpty() && !runs->details()->isLoading(), 20000);
        QVERIFY2(child<QLabel>(runs, u"runHeadline"_s)
                     ->text()
                     .startsWith(u"backup of db-01/pg — Failed (trigger schedule), started "_s),
            qPrintable(child<QLabel>(runs, u"runHeadline"_s)->text()));
        QCOMPARE(child<QLabel>(runs, u"runError"_s)->text(),
            u"step dump:app: pg_dump: error: connection to server at \"127.0.0.1\", port 5432 failed: Connection refused"_s);
        QTableView *steps = child<QTableView>(runs, u"runStepsTable"_s);
        QCOMPARE(steps->model()->rowCount(), 1);
        QCOMPARE(cellText(steps, 0, 0), u"dump:app"_s);
        QCOMPARE(cellText(steps, 0, 1), u"Failed"_s);
        QVERIFY(child<QPlainTextEdit>(runs, u"runLogTail"_s)
                    ->toPlainText()
                    .contains(u"the archive was not created"_s));

        // A good run: its archive and sizes, all its steps.
        details.clear();
        QCOMPARE(cellText(table, 2, RunHistoryModel::KindColumn), u"backup"_s);
        QCOMPARE(cellText(table, 2, RunHistoryModel::StatusColumn), u"Success"_s);
        table->selectRow(2);
        QTRY_VERIFY_WITH_TIMEOUT(!details.isEmpty() && !runs->details()->isLoading(), 20000);
        const QString stats = child<QLabel>(runs, u"runStats"_s)->text();
        QVERIFY2(stats.startsWith(u"Archive db-01-pg-"_s) && stats.contains(u"GiB"_s)
                && stats.contains(u" files"_s),
            qPrintable(stats));
        QCOMPARE(steps->model()->rowCount(), 4);
        QVERIFY(child<QLabel>(runs, u"runError"_s)->text().isEmpty());
        QVERIFY(child<QPlainTextEdit>(runs, u"runLogTail"_s)
                    ->toPlainText()
                    .contains(u"terminating with success status"_s));
    }

    void historyPagesAsItScrolls()
    {
        window()->showPage(MainWindow::Page::Runs);
        RunHistoryView *runs = window()->runHistoryView();
        QSignalSpy pages(runs->model(), &RunHistoryModel::pageLoaded);
        runs->showFor(QString(), QString()); // every node and job
        QVERIFY(pages.wait(20000));
        QCOMPARE(runs->model()->rowCount(), 50);
        QVERIFY(runs->model()->hasMore());
        QCOMPARE(child<QLabel>(runs, u"runCount"_s)->text(),
            u"50 run(s) loaded; more load as you scroll"_s);
        QTableView *table = child<QTableView>(runs, u"runTable"_s);
        const int all = m_rig->fleet()->runCount();
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                table->scrollToBottom();
                return runs->model()->rowCount() == all && !runs->model()->hasMore();
            }(),
            30000);
        QCOMPARE(runs->model()->pagesLoaded(), (all + 49) / 50);
        QCOMPARE(child<QLabel>(runs, u"runCount"_s)->text(), u"%1 run(s) loaded"_s.arg(all));

        // Filters go to the orchestrator: the failed runs of the whole fleet (two backups
        // and a drill).
        child<QComboBox>(runs, u"runStatusFilter"_s)->setCurrentText(u"failed"_s);
        pages.clear();
        QTest::mouseClick(child<QPushButton>(runs, u"runApplyFilter"_s), Qt::LeftButton);
        QVERIFY(pages.wait(20000));
        QCOMPARE(runs->model()->rowCount(), 3);
        for (int r = 0; r < 3; ++r)
            QCOMPARE(cellText(table, r, RunHistoryModel::NodeColumn), u"db-01"_s);
        QCOMPARE(cellText(table, 2, RunHistoryModel::KindColumn), u"drill"_s);
        child<QComboBox>(runs, u"runKindFilter"_s)->setCurrentText(u"drill"_s);
        child<QComboBox>(runs, u"runStatusFilter"_s)->setCurrentText(QString());
        pages.clear();
        runs->apply();
        QVERIFY(pages.wait(20000));
        QCOMPARE(runs->model()->rowCount(), 6); // 4 of web-01/home, 2 of db-01/pg
        QCOMPARE(cellText(table, 0, RunHistoryModel::KindColumn), u"drill"_s);
        // A drill's details say what it checked.
        QTRY_VERIFY_WITH_TIMEOUT(child<QLabel>(runs, u"runStats"_s)
                                     ->text()
                                     .endsWith(u"25 sampled files checked, all match"_s),
            20000);
    }

    void badFilterIsExplainedNotSent()
    {
        RunHistoryView *runs = window()->runHistoryView();
        child<QComboBox>(runs, u"runFilterNode"_s)->setCurrentText(u"Not A Node"_s);
        const int calls = runs->model()->pagesLoaded();
        runs->apply();
        QCOMPARE(message().section(u"] "_s, 1),
            u"Run history filter: node: 'Not A Node' is not a valid node id"_s);
        QCOMPARE(runs->model()->pagesLoaded(), calls);
        child<QComboBox>(runs, u"runFilterNode"_s)->setCurrentText(QString());
    }

    void chartsPlotTheGoodBackups()
    {
        window()->showPage(MainWindow::Page::Fleet);
        selectFleetRow(u"web-01"_s, u"home"_s);
        ChartsView *charts = window()->chartsView();
        QSignalSpy loaded(charts->model(), &RunSeriesModel::loaded);
        QTest::mouseClick(child<QPushButton>(window(), u"fleetChartsButton"_s), Qt::LeftButton);
        QCOMPARE(window()->findChild<QTabWidget *>(u"mainTabs"_s)->currentWidget(), charts);
        QVERIFY(loaded.wait(20000));
        QCOMPARE(charts->pointCount(), 30);
        const QString status = child<QLabel>(charts, u"chartStatus"_s)->text();
        QVERIFY2(
            status.startsWith(u"30 good backup(s) of web-01/home from "_s), qPrintable(status));

        // The failed runs of db-01/pg are not points; a shorter window has fewer.
        charts->showFor(u"db-01"_s, u"pg"_s);
        QVERIFY(loaded.wait(20000));
        QCOMPARE(charts->pointCount(), 28);
        child<QComboBox>(charts, u"chartWindow"_s)->setCurrentIndex(0); // 7 days
        charts->load();
        QVERIFY(loaded.wait(20000));
        QCOMPARE(charts->pointCount(), 5); // days 2 … 6 ago (the last two failed)
    }

    void commandsLogListsWhatWasIssued()
    {
        // An operator starts a backup of the offline node from elsewhere (the CLI): it waits
        // in the node's queue.
        auto call = m_rig->orchestrator()->call(
            u"backup.start"_s, { { u"node"_s, u"mail-01"_s }, { u"job"_s, u"maildir"_s } });
        QVERIFY2(call->isOk(), qPrintable(describeCall(*call)));
        CommandsView *commands = window()->commandsView();
        window()->showPage(MainWindow::Page::Commands);
        QSignalSpy pages(commands->model(), &CommandsModel::pageLoaded);
        QTest::mouseClick(child<QPushButton>(commands, u"commandsRefresh"_s), Qt::LeftButton);
        QVERIFY(pages.wait(20000));
        QTableView *table = child<QTableView>(commands, u"commandsTable"_s);
        const int row = rowOf(table, u"mail-01"_s);
        QVERIFY(row >= 0);
        QCOMPARE(cellText(table, row, CommandsModel::TypeColumn), u"backup.run"_s);
        QCOMPARE(cellText(table, row, CommandsModel::IssuedByColumn), u"sparky-operator"_s);
        QCOMPARE(cellText(table, row, CommandsModel::ParamsColumn), u"{\"job\":\"maildir\"}"_s);
        QVERIFY2(QStringList({ u"pending"_s, u"published"_s })
                     .contains(cellText(table, row, CommandsModel::StateColumn)),
            qPrintable(cellText(table, row, CommandsModel::StateColumn)));

        // The state filter asks the orchestrator again.
        pages.clear();
        child<QComboBox>(commands, u"commandsStateFilter"_s)->setCurrentText(u"succeeded"_s);
        QVERIFY(pages.wait(20000));
        QCOMPARE(rowOf(table, u"mail-01"_s), -1);
    }

    void exportWritesTheOrchestratorsReport()
    {
        const QString file = m_rig->tempPath(u"fleet.csv"_s);
        m_rig->dialogs()->setSaveFileName(file);
        child<QAction>(window(), u"exportAction"_s)->trigger();
        QCOMPARE(m_rig->dialogs()->saveQuestions(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(message().contains(u"report exported to "_s), 20000);
        QVERIFY2(
            message().contains(file) && message().contains(u"(csv, "_s), qPrintable(message()));
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString csv = QString::fromUtf8(f.readAll());
        QVERIFY2(csv.startsWith(u"node,"_s), qPrintable(csv.left(200)));
        for (const QString &node : DemoFleet::nodes())
            QVERIFY2(csv.contains(node), qPrintable(node));

        // Cancelled in the file dialog: nothing happens.
        m_rig->dialogs()->setSaveFileName(QString());
        child<QAction>(window(), u"exportAction"_s)->trigger();
        QCOMPARE(m_rig->dialogs()->saveQuestions(), 2);
    }

    void keyboardReachesEveryPage()
    {
        window()->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(window()));
        auto *tabs = window()->findChild<QTabWidget *>(u"mainTabs"_s);
        const QList<std::pair<Qt::Key, MainWindow::Page>> keys {
            { Qt::Key_3, MainWindow::Page::Charts }, { Qt::Key_6, MainWindow::Page::Commands },
            { Qt::Key_5, MainWindow::Page::Archives }, { Qt::Key_4, MainWindow::Page::RunNow },
            { Qt::Key_2, MainWindow::Page::Runs }, { Qt::Key_1, MainWindow::Page::Fleet }
        };
        for (const auto &[key, page] : keys) {
            QTest::keyClick(window(), key, Qt::ControlModifier);
            QCOMPARE(tabs->currentWidget(), window()->page(page));
        }

        // Enter on a fleet row opens its history, like a double click.
        QTableView *table = fleetTable();
        table->setFocus();
        table->setCurrentIndex(
            table->model()->index(rowOf(table, u"files-01"_s, u"projects"_s), 0));
        RunHistoryView *runs = window()->runHistoryView();
        QSignalSpy pages(runs->model(), &RunHistoryModel::pageLoaded);
        QTest::keyClick(table, Qt::Key_Return);
        QCOMPARE(tabs->currentWidget(), runs);
        QCOMPARE(runs->currentFilter().node, u"files-01"_s);
        QCOMPARE(runs->currentFilter().job, u"projects"_s);
        QVERIFY(pages.wait(20000));
        QCOMPARE(runs->model()->rowCount(), 14);
    }

    void viewerSeesEverything()
    {
        m_rig->setRole(orchestrator::Role::Viewer);
        QSignalSpy refreshed(window()->fleetModel(), &FleetModel::refreshed);
        child<QAction>(window(), u"refreshAction"_s)->trigger();
        QVERIFY(refreshed.wait(20000));
        QCOMPARE(window()->fleetModel()->rowCount(), 6);
        RunHistoryView *runs = window()->runHistoryView();
        QSignalSpy pages(runs->model(), &RunHistoryModel::pageLoaded);
        runs->showFor(u"web-01"_s, u"home"_s);
        QVERIFY(pages.wait(20000));
        QCOMPARE(runs->model()->rowCount(), 34); // 30 backups and 4 drills
        m_rig->setRole(orchestrator::Role::Operator);
    }
};

QTEST_MAIN(TestConsoleDashboard)
#include "tst_console_dashboard.moc"
