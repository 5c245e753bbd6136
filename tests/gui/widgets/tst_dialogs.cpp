// The restore and profile dialogs as widgets (offscreen): what they show for a proposal,
// what they return as edited, and what accept() refuses with the reason on the dialog —
// a relative target, a database restore without a name, a new profile without its token.
// A database dump is never restored over its source database by default.

#include "profiledialog.h"
#include "restoredialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFile>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky::admin;
using namespace Qt::StringLiterals;

namespace {

template<typename T> T *child(QWidget *parent, const QString &name)
{
    T *w = parent->findChild<T *>(name);
    if (!w)
        qFatal("no child %s", qPrintable(name));
    return w;
}

void clickOk(QWidget *dialog, const QString &buttons)
{
    QTest::mouseClick(
        child<QDialogButtonBox>(dialog, buttons)->button(QDialogButtonBox::Ok), Qt::LeftButton);
}

RestoreRequest filesProposal()
{
    RestoreRequest r;
    r.node = u"web-01"_s;
    r.job = u"home"_s;
    r.archive = u"web-01-home-2026-11-25T02:00:04"_s;
    r.paths = QStringList { u"home/alice/notes.txt"_s };
    return r;
}

} // namespace

class TestDialogs : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void restoreFiles()
    {
        RestoreDialog dialog;
        dialog.setRequest(filesProposal());
        dialog.show();
        QVERIFY(QTest::qWaitForWindowExposed(&dialog));
        QCOMPARE(child<QLabel>(&dialog, u"restoreSummary"_s)->text(),
            u"Restore home/alice/notes.txt from archive web-01-home-2026-11-25T02:00:04 (job home) on node web-01."_s);
        QVERIFY(!child<QGroupBox>(&dialog, u"restoreDatabaseGroup"_s)->isVisible());

        // A relative target is refused on the dialog, which stays open.
        QLineEdit *target = child<QLineEdit>(&dialog, u"restoreTarget"_s);
        target->setText(u"srv/restore"_s);
        clickOk(&dialog, u"restoreButtons"_s);
        QVERIFY(dialog.isVisible());
        QCOMPARE(child<QLabel>(&dialog, u"restoreError"_s)->text(),
            u"target: 'srv/restore' is not an absolute directory"_s);

        target->setText(u" /srv/restore/alice "_s);
        child<QSpinBox>(&dialog, u"restoreStrip"_s)->setValue(2);
        clickOk(&dialog, u"restoreButtons"_s);
        QCOMPARE(dialog.result(), int(QDialog::Accepted));
        QVERIFY(!dialog.isVisible());
        const RestoreRequest r = dialog.request();
        QCOMPARE(r.target, u"/srv/restore/alice"_s);
        QCOMPARE(r.stripComponents, 2);
        QCOMPARE(r.paths, filesProposal().paths);
        QVERIFY(r.database.isEmpty());
    }

    void restoreSummaryNamesThePaths_data()
    {
        QTest::addColumn<QStringList>("paths");
        QTest::addColumn<QString>("what");
        QTest::newRow("none") << QStringList() << u"everything"_s;
        QTest::newRow("two") << QStringList { u"etc/hosts"_s, u"home/alice"_s }
                             << u"etc/hosts, home/alice"_s;
        QTest::newRow("six") << QStringList { u"a"_s, u"b"_s, u"c"_s, u"d"_s, u"e"_s, u"f"_s }
                             << u"a, b, c and 3 more paths"_s;
    }

    void restoreSummaryNamesThePaths()
    {
        QFETCH(QStringList, paths);
        QFETCH(QString, what);
        RestoreRequest r = filesProposal();
        r.paths = paths;
        RestoreDialog dialog;
        dialog.setRequest(r);
        QCOMPARE(child<QLabel>(&dialog, u"restoreSummary"_s)->text(),
            u"Restore %1 from archive web-01-home-2026-11-25T02:00:04 (job home) on node web-01."_s
                .arg(what));
    }

    void restoreWholeArchiveToTheDefault()
    {
        RestoreRequest p = filesProposal();
        p.paths.clear();
        RestoreDialog dialog;
        dialog.setRequest(p);
        QVERIFY(child<QLabel>(&dialog, u"restoreSummary"_s)
                    ->text()
                    .startsWith(u"Restore everything from archive"_s));
        dialog.show();
        clickOk(&dialog, u"restoreButtons"_s);
        QCOMPARE(dialog.result(), int(QDialog::Accepted));
        QVERIFY(dialog.request().target.isEmpty()); // the agent's default under its restore root
        QVERIFY(!dialog.request().toParams().contains("target"_L1));
    }

    void restoreDatabaseDumpSafely()
    {
        RestoreRequest p = filesProposal();
        p.archive = u"db-01-db.pg-app-2026-11-25T01:00:00"_s;
        p.paths.clear();
        p.databaseArchive = true;
        p.sourceDatabase = u"app"_s;
        RestoreDialog dialog;
        dialog.setRequest(p);
        dialog.show();
        QVERIFY(QTest::qWaitForWindowExposed(&dialog));
        auto *group = child<QGroupBox>(&dialog, u"restoreDatabaseGroup"_s);
        auto *database = child<QLineEdit>(&dialog, u"restoreDatabase"_s);
        auto *create = child<QCheckBox>(&dialog, u"restoreCreateDatabase"_s);
        QVERIFY(group->isVisible());
        QVERIFY(child<QLabel>(&dialog, u"restoreSummary"_s)
                    ->text()
                    .contains(u"dump of database 'app'"_s));

        // By default: the dump as a file, not into any database — least of all "app".
        QVERIFY(!group->isChecked());
        QVERIFY(database->text().isEmpty());
        QVERIFY(dialog.request().database.isEmpty());

        // Turning it on proposes a new database, created first.
        group->setChecked(true);
        QCOMPARE(database->text(), u"app_restored"_s);
        QVERIFY(create->isChecked());
        QVERIFY(!child<QGroupBox>(&dialog, u"restoreFilesGroup"_s)->isEnabled());
        RestoreRequest r = dialog.request();
        QCOMPARE(r.database, u"app_restored"_s);
        QVERIFY(r.createDatabase);
        QVERIFY(r.target.isEmpty());

        // An empty name is refused; so is a template.
        database->clear();
        clickOk(&dialog, u"restoreButtons"_s);
        QVERIFY(dialog.isVisible());
        QCOMPARE(child<QLabel>(&dialog, u"restoreError"_s)->text(),
            u"database: give the database to restore into"_s);
        database->setText(u"template0"_s);
        clickOk(&dialog, u"restoreButtons"_s);
        QCOMPARE(child<QLabel>(&dialog, u"restoreError"_s)->text(),
            u"database: templates cannot be restored into"_s);

        // Over the source: only when typed, and create off (an existing database is refused
        // by the agent when asked to create it).
        database->setText(u"app"_s);
        create->setChecked(false);
        clickOk(&dialog, u"restoreButtons"_s);
        QCOMPARE(dialog.result(), int(QDialog::Accepted));
        r = dialog.request();
        QCOMPARE(r.toParams(),
            (QJsonObject { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s },
                { u"archive"_s, u"db-01-db.pg-app-2026-11-25T01:00:00"_s },
                { u"database"_s, u"app"_s } }));

        // Set up again with a chosen database: shown as given, the group on.
        RestoreRequest again = p;
        again.database = u"app_copy"_s;
        dialog.setRequest(again);
        QVERIFY(group->isChecked());
        QCOMPARE(database->text(), u"app_copy"_s);
        QVERIFY(!create->isChecked());
    }

    void firstProfileNeedsItsToken()
    {
        QTemporaryDir dir;
        const QString ca = dir.filePath(u"ca.pem"_s);
        QFile f(ca);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("PEM\n");
        f.close();

        ProfileDialog dialog;
        dialog.setFirstRun(true);
        dialog.setProfile({});
        dialog.show();
        QVERIFY(QTest::qWaitForWindowExposed(&dialog));
        QVERIFY(child<QLabel>(&dialog, u"profileIntro"_s)
                    ->text()
                    .startsWith(u"No connection profile yet"_s));
        QCOMPARE(child<QLineEdit>(&dialog, u"profileVhost"_s)->text(), u"sparky"_s);
        QCOMPARE(child<QLineEdit>(&dialog, u"profileToken"_s)->echoMode(), QLineEdit::Password);

        // Every problem of the profile at once, naming the fields.
        clickOk(&dialog, u"profileButtons"_s);
        QVERIFY(dialog.isVisible());
        const QString problems = child<QLabel>(&dialog, u"profileError"_s)->text();
        QVERIFY2(problems.contains(u"name:"_s) && problems.contains(u"hosts:"_s)
                && problems.contains(u"user:"_s) && problems.contains(u"ca_file:"_s),
            qPrintable(problems));

        QTest::keyClicks(child<QLineEdit>(&dialog, u"profileName"_s), u"prod"_s);
        QTest::keyClicks(child<QLineEdit>(&dialog, u"profileHosts"_s),
            u"mq1.example.net, mq2.example.net:5672"_s);
        QTest::keyClicks(child<QLineEdit>(&dialog, u"profileUser"_s), u"alice"_s);
        child<QLineEdit>(&dialog, u"profileCaFile"_s)->setText(ca);
        clickOk(&dialog, u"profileButtons"_s);
        QVERIFY(dialog.isVisible());
        QCOMPARE(child<QLabel>(&dialog, u"profileError"_s)->text(),
            u"token: the broker user 'alice' needs its token"_s);

        QTest::keyClicks(child<QLineEdit>(&dialog, u"profileToken"_s), u"s3cret"_s);
        child<QCheckBox>(&dialog, u"profileRememberToken"_s)->setChecked(false);
        clickOk(&dialog, u"profileButtons"_s);
        QCOMPARE(dialog.result(), int(QDialog::Accepted));
        const ProfileInput in = dialog.input();
        QCOMPARE(in.profile.name, u"prod"_s);
        QCOMPARE(
            in.profile.hosts, (QStringList { u"mq1.example.net"_s, u"mq2.example.net:5672"_s }));
        QCOMPARE(in.profile.user, u"alice"_s);
        QCOMPARE(in.profile.caFile, ca);
        QCOMPARE(in.token, QByteArray("s3cret"));
        QVERIFY(!in.rememberToken);

        // Editing it later: an empty token keeps the stored one.
        ProfileDialog edit;
        edit.setProfile(in.profile);
        QVERIFY(child<QLabel>(&edit, u"profileIntro"_s)
                    ->text()
                    .contains(u"never in the settings file"_s));
        QCOMPARE(child<QLineEdit>(&edit, u"profileHosts"_s)->text(),
            u"mq1.example.net, mq2.example.net:5672"_s);
        QVERIFY(child<QLineEdit>(&edit, u"profileToken"_s)->text().isEmpty());
        edit.show();
        clickOk(&edit, u"profileButtons"_s);
        QCOMPARE(edit.result(), int(QDialog::Accepted));
        QVERIFY(edit.input().token.isEmpty());
        QCOMPARE(edit.input().profile, in.profile);
    }
};

QTEST_MAIN(TestDialogs)
#include "tst_dialogs.moc"
