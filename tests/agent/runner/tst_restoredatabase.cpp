// Database dumps back into PostgreSQL (the `postgres` ctest fixture: a real throwaway cluster)
// with real borg: archives.list marks dump archives; a database dropped after its dump comes
// back with the same rows (custom and plain format) through borg extract --stdout |
// pg_restore/psql; a failure names the side that failed and leaves no half-made database; a
// drill of a dump job restores into a scratch database, checks it and drops it.
#include "runnertestsupport.h"
#include "sparky/protocol.h"

#include <QDirIterator>
#include <QTemporaryDir>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::agent::test;
using namespace sparky::protocol;
using namespace Qt::StringLiterals;

class TestRestoreDatabase : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    RepositoryLocks m_locks;
    QHash<QString, QString> m_pg;
    AgentConfig m_cfg;
    QString m_db, m_plainDb, m_ownedDb, m_role;
    QString m_dumpArchive, m_plainArchive, m_ownedArchive;
    QStringList m_dropAtEnd;

    QString path(const QString &p) const { return m_dir.filePath(p); }

    QByteArray psql(const QString &db, const QString &sql, int *code = nullptr)
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        for (const char *k : { "PGHOST", "PGPORT", "PGUSER", "PGPASSFILE" })
            env.insert(QString::fromLatin1(k), m_pg.value(QString::fromLatin1(k)));
        p.setProcessEnvironment(env);
        p.start(m_pg.value(u"PG_BINDIR"_s) + u"/psql"_s,
            { u"-w"_s, u"-X"_s, u"-At"_s, u"-v"_s, u"ON_ERROR_STOP=1"_s, u"-d"_s, db, u"-c"_s,
                sql });
        if (!p.waitForFinished(60000))
            qFatal("psql did not finish");
        if (code)
            *code = p.exitCode();
        else if (p.exitCode() != 0)
            qFatal("psql %s failed: %s", qPrintable(sql), p.readAllStandardError().constData());
        return p.readAllStandardOutput().trimmed();
    }

    bool databaseExists(const QString &db)
    {
        return psql(u"postgres"_s,
                   u"SELECT count(*) FROM pg_database WHERE datname = '%1'"_s.arg(db))
            == "1";
    }

    static QString fingerprintQuery()
    {
        return u"SELECT count(*), sum(id), sum(price), md5(string_agg(name || ':' || price, ',' ORDER BY id)) FROM items"_s;
    }

    RunFinished restore(const QJsonObject &body, const QString &commandId)
    {
        auto req = AgentCommands::runRequest(
            m_cfg, QString(protocol::type::RestoreExtract), body, commandId);
        if (!req)
            qFatal("restore refused: %s", qPrintable(req.error().message));
        return runToEnd(m_cfg, *req, &m_locks);
    }

    QString dumpArchive(const RunFinished &backupResult, const QString &db)
    {
        for (const QJsonValue &v : backupResult.details.value("archives"_L1).toArray())
            if (v.toObject().value("series"_L1).toString() == u"db.pg-"_s + db)
                return v.toObject().value("archive_name"_L1).toString();
        qFatal("no dump archive of %s", qPrintable(db));
        return {};
    }

private Q_SLOTS:
    void initTestCase()
    {
        qRegisterMetaType<RunFinished>();
        QVERIFY(m_dir.isValid());
        const QString pgDir = qEnvironmentVariable("SPARKY_TEST_POSTGRES_DIR");
        QFile env(pgDir + u"/postgres.env"_s);
        QVERIFY2(env.open(QIODevice::ReadOnly),
            qPrintable(u"no PostgreSQL fixture at %1 (run through ctest: FIXTURES postgres)"_s.arg(
                pgDir)));
        for (const QByteArray &line : env.readAll().split('\n')) {
            const qsizetype eq = line.indexOf('=');
            if (eq > 0)
                m_pg.insert(QString::fromUtf8(line.left(eq)), QString::fromUtf8(line.mid(eq + 1)));
        }
        const QString suffix = QString::number(QRandomGenerator::global()->bounded(1000000));
        m_db = u"sparky_rdb_"_s + suffix;
        m_plainDb = u"sparky_rplain_"_s + suffix;
        m_ownedDb = u"sparky_rowned_"_s + suffix;
        m_role = u"sparky_owner_"_s + suffix;
        m_dropAtEnd = { m_db, m_plainDb, m_ownedDb, m_db + u"_copy"_s, m_plainDb + u"_copy"_s,
            m_ownedDb + u"_copy"_s };
        const QString items
            = u"CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2)); "
              "INSERT INTO items SELECT g, 'item ' || g, g * 1.25 FROM generate_series(1, 3000) g; "
              "CREATE TABLE tags (item int REFERENCES items(id), tag text); "
              "INSERT INTO tags SELECT g, 'tag' || (g % 7) FROM generate_series(1, 500) g"_s;
        for (const QString &db : { m_db, m_plainDb }) {
            psql(u"postgres"_s, u"CREATE DATABASE %1"_s.arg(db));
            psql(db, items);
        }
        psql(u"postgres"_s, u"CREATE ROLE %1"_s.arg(m_role));
        psql(u"postgres"_s, u"CREATE DATABASE %1"_s.arg(m_ownedDb));
        psql(m_ownedDb, items + u"; ALTER TABLE items OWNER TO %1"_s.arg(m_role));

        const QByteArray yaml = "postgres_bin_dir: " + m_pg.value(u"PG_BINDIR"_s).toUtf8()
            + "\njobs:\n  db:\n    repository: repo\n"
              "    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
              "    drill: {restore_dumps: true}\n"
              "    postgres:\n      host: 127.0.0.1\n      port: "
            + m_pg.value(u"PGPORT"_s).toUtf8() + "\n      user: postgres\n      passfile: "
            + m_pg.value(u"PGPASSFILE"_s).toUtf8() + "\n      databases:\n        - "
            + m_db.toUtf8() + "\n        - {name: " + m_plainDb.toUtf8()
            + ", format: plain}\n        - " + m_ownedDb.toUtf8() + "\n";
        // makeConfig puts the top-level key before `jobs:` only if it comes first: build it so.
        m_cfg = makeConfig(m_dir.path(), path(u"repo"_s), yaml);
        const RunFinished b = backup(m_cfg, u"db"_s, &m_locks);
        m_dumpArchive = dumpArchive(b, m_db);
        m_plainArchive = dumpArchive(b, m_plainDb);
        m_ownedArchive = dumpArchive(b, m_ownedDb);
    }

    void cleanupTestCase()
    {
        for (const QString &db : std::as_const(m_dropAtEnd)) {
            int code = 0;
            psql(u"postgres"_s, u"DROP DATABASE IF EXISTS %1"_s.arg(db), &code);
        }
        int code = 0;
        psql(u"postgres"_s, u"DROP ROLE IF EXISTS %1"_s.arg(m_role), &code);
    }

    void dumpArchivesAreListedAsSuch()
    {
        const JobOutcome r
            = runCommand(m_cfg, QString(protocol::type::ArchivesList), { { u"job"_s, u"db"_s } });
        QVERIFY2(r.ok, qPrintable(r.error.message));
        QHash<QString, QJsonObject> byName;
        for (const QJsonValue &v : r.result.value("archives"_L1).toArray())
            byName.insert(v.toObject().value("name"_L1).toString(), v.toObject());
        QCOMPARE(byName.size(), 3);
        const QJsonObject custom = byName.value(m_dumpArchive);
        QCOMPARE(custom.value("kind"_L1).toString(), u"database"_s);
        QCOMPARE(custom.value("database"_L1).toString(), m_db);
        QCOMPARE(custom.value("format"_L1).toString(), u"custom"_s);
        QCOMPARE(custom.value("series"_L1).toString(), u"db.pg-"_s + m_db);
        QCOMPARE(custom.value("stats"_L1).toObject().value("files"_L1).toInt(), 1);
        QCOMPARE(byName.value(m_plainArchive).value("format"_L1).toString(), u"plain"_s);
    }

    void aDroppedDatabaseComesBackWithTheSameRows_data()
    {
        QTest::addColumn<bool>("plain");
        QTest::newRow("custom format (pg_restore)") << false;
        QTest::newRow("plain format (psql)") << true;
    }

    void aDroppedDatabaseComesBackWithTheSameRows()
    {
        QFETCH(bool, plain);
        const QString db = plain ? m_plainDb : m_db;
        const QByteArray before = psql(db, fingerprintQuery());
        const QByteArray tagsBefore
            = psql(db, u"SELECT count(*), md5(string_agg(tag, ',' ORDER BY item)) FROM tags"_s);
        QVERIFY(before.startsWith("3000|"));
        psql(u"postgres"_s, u"DROP DATABASE %1"_s.arg(db));
        QVERIFY(!databaseExists(db));

        const RunFinished r = restore(
            { { u"job"_s, u"db"_s }, { u"archive"_s, plain ? m_plainArchive : m_dumpArchive },
                { u"database"_s, db }, { u"create_database"_s, true } },
            u"cmd-db-"_s + (plain ? u"plain"_s : u"custom"_s));
        QVERIFY2(r.status == Status::Success, qPrintable(describe(r)));
        QCOMPARE(stepNames(r),
            (QStringList { u"inspect"_s, u"createdb:"_s + db, u"restore-db:"_s + db }));
        QCOMPARE(psql(db, fingerprintQuery()), before);
        QCOMPARE(psql(db, u"SELECT count(*), md5(string_agg(tag, ',' ORDER BY item)) FROM tags"_s),
            tagsBefore);
        QCOMPARE(r.details.value("database"_L1).toString(), db);
        QCOMPARE(r.details.value("source_database"_L1).toString(), db);
        QCOMPARE(r.details.value("format"_L1).toString(), plain ? u"plain"_s : u"custom"_s);
        QCOMPARE(r.details.value("created_database"_L1).toBool(), true);
        QVERIFY(r.details.value("bytes"_L1).toInteger() > 0);
    }

    void aFailingPgRestoreIsNamedAndChangesNothing()
    {
        // The database exists with the table already: pg_restore's one transaction fails and
        // rolls back; the table keeps its rows.
        psql(m_db, u"DELETE FROM tags WHERE item > 100"_s);
        const QByteArray before = psql(m_db, u"SELECT count(*) FROM tags"_s);
        const RunFinished r = restore(
            { { u"job"_s, u"db"_s }, { u"archive"_s, m_dumpArchive }, { u"database"_s, m_db } },
            u"cmd-db-exists"_s);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"restore-db:"_s + m_db);
        QVERIFY2(r.error.startsWith(u"pg_restore failed (exit 1): "_s), qPrintable(describe(r)));
        QVERIFY2(r.error.contains(u"already exists"_s), qPrintable(r.error));
        QCOMPARE(psql(m_db, u"SELECT count(*) FROM tags"_s), before);
    }

    void createDatabaseRefusesAnExistingOne()
    {
        const RunFinished r = restore({ { u"job"_s, u"db"_s }, { u"archive"_s, m_dumpArchive },
                                          { u"database"_s, m_db }, { u"create_database"_s, true } },
            u"cmd-db-create-existing"_s);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"createdb:"_s + m_db);
        QVERIFY2(r.error.contains(u"cannot create database "_s + m_db)
                && r.error.contains(u"already exists"_s),
            qPrintable(describe(r)));
        QVERIFY(databaseExists(m_db)); // and it was not dropped by the cleanup
    }

    void aDatabaseThisRestoreCreatedIsDroppedWhenItFails()
    {
        // The dump says OWNER TO a role that no longer exists: pg_restore fails after createdb.
        psql(u"postgres"_s, u"DROP DATABASE %1"_s.arg(m_ownedDb));
        psql(u"postgres"_s, u"DROP ROLE %1"_s.arg(m_role));
        const QString copy = m_ownedDb + u"_copy"_s;
        const RunFinished r = restore({ { u"job"_s, u"db"_s }, { u"archive"_s, m_ownedArchive },
                                          { u"database"_s, copy }, { u"create_database"_s, true } },
            u"cmd-db-owner"_s);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"restore-db:"_s + copy);
        QVERIFY2(r.error.startsWith(u"pg_restore failed"_s) && r.error.contains(m_role),
            qPrintable(describe(r)));
        const StepResult *drop = findStep(r, u"dropdb:"_s + copy);
        QVERIFY2(drop && drop->status == Status::Success, qPrintable(describe(r)));
        QVERIFY(!databaseExists(copy));
    }

    void aWrongArchiveOrPathsAreRefused()
    {
        auto refused = [&](const QJsonObject &body, const QString &text) {
            const Result v
                = AgentCommands::validate(m_cfg, QString(protocol::type::RestoreExtract), body);
            QVERIFY(!v);
            QVERIFY2(v.error().message.contains(text), qPrintable(v.error().message));
        };
        refused({ { u"job"_s, u"db"_s }, { u"archive"_s, m_dumpArchive },
                    { u"database"_s, u"template1"_s } },
            u"body.database: 'template1' is not a database this agent restores into"_s);
        refused({ { u"job"_s, u"db"_s }, { u"archive"_s, m_dumpArchive }, { u"database"_s, u"x"_s },
                    { u"paths"_s, QJsonArray { u"a"_s } } },
            u"body.database: a database restore takes no paths"_s);
        refused({ { u"job"_s, u"db"_s }, { u"archive"_s, m_dumpArchive },
                    { u"create_database"_s, true } },
            u"body.database: create_database needs the database"_s);
    }

    void aCorruptedDumpFailsOnBorgsSide()
    {
        // Its own repository, with bytes overwritten in the dump's data (the first third of
        // the largest segment; the archive's metadata is written after the data).
        const QString repo = path(u"repo-corrupt"_s);
        const AgentConfig cfg = makeConfig(m_dir.path(), repo,
            "postgres_bin_dir: " + m_pg.value(u"PG_BINDIR"_s).toUtf8()
                + "\njobs:\n  db:\n    repository: repo\n"
                  "    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
                  "    compression: none\n"
                  "    postgres:\n      host: 127.0.0.1\n      port: "
                + m_pg.value(u"PGPORT"_s).toUtf8()
                + "\n      user: postgres\n      passfile: " + m_pg.value(u"PGPASSFILE"_s).toUtf8()
                + "\n      databases: [" + m_plainDb.toUtf8() + "]\n");
        const QString archive = dumpArchive(backup(cfg, u"db"_s, &m_locks), m_plainDb);
        QString largest;
        qint64 size = 0;
        QDirIterator it(repo + u"/data"_s, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QString f = it.next();
            if (QFileInfo(f).size() > size) {
                size = QFileInfo(f).size();
                largest = f;
            }
        }
        QVERIFY2(size > 20000, qPrintable(QString::number(size)));
        QFile seg(largest);
        QVERIFY(seg.open(QIODevice::ReadWrite));
        QVERIFY(seg.seek(size / 3));
        QCOMPARE(seg.write(QByteArray(64, '\x5a')), qint64(64));
        seg.close();

        const QString target = m_plainDb + u"_copy"_s;
        auto req = AgentCommands::runRequest(cfg, QString(protocol::type::RestoreExtract),
            { { u"job"_s, u"db"_s }, { u"archive"_s, archive }, { u"database"_s, target },
                { u"create_database"_s, true } },
            u"cmd-db-corrupt"_s);
        QVERIFY(req);
        const RunFinished r = runToEnd(cfg, *req, &m_locks);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"restore-db:"_s + target);
        QVERIFY2(r.error.startsWith(u"repository corrupted: "_s)
                && r.error.contains(u"borg extract failed: "_s),
            qPrintable(describe(r)));
        QVERIFY(!databaseExists(target)); // the half-made database is gone
    }

    void aDrillRestoresEveryDumpIntoAScratchDatabaseAndDropsIt()
    {
        auto req = AgentCommands::runRequest(
            m_cfg, QString(protocol::type::DrillRun), { { u"job"_s, u"db"_s } }, u"cmd-db-drill"_s);
        QVERIFY(req);
        const RunFinished r = runToEnd(m_cfg, *req, &m_locks);
        // The owned database's dump cannot be restored any more (its role was dropped above):
        // the drill says so, and still checks the other two.
        const QJsonArray dbs = r.details.value("databases"_L1).toArray();
        QCOMPARE(dbs.size(), 3);
        QHash<QString, QJsonObject> byDb;
        for (const QJsonValue &v : dbs)
            byDb.insert(v.toObject().value("database"_L1).toString(), v.toObject());
        for (const QString &db : { m_db, m_plainDb }) {
            const QJsonObject d = byDb.value(db);
            QCOMPARE(d.value("status"_L1).toString(), u"success"_s);
            QCOMPARE(d.value("tables"_L1).toInt(), 2);
            QCOMPARE(d.value("rows"_L1).toInteger(), 3500);
            QVERIFY(d.value("scratch_database"_L1).toString().startsWith(u"sparky_drill_"_s));
        }
        QCOMPARE(byDb.value(m_ownedDb).value("status"_L1).toString(), u"failed"_s);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"restore-db:"_s + m_ownedDb);
        QVERIFY2(
            r.error.contains(u"restore of database "_s + m_ownedDb) && r.error.contains(m_role),
            qPrintable(describe(r)));
        QVERIFY(findStep(r, u"sanity:"_s + m_db));
        // Every scratch database is gone.
        QCOMPARE(psql(u"postgres"_s,
                     u"SELECT count(*) FROM pg_database WHERE datname LIKE 'sparky_drill_%'"_s),
            QByteArray("0"));
        const StepResult *cleanup = findStep(r, u"cleanup"_s);
        QVERIFY(cleanup && cleanup->status == Status::Success);
    }
};

QTEST_GUILESS_MAIN(TestRestoreDatabase)
#include "tst_restoredatabase.moc"
