// Database dumps against a real PostgreSQL (the `postgres` ctest fixture, tests/fixtures/
// postgres.sh) and real borg: pg_dump streamed into the archive restores with the same rows;
// a failing pg_dump fails the run and leaves no archive.
#include "agentconfig.h"
#include "repositorylocks.h"
#include "runexecutor.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::protocol;
using namespace Qt::StringLiterals;

class TestPostgresDump : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QHash<QString, QString> m_pg; // postgres.env
    RepositoryLocks m_locks;
    QString m_db;

    QString path(const QString &p) const { return m_dir.filePath(p); }

    QProcessEnvironment pgEnv() const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        for (const char *k : { "PGHOST", "PGPORT", "PGUSER", "PGPASSFILE" })
            env.insert(QString::fromLatin1(k), m_pg.value(QString::fromLatin1(k)));
        env.insert(u"BORG_BASE_DIR"_s, path(u"testborg"_s));
        env.insert(u"BORG_PASSCOMMAND"_s, u"cat "_s + path(u"pass"_s));
        env.insert(u"BORG_RELOCATED_REPO_ACCESS_IS_OK"_s, u"yes"_s);
        return env;
    }

    // Runs a program with the cluster's connection environment; returns stdout.
    QByteArray exec(const QString &program, const QStringList &args, int *code = nullptr)
    {
        QProcess p;
        p.setProcessEnvironment(pgEnv());
        p.start(program, args);
        if (!p.waitForFinished(120000))
            qFatal("%s did not finish", qPrintable(program));
        if (code)
            *code = p.exitCode();
        else if (p.exitCode() != 0)
            qFatal("%s %s failed: %s", qPrintable(program), qPrintable(args.join(u' ')),
                p.readAllStandardError().constData());
        return p.readAllStandardOutput();
    }

    QByteArray psql(const QString &db, const QString &sql)
    {
        return exec(m_pg.value(u"PG_BINDIR"_s) + u"/psql"_s,
            { u"-w"_s, u"-X"_s, u"-At"_s, u"-v"_s, u"ON_ERROR_STOP=1"_s, u"-d"_s, db, u"-c"_s,
                sql })
            .trimmed();
    }

    AgentConfig config(const QString &repo, const QByteArray &databases)
    {
        const QByteArray yaml
            = "node: pg-test\nhostname: pghost\nstate_dir: " + path(u"state"_s).toUtf8()
            + "\n"
              "postgres_bin_dir: "
            + m_pg.value(u"PG_BINDIR"_s).toUtf8()
            + "\n"
              "repositories:\n  repo:\n    url: "
            + repo.toUtf8()
            + "\n"
              "    passcommand: cat "
            + path(u"pass"_s).toUtf8()
            + "\n"
              "jobs:\n  db:\n    repository: repo\n"
              "    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
              "    postgres:\n"
              "      host: 127.0.0.1\n      port: "
            + m_pg.value(u"PGPORT"_s).toUtf8()
            + "\n"
              "      user: postgres\n      passfile: "
            + m_pg.value(u"PGPASSFILE"_s).toUtf8() + "\n" + databases;
        const QString file = path(u"cfg-%1.yaml"_s.arg(QRandomGenerator::global()->generate()));
        QFile f(file);
        f.open(QIODevice::WriteOnly);
        f.write(yaml);
        f.close();
        auto cfg = loadAgentConfig(file);
        if (!cfg)
            qFatal("test config invalid: %s", qPrintable(cfg.error().message));
        return *cfg;
    }

    RunFinished run(const AgentConfig &cfg)
    {
        RunRequest req;
        req.job = u"db"_s;
        RunExecutor ex(cfg, req, &m_locks);
        QSignalSpy finished(&ex, &RunExecutor::finished);
        ex.start();
        if (!finished.wait(180000))
            qFatal("run did not finish");
        return finished.at(0).at(0).value<RunFinished>();
    }

    QStringList archives(const QString &repo)
    {
        return QString::fromUtf8(exec(u"borg"_s, { u"list"_s, u"--short"_s, repo }))
            .split(u'\n', Qt::SkipEmptyParts);
    }

    static QString describe(const RunFinished &r)
    {
        QStringList steps;
        for (const StepResult &s : r.steps)
            steps.append(s.name + u'=' + statusName(s.status)
                + (s.error.isEmpty() ? QString() : u" (" + s.error + u')'));
        return statusName(r.status) + u" failed_step=" + r.failedStep + u" error=" + r.error
            + u" steps: " + steps.join(u", "_s) + u"\n--- log tail ---\n" + r.logTail;
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
        QVERIFY(m_pg.contains(u"PGPORT"_s) && m_pg.contains(u"PG_BINDIR"_s));
        QFile pass(path(u"pass"_s));
        QVERIFY(pass.open(QIODevice::WriteOnly));
        pass.write("pg-dump-test-passphrase\n");
        pass.close();
        QVERIFY(pass.setPermissions(QFile::ReadOwner | QFile::WriteOwner));

        m_db = u"sparky_src_%1"_s.arg(QRandomGenerator::global()->bounded(1000000));
        psql(u"postgres"_s, u"CREATE DATABASE %1"_s.arg(m_db));
        psql(m_db,
            u"CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2)); "
            "INSERT INTO items SELECT g, 'item ' || g, g * 1.25 FROM generate_series(1, 2500) g; "
            "CREATE VIEW expensive AS SELECT * FROM items WHERE price > 1000"_s);
    }

    void cleanupTestCase()
    {
        int code = 0;
        for (const QString &db : QStringList { m_db, m_db + u"_restored"_s })
            exec(m_pg.value(u"PG_BINDIR"_s) + u"/dropdb"_s, { u"-w"_s, u"--if-exists"_s, db },
                &code);
    }

    void dumpRestoresWithTheSameRows()
    {
        const QString repo = path(u"repo-dump"_s);
        const AgentConfig cfg
            = config(repo, "      globals: true\n      databases: [" + m_db.toUtf8() + "]\n");
        const RunFinished r = run(cfg);
        QVERIFY2(r.status == Status::Success, qPrintable(describe(r)));
        QStringList names;
        for (const StepResult &s : r.steps)
            names.append(s.name);
        QCOMPARE(names, (QStringList { u"init"_s, u"dump:"_s + m_db, u"dump:globals"_s }));
        const QJsonArray made = r.details.value("archives"_L1).toArray();
        QCOMPARE(made.size(), 2);
        const QString dumpArchive = made.at(0).toObject().value("archive_name"_L1).toString();
        QVERIFY2(dumpArchive.startsWith(u"pghost-db.pg-"_s + m_db + u'-'), qPrintable(dumpArchive));
        QCOMPARE(archives(repo).size(), 2);

        // The archive holds exactly one member, the custom-format dump.
        const QStringList members = QString::fromUtf8(
            exec(u"borg"_s, { u"list"_s, u"--short"_s, repo + u"::"_s + dumpArchive }))
                                        .split(u'\n', Qt::SkipEmptyParts);
        QCOMPARE(members, QStringList { m_db + u".dump"_s });
        const QString dumpFile = path(u"restored.dump"_s);
        {
            QProcess extract;
            extract.setProcessEnvironment(pgEnv());
            extract.setStandardOutputFile(dumpFile);
            extract.start(u"borg"_s,
                { u"extract"_s, u"--stdout"_s, repo + u"::"_s + dumpArchive, m_db + u".dump"_s });
            QVERIFY(extract.waitForFinished(60000));
            QCOMPARE(extract.exitCode(), 0);
        }
        const QString restored = m_db + u"_restored"_s;
        psql(u"postgres"_s, u"CREATE DATABASE %1"_s.arg(restored));
        exec(m_pg.value(u"PG_BINDIR"_s) + u"/pg_restore"_s,
            { u"-w"_s, u"--no-owner"_s, u"--exit-on-error"_s, u"-d"_s, restored, dumpFile });
        const QString query
            = u"SELECT count(*), sum(id), sum(price), md5(string_agg(name, ',' ORDER BY id)) FROM items"_s;
        const QByteArray original = psql(m_db, query);
        QCOMPARE(psql(restored, query), original);
        QVERIFY(original.startsWith("2500|"));
        QCOMPARE(psql(restored, u"SELECT count(*) FROM expensive"_s),
            psql(m_db, u"SELECT count(*) FROM expensive"_s));
    }

    void failingDumpFailsTheRunAndLeavesNoArchive()
    {
        const QString repo = path(u"repo-baddump"_s);
        const AgentConfig cfg = config(repo, "      databases: [does_not_exist_db]\n");
        const RunFinished r = run(cfg);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"dump:does_not_exist_db"_s);
        QVERIFY2(r.error.contains(u"Command '"_s)
                && r.error.contains(u"pg_dump' exited with status 1"_s),
            qPrintable(describe(r)));
        QVERIFY2(r.error.contains(u"database \"does_not_exist_db\" does not exist"_s),
            qPrintable(describe(r)));
        QVERIFY(!r.stats.has_value());
        // The repository was initialised, but borg committed no archive.
        QCOMPARE(archives(repo), QStringList());
    }

    void oneBadDatabaseDoesNotStopTheOthers()
    {
        const QString repo = path(u"repo-mixed"_s);
        const AgentConfig cfg
            = config(repo, "      databases: [does_not_exist_db, " + m_db.toUtf8() + "]\n");
        const RunFinished r = run(cfg);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"dump:does_not_exist_db"_s);
        const QStringList names = archives(repo);
        QCOMPARE(names.size(), 1);
        QVERIFY(names.first().contains(u".pg-"_s + m_db));
    }
};

QTEST_GUILESS_MAIN(TestPostgresDump)
#include "tst_postgresdump.moc"
