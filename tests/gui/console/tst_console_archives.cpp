// The archive browser against the real orchestrator and broker (ConsoleRig), the agent's
// side answered by the AgentResponder with the ArchiveFixture: archives.list through the
// orchestrator, one archive's directories page by page as the table scrolls
// (archive.browse with cursors), checked files → the real RestoreDialog → restore.start,
// whose signed restore.extract reaches the agent with exactly the chosen paths and target,
// followed to its end, where the files went shown from command.get's run details; a
// database dump restored into a new database; a drill and what it checked; and the
// refusals an operator meets (a path that is not there, a target outside the restore
// roots, a viewer), each shown with the agent's or orchestrator's own words.

#include "archivebrowsemodel.h"
#include "archivebrowserview.h"
#include "archivelistmodel.h"
#include "commandfollower.h"
#include "consolerig.h"
#include "fleetview.h"
#include "mainwindow.h"
#include "restoredialog.h"
#include "uifind.h"

#include <QDialogButtonBox>
#include <QGroupBox>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTabWidget>
#include <QTableView>
#include <QTest>
#include <QToolButton>

using namespace sparky;
using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;
using Reply = AgentResponder::Reply;
using Phase = CommandFollower::Phase;

class TestConsoleArchives : public QObject
{
    Q_OBJECT

    std::unique_ptr<ConsoleRig> m_rig;

    MainWindow *window() const { return m_rig->window(); }
    ArchiveBrowserView *view() const { return window()->archiveBrowserView(); }
    QTableView *archiveTable() const { return child<QTableView>(view(), u"archiveTable"_s); }
    QTableView *browseTable() const { return child<QTableView>(view(), u"browseTable"_s); }
    QString message() const
    {
        return child<QLabel>(window(), u"messageLabel"_s)->text().section(u"] "_s, 1);
    }

    QList<Envelope> received(const QString &type) const
    {
        QList<Envelope> out;
        for (const Envelope &e : m_rig->agent()->received())
            if (e.type == type)
                out.append(e);
        return out;
    }

    // The row in the browse table (through its proxy) showing `name`.
    int browseRow(const QString &name) const
    {
        for (int r = 0; r < browseTable()->model()->rowCount(); ++r)
            if (cellText(browseTable(), r, ArchiveBrowseModel::NameColumn) == name)
                return r;
        return -1;
    }

    void enter(const QString &name)
    {
        const int row = browseRow(name);
        QVERIFY2(row >= 0, qPrintable(name));
        QSignalSpy pages(view()->browser(), &ArchiveBrowseModel::pageLoaded);
        const QRect rect = browseTable()->visualRect(browseTable()->model()->index(row, 1));
        QVERIFY2(browseTable()->viewport()->rect().contains(rect.center()), qPrintable(name));
        // A double click is a click, then a double-click event on the same item.
        QTest::mouseClick(browseTable()->viewport(), Qt::LeftButton, {}, rect.center());
        QTest::mouseDClick(browseTable()->viewport(), Qt::LeftButton, {}, rect.center());
        QVERIFY2(pages.wait(20000), qPrintable(name));
    }

    void listArchives(const QString &node, const QString &job)
    {
        QSignalSpy loaded(view()->archives(), &ArchiveListModel::loaded);
        view()->showFor(node, job);
        QVERIFY(loaded.wait(30000));
        QVERIFY(!view()->archives()->isLoading());
    }

    void openArchive(int row)
    {
        QSignalSpy pages(view()->browser(), &ArchiveBrowseModel::pageLoaded);
        archiveTable()->selectRow(row);
        QVERIFY(pages.wait(30000));
    }

private Q_SLOTS:
    void initTestCase()
    {
        auto rig = ConsoleRig::create();
        QVERIFY2(rig, qPrintable(rig ? QString() : rig.error().toString()));
        m_rig = std::move(*rig);
        view()->follower()->setPollInterval(std::chrono::milliseconds(150));
    }

    void cleanupTestCase() { m_rig.reset(); }

    void listsTheArchivesOfAJob()
    {
        // From the dashboard: web-01/home, "Archives".
        QTableView *fleet = child<QTableView>(window(), u"fleetTable"_s);
        fleet->selectRow(rowOf(fleet, u"web-01"_s, u"home"_s));
        QSignalSpy loaded(view()->archives(), &ArchiveListModel::loaded);
        QTest::mouseClick(child<QPushButton>(window(), u"fleetArchivesButton"_s), Qt::LeftButton);
        QCOMPARE(window()->findChild<QTabWidget *>(u"mainTabs"_s)->currentWidget(), view());
        QVERIFY(child<QLabel>(view(), u"archiveStatus"_s)
                    ->text()
                    .startsWith(u"asking node 'web-01' for the archives of job 'home'"_s));
        QVERIFY(loaded.wait(30000));
        QCOMPARE(view()->archives()->rowCount(), 14);
        QCOMPARE(
            child<QLabel>(view(), u"archiveStatus"_s)->text(), u"14 archive(s) of web-01/home"_s);
        const auto asked = received(u"archives.list"_s);
        QCOMPARE(asked.size(), 1);
        QCOMPARE(asked.first().body.value("job"_L1).toString(), u"home"_s);
        // Newest first in the table (the agent lists oldest first).
        const DemoFleet::Job *home = m_rig->fleet()->job(u"web-01"_s, u"home"_s);
        QCOMPARE(cellText(archiveTable(), 0, ArchiveListModel::NameColumn),
            m_rig->fleet()->archiveName(*home, 0));
        QCOMPARE(cellText(archiveTable(), 13, ArchiveListModel::NameColumn),
            m_rig->fleet()->archiveName(*home, 13));
        QCOMPARE(cellText(archiveTable(), 0, ArchiveListModel::OriginalSizeColumn), u"6.84 GiB"_s);
    }

    void browsesAndPages()
    {
        openArchive(0);
        const QString archive = cellText(archiveTable(), 0, ArchiveListModel::NameColumn);
        QCOMPARE(view()->browser()->archive(), archive);
        QCOMPARE(browseTable()->model()->rowCount(), 2);
        QCOMPARE(cellText(browseTable(), 0, ArchiveBrowseModel::NameColumn), u"etc/"_s);
        QCOMPARE(cellText(browseTable(), 1, ArchiveBrowseModel::NameColumn), u"home/"_s);
        QCOMPARE(child<QLabel>(view(), u"browsePath"_s)->text(),
            archive + u":/ — 2 of 2 entries loaded"_s);
        QVERIFY(!child<QToolButton>(view(), u"browseUpButton"_s)->isEnabled());

        enter(u"home/"_s);
        // The keyboard's way: the current row and Enter.
        {
            QSignalSpy entered(view()->browser(), &ArchiveBrowseModel::pageLoaded);
            browseTable()->setFocus();
            browseTable()->setCurrentIndex(
                browseTable()->model()->index(browseRow(u"alice/"_s), 0));
            QTest::keyClick(browseTable(), Qt::Key_Return);
            QVERIFY(entered.wait(20000));
        }
        QCOMPARE(view()->browser()->path(), u"home/alice"_s);
        QVERIFY(child<QToolButton>(view(), u"browseUpButton"_s)->isEnabled());
        QCOMPARE(cellText(browseTable(), 0, ArchiveBrowseModel::NameColumn), u"Documents/"_s);
        QCOMPARE(cellText(browseTable(), 4, ArchiveBrowseModel::NameColumn), u"notes.txt"_s);
        QCOMPARE(cellText(browseTable(), 4, ArchiveBrowseModel::SizeColumn), u"18.0 KiB"_s);

        // 450 photos: 200 per page, more as the table scrolls.
        enter(u"photos/"_s);
        QCOMPARE(browseTable()->model()->rowCount(), 200);
        QCOMPARE(child<QLabel>(view(), u"browsePath"_s)->text(),
            archive + u":/home/alice/photos — 200 of 450 entries loaded"_s);
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                browseTable()->scrollToBottom();
                return browseTable()->model()->rowCount() == 450 && !view()->browser()->hasMore();
            }(),
            30000);
        QCOMPARE(child<QLabel>(view(), u"browsePath"_s)->text(),
            archive + u":/home/alice/photos — 450 of 450 entries loaded"_s);
        const auto pages = received(u"archive.browse"_s);
        QCOMPARE(pages.last().body.value("path"_L1).toString(), u"home/alice/photos"_s);
        QCOMPARE(pages.last().body.value("cursor"_L1).toString(), u"after:400"_s);
        QCOMPARE(pages.last().body.value("page_size"_L1).toInt(), 200);
        QCOMPARE(pages.last().body.value("archive"_L1).toString(), archive);

        // Up again: the button, then Alt+Up.
        QSignalSpy loaded(view()->browser(), &ArchiveBrowseModel::pageLoaded);
        QTest::mouseClick(child<QToolButton>(view(), u"browseUpButton"_s), Qt::LeftButton);
        QVERIFY(loaded.wait(20000));
        QCOMPARE(view()->browser()->path(), u"home/alice"_s);
        QCOMPARE(browseTable()->model()->rowCount(), 6);
        window()->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(window()));
        QTest::keyClick(browseTable(), Qt::Key_Up, Qt::AltModifier);
        QVERIFY(loaded.wait(20000));
        QCOMPARE(view()->browser()->path(), u"home"_s);
        enter(u"alice/"_s);
    }

    void listingAgainShowsTheSameArchiveAgain()
    {
        const QString archive = view()->browser()->archive();
        const QString path = view()->browser()->path();
        listArchives(u"web-01"_s, u"home"_s); // forgets the open archive
        QVERIFY(view()->browser()->archive().isEmpty());
        QCOMPARE(browseTable()->model()->rowCount(), 0);
        openArchive(0); // the same one as before: shown again, from its root
        QCOMPARE(view()->browser()->archive(), archive);
        QCOMPARE(view()->browser()->path(), QString());
        QCOMPARE(browseTable()->model()->rowCount(), 2);
        enter(u"home/"_s);
        enter(u"alice/"_s);
        QCOMPARE(view()->browser()->path(), path);
    }

    void restoreSendsRestoreStart()
    {
        Reply restore = Reply::run(proto::RunKind::Restore);
        restore.details = { { u"files"_s, 4 }, { u"bytes"_s, 1909845 },
            { u"target"_s, u"/srv/restore/alice"_s } };
        restore.step = std::chrono::milliseconds(300);
        m_rig->agent()->script(QString(proto::type::RestoreExtract), restore);

        // Check two entries: one with Space on the current row (twice more: off, on again),
        // one through the model as a click on its box would.
        QAbstractItemModel *m = browseTable()->model();
        browseTable()->setFocus();
        browseTable()->setCurrentIndex(m->index(browseRow(u"notes.txt"_s), 0));
        QTest::keyClick(browseTable(), Qt::Key_Space);
        QCOMPARE(view()->browser()->checkedPaths(), QStringList { u"home/alice/notes.txt"_s });
        QTest::keyClick(browseTable(), Qt::Key_Space);
        QCOMPARE(view()->browser()->checkedPaths(), QStringList());
        QTest::keyClick(browseTable(), Qt::Key_Space);
        QVERIFY(
            m->setData(m->index(browseRow(u"Documents/"_s), 0), Qt::Checked, Qt::CheckStateRole));
        QCOMPARE(child<QLabel>(view(), u"browseSelection"_s)->text(),
            u"2 path(s) checked for restore"_s);

        // The operator fills in the real restore dialog: a target under the restore root.
        m_rig->dialogs()->setRestoreHandler([](QWidget *parent, const RestoreRequest &proposal)
                                                -> std::optional<RestoreRequest> {
            RestoreDialog dialog(parent);
            dialog.setRequest(proposal);
            dialog.show();
            child<QLineEdit>(&dialog, u"restoreTarget"_s)->setText(u"/srv/restore/alice"_s);
            QTest::mouseClick(
                child<QDialogButtonBox>(&dialog, u"restoreButtons"_s)->button(QDialogButtonBox::Ok),
                Qt::LeftButton);
            if (dialog.result() != QDialog::Accepted)
                return std::nullopt;
            return dialog.request();
        });
        QSignalSpy finished(view()->follower(), &CommandFollower::finished);
        QTest::mouseClick(child<QPushButton>(view(), u"restoreButton"_s), Qt::LeftButton);
        QCOMPARE(m_rig->dialogs()->restoreProposals().size(), 1);
        const RestoreRequest proposal = m_rig->dialogs()->restoreProposals().last();
        QCOMPARE(proposal.node, u"web-01"_s);
        QCOMPARE(proposal.job, u"home"_s);
        QCOMPARE(
            proposal.paths, (QStringList { u"home/alice/Documents"_s, u"home/alice/notes.txt"_s }));
        QVERIFY(!proposal.databaseArchive);

        QVERIFY(finished.wait(30000));
        QCOMPARE(finished.first().at(0).toBool(), true);
        // With where the files went, at once: command.get carries the run's details, so
        // no further call is needed.
        const QString state = child<QLabel>(view(), u"restoreState"_s)->text();
        QVERIFY2(state.startsWith(u"restore: restore run r-web-01-"_s)
                && state.contains(u"finished: Success"_s)
                && state.endsWith(u" — restored to /srv/restore/alice, 4 files, 1.82 MiB"_s),
            qPrintable(state));
        QCOMPARE(child<QProgressBar>(view(), u"restoreProgress"_s)->value(), 100);
        QCOMPARE(view()->follower()->run().value("details"_L1).toObject().value("files"_L1).toInt(),
            4);

        // Exactly what was chosen reached the agent, signed (the responder verified it).
        const auto sent = received(u"restore.extract"_s);
        QCOMPARE(sent.size(), 1);
        QCOMPARE(sent.first().body,
            (QJsonObject { { u"job"_s, u"home"_s }, { u"archive"_s, view()->browser()->archive() },
                { u"paths"_s, QJsonArray { u"home/alice/Documents"_s, u"home/alice/notes.txt"_s } },
                { u"target"_s, u"/srv/restore/alice"_s } }));
        QVERIFY(m_rig->agent()->verifyFailures().isEmpty());
        QCOMPARE(m_rig->orchestrator()->text(
                     u"SELECT kind FROM runs WHERE run_id = ?"_s, { view()->follower()->runId() }),
            u"restore"_s);
    }

    void restoreRefusedByTheAgentSaysWhy()
    {
        const QString why
            = u"body.target: restore target /etc/x is outside the restore roots (/srv/restore); "
              "restoring elsewhere needs restore.allow_in_place: true in this node's configuration"_s;
        m_rig->agent()->script(
            QString(proto::type::RestoreExtract), Reply::refuse(Reply::Kind::Reject, why));
        m_rig->dialogs()->setRestoreHandler(
            [](QWidget *, const RestoreRequest &p) -> std::optional<RestoreRequest> {
                RestoreRequest r = p;
                r.target = u"/etc/x"_s;
                return r;
            });
        QSignalSpy finished(view()->follower(), &CommandFollower::finished);
        QTest::mouseClick(child<QPushButton>(view(), u"restoreButton"_s), Qt::LeftButton);
        QVERIFY(finished.wait(30000));
        QCOMPARE(finished.first().at(0).toBool(), false);
        const QString text = finished.first().at(1).toString();
        QVERIFY2(text.startsWith(u"command "_s) && text.endsWith(u" rejected: "_s + why),
            qPrintable(text));
        QCOMPARE(message(), text);
        QCOMPARE(child<QLabel>(view(), u"restoreState"_s)->text(), u"restore: "_s + text);

        // Cancelling the dialog sends nothing.
        const int before = int(received(u"restore.extract"_s).size());
        m_rig->dialogs()->setRestoreHandler({});
        QTest::mouseClick(child<QPushButton>(view(), u"restoreButton"_s), Qt::LeftButton);
        QCOMPARE(view()->follower()->phase(), Phase::Failed); // still the last one
        QCOMPARE(int(received(u"restore.extract"_s).size()), before);
    }

    void databaseDumpIntoANewDatabase()
    {
        listArchives(u"web-01"_s, u"www"_s);
        QCOMPARE(view()->archives()->rowCount(), 28); // 14 files archives + 14 dumps
        int dump = -1;
        for (int r = 0; r < archiveTable()->model()->rowCount() && dump < 0; ++r)
            if (cellText(archiveTable(), r, ArchiveListModel::KindColumn) == u"database")
                dump = r;
        QVERIFY(dump >= 0);
        QCOMPARE(cellText(archiveTable(), dump, ArchiveListModel::DatabaseColumn), u"shop"_s);
        openArchive(dump);
        QCOMPARE(cellText(browseTable(), 0, ArchiveBrowseModel::NameColumn), u"shop.dump"_s);

        Reply restore = Reply::run(proto::RunKind::Restore);
        restore.progressEvents = 1;
        m_rig->agent()->script(QString(proto::type::RestoreExtract), restore);
        m_rig->dialogs()->setRestoreHandler([](QWidget *parent, const RestoreRequest &proposal)
                                                -> std::optional<RestoreRequest> {
            RestoreDialog dialog(parent);
            dialog.setRequest(proposal);
            dialog.show();
            child<QGroupBox>(&dialog, u"restoreDatabaseGroup"_s)
                ->setChecked(true); // proposes shop_restored
            QTest::mouseClick(
                child<QDialogButtonBox>(&dialog, u"restoreButtons"_s)->button(QDialogButtonBox::Ok),
                Qt::LeftButton);
            if (dialog.result() != QDialog::Accepted)
                return std::nullopt;
            return dialog.request();
        });
        QSignalSpy finished(view()->follower(), &CommandFollower::finished);
        // Another archive than the one restored from before: Restore… is on for it.
        QVERIFY(child<QPushButton>(view(), u"restoreButton"_s)->isEnabled());
        const int asked = int(m_rig->dialogs()->restoreProposals().size());
        QTest::mouseClick(child<QPushButton>(view(), u"restoreButton"_s), Qt::LeftButton);
        QCOMPARE(int(m_rig->dialogs()->restoreProposals().size()), asked + 1);
        const RestoreRequest proposal = m_rig->dialogs()->restoreProposals().last();
        QVERIFY(proposal.databaseArchive);
        QCOMPARE(proposal.sourceDatabase, u"shop"_s);
        QVERIFY(proposal.database.isEmpty()); // never the live database by default
        QVERIFY(finished.wait(30000));
        QCOMPARE(finished.first().at(0).toBool(), true);
        const Envelope sent = received(u"restore.extract"_s).last();
        QCOMPARE(sent.body,
            (QJsonObject { { u"job"_s, u"www"_s }, { u"archive"_s, view()->browser()->archive() },
                { u"database"_s, u"shop_restored"_s }, { u"create_database"_s, true } }));
    }

    void drillRunsAndReports()
    {
        Reply drill = Reply::run(proto::RunKind::Drill);
        drill.progressEvents = 1;
        drill.details = QJsonObject { { u"archive"_s, u"web-01-www-2026-11-25T02:20:00"_s },
            { u"sample"_s, u"random"_s }, { u"files_checked"_s, 25 },
            { u"bytes_checked"_s, 1843200 }, { u"mismatches"_s, QJsonArray() } };
        m_rig->agent()->script(QString(proto::type::DrillRun), drill);
        QSignalSpy finished(view()->follower(), &CommandFollower::finished);
        QTest::mouseClick(child<QPushButton>(view(), u"drillButton"_s), Qt::LeftButton);
        QVERIFY(finished.wait(30000));
        QCOMPARE(finished.first().at(0).toBool(), true);
        // What it checked, from command.get's run details.
        const QString state = child<QLabel>(view(), u"restoreState"_s)->text();
        QVERIFY2(state.startsWith(u"drill: drill run r-web-01-"_s)
                && state.endsWith(u" — 25 sampled files checked, all match"_s),
            qPrintable(state));
        QCOMPARE(received(u"drill.run"_s).last().body, (QJsonObject { { u"job"_s, u"www"_s } }));
    }

    void pathThatIsNotThereIsExplained()
    {
        QSignalSpy errors(view(), &ArchiveBrowserView::errorOccurred);
        view()->browser()->setLocation(
            u"web-01"_s, u"home"_s, view()->browser()->archive(), u"srv/nope"_s);
        QVERIFY(errors.wait(30000));
        const QString text = errors.first().first().toString();
        QVERIFY2(
            text.startsWith(
                u"archive.browse: Refused by the agent — node 'web-01' refused archive.browse (command "_s)
                && text.endsWith(
                    u"'srv/nope' is not in archive %1"_s.arg(view()->browser()->archive())),
            qPrintable(text));
        QCOMPARE(message(), text);
    }

    void unknownJobIsExplained()
    {
        QSignalSpy loaded(view()->archives(), &ArchiveListModel::loaded);
        view()->showFor(u"web-01"_s, u"nope"_s);
        QVERIFY(loaded.wait(30000));
        QCOMPARE(view()->archives()->rowCount(), 0);
        const QString status = child<QLabel>(view(), u"archiveStatus"_s)->text();
        QVERIFY2(status.startsWith(u"archives.list: Refused by the agent — "_s)
                && status.endsWith(u"body.job: no job named 'nope'"_s),
            qPrintable(status));
    }

    void viewerMayNotBrowse()
    {
        m_rig->setRole(orchestrator::Role::Viewer);
        QSignalSpy loaded(view()->archives(), &ArchiveListModel::loaded);
        const int before = int(received(u"archives.list"_s).size());
        view()->showFor(u"web-01"_s, u"home"_s);
        QVERIFY(loaded.wait(30000));
        m_rig->setRole(orchestrator::Role::Operator);
        const QString status = child<QLabel>(view(), u"archiveStatus"_s)->text();
        QCOMPARE(status,
            u"archives.list: Not allowed — user 'sparky-operator' (role viewer) may not call archives.list: it needs the operator role"_s);
        QCOMPARE(message(), status);
        QCOMPARE(int(received(u"archives.list"_s).size()), before);
    }
};

QTEST_MAIN(TestConsoleArchives)
#include "tst_console_archives.moc"
