// Every main screen of the console, rendered offscreen against the real orchestrator and
// broker with the demo fleet, and checked for being a real picture (the window's size, many
// colours, text drawn with a real font). With SPARKY_SCREENSHOT_DIR set, the PNGs go there —
// that is how docs/images/ is made:
//
//   SPARKY_SCREENSHOT_DIR=$PWD/docs/images ctest --test-dir build -R tst_gui_console_screenshots
//
// Without it they go to a temporary directory and are thrown away.

#include "archivebrowsemodel.h"
#include "archivebrowserview.h"
#include "archivelistmodel.h"
#include "chartsview.h"
#include "commandfollower.h"
#include "commandsmodel.h"
#include "commandsview.h"
#include "consolerig.h"
#include "fleetmodel.h"
#include "fleetview.h"
#include "mainwindow.h"
#include "profiledialog.h"
#include "restoredialog.h"
#include "rundetails.h"
#include "runhistorymodel.h"
#include "runhistoryview.h"
#include "runnowview.h"
#include "runseriesmodel.h"
#include "uifind.h"

#include <QDir>
#include <QFontDatabase>
#include <QGroupBox>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSet>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;
using Reply = AgentResponder::Reply;
using Phase = CommandFollower::Phase;

class TestConsoleScreenshots : public QObject
{
    Q_OBJECT

    std::unique_ptr<ConsoleRig> m_rig;
    QTemporaryDir m_tmp;
    QString m_dir;
    QList<Envelope> m_backupCommands; // backup.run commands the agent got (for run now)

    MainWindow *window() const { return m_rig->window(); }

    // Renders `w` to <dir>/<name>.png and checks it is a real picture.
    void shoot(QWidget *w, const QString &name, QSize expected = {})
    {
        QCoreApplication::processEvents();
        const QImage image = w->grab().toImage();
        QVERIFY2(!image.isNull(), qPrintable(name));
        if (expected.isValid())
            QCOMPARE(image.size(), expected);
        QVERIFY2(image.width() >= 400 && image.height() >= 150, qPrintable(name));
        // Many colours (text, status colours, charts), and plenty of non-background pixels.
        QSet<QRgb> colours;
        int dark = 0;
        for (int y = 0; y < image.height(); y += 2)
            for (int x = 0; x < image.width(); x += 2) {
                const QRgb p = image.pixel(x, y);
                colours.insert(p);
                dark += qGray(p) < 100;
            }
        QVERIFY2(colours.size() > 40,
            qPrintable(u"%1: only %2 colours"_s.arg(name).arg(colours.size())));
        QVERIFY2(dark > 200,
            qPrintable(u"%1: hardly any text drawn (%2 dark pixels)"_s.arg(name).arg(dark)));
        const QString file = QDir(m_dir).filePath(name + u".png"_s);
        QVERIFY2(image.save(file, "PNG"), qPrintable(file));
        qInfo().noquote() << "wrote" << file << image.width() << "x" << image.height();
    }

    void selectFleetRow(const QString &node, const QString &job)
    {
        QTableView *fleet = child<QTableView>(window(), u"fleetTable"_s);
        const int row = rowOf(fleet, node, job);
        QVERIFY(row >= 0);
        fleet->selectRow(row);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(!QFontDatabase::families().isEmpty(),
            "no fonts: install fonts-dejavu-core (deploy/dev/install-deps.sh)");
        m_dir = qEnvironmentVariable("SPARKY_SCREENSHOT_DIR");
        if (m_dir.isEmpty())
            m_dir = m_tmp.path();
        QVERIFY(QDir().mkpath(m_dir));
        auto rig = ConsoleRig::create();
        QVERIFY2(rig, qPrintable(rig ? QString() : rig.error().toString()));
        m_rig = std::move(*rig);
        window()->resize(1280, 800);
        QVERIFY(QTest::qWaitForWindowExposed(window()));
        window()->runNowView()->follower()->setPollInterval(std::chrono::milliseconds(200));
        window()->archiveBrowserView()->follower()->setPollInterval(std::chrono::milliseconds(200));
        connect(m_rig->agent(), &AgentResponder::commandReceived, this, [this](const Envelope &c) {
            if (c.type == proto::type::BackupRun)
                m_backupCommands.append(c);
        });
    }

    void cleanupTestCase() { m_rig.reset(); }

    void fleetDashboard()
    {
        window()->showPage(MainWindow::Page::Fleet);
        selectFleetRow(u"web-01"_s, u"home"_s); // (the problems above keep their colours)
        shoot(window(), u"fleet-dashboard"_s, window()->size());
    }

    void runHistoryWithDetails()
    {
        RunHistoryView *runs = window()->runHistoryView();
        window()->showPage(MainWindow::Page::Runs);
        QSignalSpy pages(runs->model(), &RunHistoryModel::pageLoaded);
        runs->showFor(QString(), QString());
        QVERIFY(pages.wait(20000));
        // The newest failed run (db-01/pg) with its details.
        QTableView *table = child<QTableView>(runs, u"runTable"_s);
        int failed = -1;
        for (int r = 0; r < table->model()->rowCount() && failed < 0; ++r)
            if (cellText(table, r, RunHistoryModel::StatusColumn) == u"Failed")
                failed = r;
        QVERIFY(failed >= 0);
        QSignalSpy details(runs->details(), &RunDetails::loaded);
        table->selectRow(failed);
        QTRY_VERIFY_WITH_TIMEOUT(!details.isEmpty() && !runs->details()->isLoading()
                && runs->details()->run().value("status"_L1).toString() == u"failed",
            20000);
        shoot(window(), u"run-history"_s, window()->size());
    }

    void charts()
    {
        window()->showPage(MainWindow::Page::Fleet);
        selectFleetRow(u"web-01"_s, u"home"_s);
        QSignalSpy loaded(window()->chartsView()->model(), &RunSeriesModel::loaded);
        QTest::mouseClick(child<QPushButton>(window(), u"fleetChartsButton"_s), Qt::LeftButton);
        QVERIFY(loaded.wait(20000));
        QCOMPARE(window()->chartsView()->pointCount(), 30);
        shoot(window(), u"charts"_s, window()->size());
    }

    void runNowWithProgress()
    {
        // The agent takes the command; the test then reports the run as the agent would,
        // with a realistic size, so the bar shows a real percentage.
        m_rig->agent()->script(QString(proto::type::BackupRun), Reply::ignore());
        window()->showPage(MainWindow::Page::Fleet);
        selectFleetRow(u"web-01"_s, u"home"_s);
        QTest::mouseClick(child<QPushButton>(window(), u"fleetRunNowButton"_s), Qt::LeftButton);
        RunNowView *page = window()->runNowView();
        QTest::mouseClick(child<QPushButton>(page, u"runNowStart"_s), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!m_backupCommands.isEmpty(), 20000);
        const Envelope command = m_backupCommands.last();
        const DemoFleet::Job *home = m_rig->fleet()->job(u"web-01"_s, u"home"_s);
        const QString runId = u"r-5c0e91d2"_s;
        const QDateTime t0 = QDateTime::currentDateTimeUtc().addSecs(-74);

        proto::CommandUpdate running;
        running.commandId = command.id;
        running.commandType = command.type;
        running.state = proto::CommandUpdate::State::Running;
        running.runId = runId;
        proto::RunStarted s;
        s.runId = runId;
        s.job = u"home"_s;
        s.kind = proto::RunKind::Backup;
        s.repository = u"ssh://borg@repo-01.example.net/./web-01-home"_s;
        s.trigger = u"command"_s;
        s.commandId = command.id;
        s.startedAt = t0;
        proto::RunProgress p;
        p.runId = runId;
        p.job = u"home"_s;
        p.step = u"create"_s;
        p.originalSize = home->originalSize * 625 / 1000; // 62 %
        p.compressedSize = p.originalSize * 43 / 100;
        p.deduplicatedSize = 38 * 1024 * 1024;
        p.files = 74418;
        p.currentPath = u"/home/alice/photos/IMG_0312.jpg"_s;
        QVERIFY(m_rig->fleet()->publishAs(u"web-01"_s,
            { Envelope::make(QString(proto::type::CommandUpdate), u"web-01"_s, running.toJson()),
                Envelope::make(QString(proto::type::RunStarted), u"web-01"_s, s.toJson()),
                Envelope::make(QString(proto::type::RunProgress), u"web-01"_s, p.toJson()) }));
        QTRY_COMPARE_WITH_TIMEOUT(page->follower()->percent(), 62, 20000);
        QTRY_VERIFY_WITH_TIMEOUT(
            child<QLabel>(page, u"runNowState"_s)->text().contains(u"IMG_0312"_s), 20000);
        shoot(window(), u"run-now"_s, window()->size());

        // And the end of it, so the fleet stays as it was.
        proto::RunFinished f;
        f.runId = runId;
        f.job = u"home"_s;
        f.kind = proto::RunKind::Backup;
        f.repository = s.repository;
        f.trigger = s.trigger;
        f.commandId = command.id;
        f.status = proto::Status::Success;
        f.startedAt = t0;
        f.finishedAt = QDateTime::currentDateTimeUtc();
        proto::CommandUpdate done = running;
        done.state = proto::CommandUpdate::State::Succeeded;
        QSignalSpy finished(page->follower(), &CommandFollower::finished);
        QVERIFY(m_rig->fleet()->publishAs(u"web-01"_s,
            { Envelope::make(QString(proto::type::RunFinished), u"web-01"_s, f.toJson()),
                Envelope::make(QString(proto::type::CommandUpdate), u"web-01"_s, done.toJson()) }));
        QVERIFY(finished.wait(20000));
        QCOMPARE(finished.first().at(0).toBool(), true);
    }

    void archiveBrowserAfterARestore()
    {
        ArchiveBrowserView *view = window()->archiveBrowserView();
        window()->showPage(MainWindow::Page::Archives);
        QSignalSpy listed(view->archives(), &ArchiveListModel::loaded);
        view->showFor(u"web-01"_s, u"home"_s);
        QVERIFY(listed.wait(30000));
        QSignalSpy pages(view->browser(), &ArchiveBrowseModel::pageLoaded);
        child<QTableView>(view, u"archiveTable"_s)->selectRow(0);
        QVERIFY(pages.wait(30000));
        view->browser()->setLocation(view->browser()->node(), view->browser()->job(),
            view->browser()->archive(), u"home/alice"_s);
        QVERIFY(pages.wait(30000));
        view->browser()->setChecked(u"home/alice/Documents"_s, true);
        view->browser()->setChecked(u"home/alice/notes.txt"_s, true);

        Reply restore = Reply::run(proto::RunKind::Restore);
        restore.progressEvents = 1;
        restore.details = { { u"target"_s, u"/srv/restore/alice"_s }, { u"files"_s, 4 },
            { u"bytes"_s, 1909845 }, { u"errors"_s, QJsonArray() } };
        m_rig->agent()->script(QString(proto::type::RestoreExtract), restore);
        m_rig->dialogs()->setRestoreHandler(
            [](QWidget *, const RestoreRequest &proposal) -> std::optional<RestoreRequest> {
                RestoreRequest r = proposal;
                r.target = u"/srv/restore/alice"_s;
                return r;
            });
        QSignalSpy finished(view->follower(), &CommandFollower::finished);
        QTest::mouseClick(child<QPushButton>(view, u"restoreButton"_s), Qt::LeftButton);
        QVERIFY(finished.wait(30000));
        QCOMPARE(finished.first().at(0).toBool(), true);
        QTRY_VERIFY_WITH_TIMEOUT(child<QLabel>(view, u"restoreState"_s)
                                     ->text()
                                     .contains(u"restored to /srv/restore/alice"_s),
            20000);
        shoot(window(), u"archive-browser"_s, window()->size());
    }

    void restoreDialog()
    {
        ArchiveBrowserView *view = window()->archiveBrowserView();
        RestoreRequest proposal;
        proposal.node = view->browser()->node();
        proposal.job = view->browser()->job();
        proposal.archive = view->browser()->archive();
        proposal.paths = view->browser()->checkedPaths();
        RestoreDialog dialog(window());
        dialog.setRequest(proposal);
        child<QLineEdit>(&dialog, u"restoreTarget"_s)->setText(u"/srv/restore/alice"_s);
        dialog.resize(640, dialog.sizeHint().height());
        dialog.show();
        QVERIFY(QTest::qWaitForWindowExposed(&dialog));
        shoot(&dialog, u"restore-dialog"_s);
        dialog.close();

        // A database dump: into a new database beside the source, created first.
        RestoreRequest dump;
        dump.node = u"web-01"_s;
        dump.job = u"www"_s;
        dump.archive = u"web-01-www.pg-shop-2026-11-25T04:20:40"_s;
        dump.databaseArchive = true;
        dump.sourceDatabase = u"shop"_s;
        RestoreDialog database(window());
        database.setRequest(dump);
        child<QGroupBox>(&database, u"restoreDatabaseGroup"_s)->setChecked(true);
        database.resize(640, database.sizeHint().height());
        database.show();
        QVERIFY(QTest::qWaitForWindowExposed(&database));
        QCOMPARE(database.request().database, u"shop_restored"_s);
        shoot(&database, u"restore-dialog-database"_s);
        database.close();
    }

    void commandsLog()
    {
        // Something waiting too: a backup of the offline node, issued from the CLI.
        auto call = m_rig->orchestrator()->call(
            u"backup.start"_s, { { u"node"_s, u"mail-01"_s }, { u"job"_s, u"maildir"_s } });
        QVERIFY2(call->isOk(), qPrintable(describeCall(*call)));
        // And one the agent refused.
        m_rig->agent()->script(QString(proto::type::DrillRun),
            Reply::refuse(Reply::Kind::Reject,
                u"drill.run is not allowed on this node (commands.allowed: backup.run, "
                u"backup.cancel, "
                "archives.list, archive.browse, restore.extract)"_s));
        auto drill = m_rig->orchestrator()->call(
            u"drill.start"_s, { { u"node"_s, u"web-01"_s }, { u"job"_s, u"www"_s } });
        QVERIFY2(drill->isOk(), qPrintable(describeCall(*drill)));
        const QString drillId = drill->result().value("command_id"_L1).toString();
        QTRY_COMPARE_WITH_TIMEOUT(
            m_rig->orchestrator()->text(u"SELECT state FROM commands WHERE id = ?"_s, { drillId }),
            u"rejected"_s, 20000);
        CommandsView *commands = window()->commandsView();
        window()->showPage(MainWindow::Page::Commands);
        QSignalSpy pages(commands->model(), &CommandsModel::pageLoaded);
        commands->refresh();
        QVERIFY(pages.wait(20000));
        QVERIFY(commands->model()->rowCount() >= 5);
        shoot(window(), u"commands"_s, window()->size());
    }

    void profileDialog()
    {
        ProfileDialog dialog(window());
        dialog.setFirstRun(true);
        ConnectionProfile p;
        p.name = u"prod"_s;
        p.hosts = QStringList { u"mq1.example.net:5671"_s, u"mq2.example.net:5671"_s };
        p.user = u"alice"_s;
        p.caFile = u"/etc/sparky/ca.pem"_s;
        dialog.setProfile(p);
        child<QLineEdit>(&dialog, u"profileToken"_s)->setText(u"this-is-not-shown"_s);
        dialog.resize(640, dialog.sizeHint().height());
        dialog.show();
        QVERIFY(QTest::qWaitForWindowExposed(&dialog));
        shoot(&dialog, u"profile-dialog"_s);
        dialog.close();
    }
};

QTEST_MAIN(TestConsoleScreenshots)
#include "tst_console_screenshots.moc"
