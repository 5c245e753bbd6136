// RestoreRequest: what the restore dialog sends as restore.start params, and everything it
// refuses before asking the orchestrator — each refusal names the field. Data-driven.

#include "restorerequest.h"

#include <QJsonArray>
#include <QTest>

using namespace sparky::admin;
using namespace Qt::StringLiterals;

namespace {

RestoreRequest base()
{
    RestoreRequest r;
    r.node = u"web-01"_s;
    r.job = u"home"_s;
    r.archive = u"web-01-home-2026-11-25T02:00:04"_s;
    return r;
}

} // namespace

class TestRestoreRequest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void validate_data()
    {
        QTest::addColumn<QString>("field");
        QTest::addColumn<QVariant>("value");
        QTest::addColumn<bool>("databaseArchive");
        QTest::addColumn<QString>("error"); // empty: valid

        QTest::newRow("whole archive") << QString() << QVariant() << false << QString();
        QTest::newRow("bad node") << u"node"_s << QVariant(u"../etc"_s) << false
                                  << u"node: '../etc' is not a valid node id"_s;
        QTest::newRow("no job") << u"job"_s << QVariant(QString()) << false
                                << u"job: choose a job"_s;
        QTest::newRow("no archive")
            << u"archive"_s << QVariant(QString()) << false << u"archive: choose an archive"_s;
        QTest::newRow("absolute target")
            << u"target"_s << QVariant(u"/srv/restore/x"_s) << false << QString();
        QTest::newRow("relative target") << u"target"_s << QVariant(u"srv/restore"_s) << false
                                         << u"target: 'srv/restore' is not an absolute directory"_s;
        QTest::newRow("dot-dot target") << u"target"_s << QVariant(u"/srv/restore/../../etc"_s)
                                        << false << u"target: '..' is not allowed"_s;
        QTest::newRow("dot-dot in a name is fine")
            << u"target"_s << QVariant(u"/srv/restore/a..b"_s) << false << QString();
        QTest::newRow("strip 64") << u"strip"_s << QVariant(64) << false << QString();
        QTest::newRow("strip 65") << u"strip"_s << QVariant(65) << false
                                  << u"strip components: 0 to 64"_s;
        QTest::newRow("strip negative")
            << u"strip"_s << QVariant(-1) << false << u"strip components: 0 to 64"_s;
        QTest::newRow("paths") << u"paths"_s
                               << QVariant(QStringList { u"etc/hosts"_s, u"home/alice"_s }) << false
                               << QString();
        QTest::newRow("empty path") << u"paths"_s << QVariant(QStringList { QString() }) << false
                                    << u"paths: '' is not an archive path"_s;
        QTest::newRow("dot-dot path") << u"paths"_s << QVariant(QStringList { u"etc/../../x"_s })
                                      << false << u"paths: 'etc/../../x' is not an archive path"_s;
        QStringList many;
        for (int i = 0; i < 1001; ++i)
            many << u"f%1"_s.arg(i);
        QTest::newRow("too many paths")
            << u"paths"_s << QVariant(many) << false << u"paths: at most 1000 at once"_s;
        QTest::newRow("database") << u"database"_s << QVariant(u"app_restored"_s) << true
                                  << QString();
        QTest::newRow("database of a files archive")
            << u"database"_s << QVariant(u"app"_s) << false
            << u"database: 'web-01-home-2026-11-25T02:00:04' is a files archive; only a database dump archive restores into a database"_s;
        QTest::newRow("database name with a space")
            << u"database"_s << QVariant(u"app; drop"_s) << true
            << u"database: 'app; drop' is not a plain PostgreSQL database name"_s;
        QTest::newRow("template1") << u"database"_s << QVariant(u"template1"_s) << true
                                   << u"database: templates cannot be restored into"_s;
        QTest::newRow("create without a name") << u"create"_s << QVariant(true) << true
                                               << u"create database: give the database name"_s;
    }

    void validate()
    {
        QFETCH(QString, field);
        QFETCH(QVariant, value);
        QFETCH(bool, databaseArchive);
        QFETCH(QString, error);
        RestoreRequest r = base();
        r.databaseArchive = databaseArchive;
        if (field == u"node")
            r.node = value.toString();
        else if (field == u"job")
            r.job = value.toString();
        else if (field == u"archive")
            r.archive = value.toString();
        else if (field == u"target")
            r.target = value.toString();
        else if (field == u"strip")
            r.stripComponents = value.toInt();
        else if (field == u"paths")
            r.paths = value.toStringList();
        else if (field == u"database")
            r.database = value.toString();
        else if (field == u"create")
            r.createDatabase = value.toBool();
        const auto ok = r.validate();
        QCOMPARE(ok ? QString() : ok.error().message, error);
    }

    void params()
    {
        RestoreRequest r = base();
        QCOMPARE(r.toParams(),
            (QJsonObject { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s },
                { u"archive"_s, u"web-01-home-2026-11-25T02:00:04"_s } }));
        r.paths = QStringList { u"etc/hosts"_s, u"home/alice"_s };
        r.target = u"/srv/restore/x"_s;
        r.stripComponents = 1;
        QCOMPARE(r.toParams().value("paths"_L1).toArray(),
            (QJsonArray { u"etc/hosts"_s, u"home/alice"_s }));
        QCOMPARE(r.toParams().value("target"_L1).toString(), u"/srv/restore/x"_s);
        QCOMPARE(r.toParams().value("strip_components"_L1).toInt(), 1);

        // Into a database: only the database fields go (no paths, target or strip).
        r.databaseArchive = true;
        r.database = u"app_restored"_s;
        r.createDatabase = true;
        QCOMPARE(r.toParams(),
            (QJsonObject { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s },
                { u"archive"_s, u"web-01-home-2026-11-25T02:00:04"_s },
                { u"database"_s, u"app_restored"_s }, { u"create_database"_s, true } }));
    }
};

QTEST_GUILESS_MAIN(TestRestoreRequest)
#include "tst_restorerequest.moc"
