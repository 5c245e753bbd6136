// Run now against the real orchestrator and broker (ConsoleRig): from the dashboard to the
// Run now page, backup.start signs a backup.run for the agent, and the page follows the
// command and its run — queued, running with progress, finished — until the result shows
// and the dashboard refreshes; cancel asks first and sends backup.cancel for the run; a
// viewer gets the orchestrator's refusal on the page and in the status bar, and nothing
// reaches the agent; an offline node is warned about.

#include "commandfollower.h"
#include "consolerig.h"
#include "fleetmodel.h"
#include "fleetview.h"
#include "mainwindow.h"
#include "runnowview.h"
#include "uifind.h"

#include <QComboBox>
#include <QLabel>
#include <QProgressBar>
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
namespace proto = sparky::protocol;
using Reply = AgentResponder::Reply;
using Phase = CommandFollower::Phase;

class TestConsoleRunNow : public QObject
{
    Q_OBJECT

    std::unique_ptr<ConsoleRig> m_rig;

    MainWindow *window() const { return m_rig->window(); }
    RunNowView *page() const { return window()->runNowView(); }
    QString message() const { return child<QLabel>(window(), u"messageLabel"_s)->text(); }
    int received(const QString &type) const
    {
        int n = 0;
        for (const Envelope &e : m_rig->agent()->received())
            n += e.type == type;
        return n;
    }

private Q_SLOTS:
    void initTestCase()
    {
        auto rig = ConsoleRig::create();
        QVERIFY2(rig, qPrintable(rig ? QString() : rig.error().toString()));
        m_rig = std::move(*rig);
        page()->follower()->setPollInterval(std::chrono::milliseconds(150));
    }

    void cleanupTestCase() { m_rig.reset(); }

    void runNowFollowsTheBackup()
    {
        Reply backup = Reply::run(proto::RunKind::Backup);
        backup.progressEvents = 3;
        backup.step = std::chrono::milliseconds(800);
        m_rig->agent()->script(QString(proto::type::BackupRun), backup);

        // From the dashboard: select web-01/home, "Run now…" opens the page for it.
        QTableView *fleet = child<QTableView>(window(), u"fleetTable"_s);
        fleet->selectRow(rowOf(fleet, u"web-01"_s, u"home"_s));
        QTest::mouseClick(child<QPushButton>(window(), u"fleetRunNowButton"_s), Qt::LeftButton);
        QCOMPARE(window()->findChild<QTabWidget *>(u"mainTabs"_s)->currentWidget(), page());
        QCOMPARE(child<QComboBox>(page(), u"runNowNode"_s)->currentText(), u"web-01"_s);
        QCOMPARE(child<QComboBox>(page(), u"runNowJob"_s)->currentText(), u"home"_s);

        QSignalSpy finished(page(), &RunNowView::runFinished);
        QSignalSpy refreshed(window()->fleetModel(), &FleetModel::refreshed);
        auto *start = child<QPushButton>(page(), u"runNowStart"_s);
        auto *progress = child<QProgressBar>(page(), u"runNowProgress"_s);
        auto *state = child<QLabel>(page(), u"runNowState"_s);
        QTest::mouseClick(start, Qt::LeftButton);
        QVERIFY(!start->isEnabled()); // one run at a time from this page

        // Running, with the agent's progress in words and in the bar (a percentage of the
        // last good backup's 6.8 GiB: still 0 %, the bytes so far shown beside it).
        QTRY_COMPARE_WITH_TIMEOUT(page()->follower()->phase(), Phase::Running, 20000);
        QTRY_VERIFY_WITH_TIMEOUT(state->text().contains(u" files (step extract)"_s), 20000);
        QVERIFY2(state->text().startsWith(u"run r-web-01-"_s)
                && state->text().contains(u" is running: "_s),
            qPrintable(state->text()));
        QCOMPARE(progress->maximum(), 100);
        QVERIFY2(progress->format().endsWith(u" KiB"_s), qPrintable(progress->format()));
        QVERIFY(child<QPushButton>(page(), u"runNowCancel"_s)->isEnabled());

        QVERIFY(finished.wait(20000));
        QCOMPARE(finished.first().at(0).toBool(), true);
        const QString result = child<QLabel>(page(), u"runNowResult"_s)->text();
        QVERIFY2(result.startsWith(u"backup run r-web-01-"_s)
                && result.contains(u" on 'web-01' finished: Success after "_s),
            qPrintable(result));
        QCOMPARE(progress->value(), 100);
        QCOMPARE(progress->format(), u"done"_s);
        QVERIFY(start->isEnabled());
        QVERIFY(!child<QPushButton>(page(), u"runNowCancel"_s)->isEnabled());
        QCOMPARE(message().section(u"] "_s, 1), result);
        QTRY_VERIFY_WITH_TIMEOUT(!refreshed.isEmpty(), 20000); // the dashboard asks again

        // What really happened: one signed backup.run reached the agent; the store has the run.
        QCOMPARE(received(u"backup.run"_s), 1);
        QCOMPARE(m_rig->agent()->received().last().body, (QJsonObject { { u"job"_s, u"home"_s } }));
        QVERIFY(m_rig->agent()->verifyFailures().isEmpty());
        QCOMPARE(m_rig->orchestrator()->text(u"SELECT status FROM runs WHERE run_id = ?"_s,
                     { page()->follower()->runId() }),
            u"success"_s);
        QCOMPARE(m_rig->orchestrator()->text(u"SELECT issued_by FROM commands WHERE id = ?"_s,
                     { page()->follower()->commandId() }),
            u"sparky-operator"_s);
    }

    void cancelAsksThenSendsBackupCancel()
    {
        Reply backup = Reply::run(proto::RunKind::Backup);
        backup.progressEvents = 8;
        backup.step = std::chrono::milliseconds(700);
        m_rig->agent()->script(QString(proto::type::BackupRun), backup);
        page()->select(u"web-01"_s, u"www"_s);
        QSignalSpy finished(page(), &RunNowView::runFinished);
        QTest::mouseClick(child<QPushButton>(page(), u"runNowStart"_s), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(page()->follower()->phase(), Phase::Running, 20000);
        auto *cancel = child<QPushButton>(page(), u"runNowCancel"_s);

        // "No": nothing is sent.
        m_rig->dialogs()->queueConfirm(false);
        QTest::mouseClick(cancel, Qt::LeftButton);
        QCOMPARE(m_rig->dialogs()->confirms().size(), 1);
        QCOMPARE(m_rig->dialogs()->confirms().last().text,
            u"Cancel run %1 on node web-01? borg stops; the archive of this run is not written."_s
                .arg(page()->follower()->runId()));
        QVERIFY(cancel->isEnabled());

        // "Yes": backup.cancel for this run reaches the agent.
        m_rig->dialogs()->queueConfirm(true);
        QTest::mouseClick(cancel, Qt::LeftButton);
        QVERIFY(!cancel->isEnabled());
        QTRY_COMPARE_WITH_TIMEOUT(received(u"backup.cancel"_s), 1, 20000);
        const Envelope sent = m_rig->agent()->received().last();
        QCOMPARE(sent.body.value("run_id"_L1).toString(), page()->follower()->runId());
        QVERIFY(finished.wait(30000)); // (this responder lets the run end anyway)
    }

    void viewerCannotRunABackup()
    {
        m_rig->setRole(orchestrator::Role::Viewer);
        const int before = received(u"backup.run"_s);
        page()->select(u"web-01"_s, u"home"_s);
        QSignalSpy finished(page(), &RunNowView::runFinished);
        QTest::mouseClick(child<QPushButton>(page(), u"runNowStart"_s), Qt::LeftButton);
        QVERIFY(finished.wait(20000));
        m_rig->setRole(orchestrator::Role::Operator);
        const QString expected
            = u"backup.start: Not allowed — user 'sparky-operator' (role viewer) may not call backup.start: it needs the operator role"_s;
        QCOMPARE(finished.first().at(0).toBool(), false);
        QCOMPARE(child<QLabel>(page(), u"runNowResult"_s)->text(), expected);
        QCOMPARE(message().section(u"] "_s, 1), expected);
        QVERIFY(child<QLabel>(window(), u"messageLabel"_s)
                    ->styleSheet()
                    .contains(u"bold"_s)); // shown as an error
        QCOMPARE(page()->follower()->phase(), Phase::Failed);
        QCOMPARE(child<QProgressBar>(page(), u"runNowProgress"_s)->value(), 0);
        QVERIFY(child<QPushButton>(page(), u"runNowStart"_s)->isEnabled());
        QCOMPARE(received(u"backup.run"_s), before);
        QCOMPARE(
            m_rig->orchestrator()->count(
                u"SELECT COUNT(*) FROM audit_log WHERE method = 'backup.start' AND ok = 0 AND role = 'viewer'"_s),
            1);
    }

    void offlineNodeIsWarnedAbout()
    {
        page()->select(u"mail-01"_s, u"maildir"_s);
        QTest::mouseClick(child<QPushButton>(page(), u"runNowStart"_s), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(
            !child<QLabel>(page(), u"runNowWarning"_s)->text().isEmpty(), 20000);
        const QString warning = child<QLabel>(page(), u"runNowWarning"_s)->text();
        QVERIFY2(warning.startsWith(u"node 'mail-01' is offline: nothing heard from it since "_s)
                && warning.contains(u"the command waits in its queue until it expires at"_s),
            qPrintable(warning));
        QTRY_VERIFY_WITH_TIMEOUT(child<QLabel>(page(), u"runNowState"_s)
                                     ->text()
                                     .contains(u"waiting for node 'mail-01'"_s),
            20000);
        QCOMPARE(page()->follower()->phase(), Phase::Queued);
        // Nothing to cancel before the agent starts it: the button stays off.
        QVERIFY(!child<QPushButton>(page(), u"runNowCancel"_s)->isEnabled());
        page()->follower()->reset();
    }

    void chooseANodeFirst()
    {
        page()->select(QString(), QString());
        QTest::mouseClick(child<QPushButton>(page(), u"runNowStart"_s), Qt::LeftButton);
        QCOMPARE(message().section(u"] "_s, 1), u"Run now: choose a node and a job"_s);
        QCOMPARE(page()->follower()->phase(), Phase::Idle);
    }
};

QTEST_MAIN(TestConsoleRunNow)
#include "tst_console_runnow.moc"
