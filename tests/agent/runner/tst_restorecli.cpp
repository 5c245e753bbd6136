// The real sparky-agent binary: archives, ls, restore and drill — the same command bodies
// and code paths as the daemon, in the foreground, with exit codes 0/1/2.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;

class TestRestoreCli : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_binary;
    QString m_archive;

    struct Run
    {
        int code = -1;
        QString out, err;
    };

    QString path(const QString &p) const { return m_dir.filePath(p); }

    void write(const QString &name, const QByteArray &data)
    {
        QDir().mkpath(QFileInfo(path(name)).path());
        QFile f(path(name));
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(data);
        f.close();
        QVERIFY(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner));
    }

    Run agent(const QStringList &args)
    {
        QProcess p;
        p.start(m_binary, args + QStringList { u"-c"_s, path(u"agent.yaml"_s) });
        if (!p.waitForFinished(120000))
            qFatal("sparky-agent %s did not finish", qPrintable(args.join(u' ')));
        return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError()) };
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_binary = qEnvironmentVariable("SPARKY_BINARY_DIR") + u"/agent/sparky-agent"_s;
        QVERIFY2(QFile::exists(m_binary), qPrintable(m_binary));
        write(u"pass"_s, "cli-restore-pass\n");
        write(u"src/etc/app.conf"_s, "setting = 1\n");
        for (int i = 0; i < 30; ++i)
            write(u"src/data/file%1.txt"_s.arg(i, 2, 10, QChar(u'0')), QByteArray(100 + i, 'x'));
        write(u"agent.yaml"_s,
            "node: cli-restore\nhostname: clihost\nstate_dir: " + path(u"state"_s).toUtf8()
                + "\nrestore:\n  roots: [" + path(u"restores"_s).toUtf8()
                + "]\nrepositories:\n  main:\n    url: " + path(u"repo"_s).toUtf8()
                + "\n    passphrase_file: " + path(u"pass"_s).toUtf8()
                + "\njobs:\n  files:\n    repository: main\n    sources: ["
                + path(u"src"_s).toUtf8()
                + "]\n    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
                  "    drill: {random_files: 5}\n");
        const Run run = agent({ u"run"_s, u"files"_s, u"--json"_s });
        QVERIFY2(run.code == 0, qPrintable(run.err));
        m_archive = QJsonDocument::fromJson(run.out.toUtf8())
                        .object()
                        .value("stats"_L1)
                        .toObject()
                        .value("archive_name"_L1)
                        .toString();
        QVERIFY(!m_archive.isEmpty());
    }

    void archivesAndLs()
    {
        const Run list = agent({ u"archives"_s, u"files"_s });
        QVERIFY2(list.code == 0, qPrintable(list.err));
        QVERIFY2(
            list.out.contains(m_archive) && list.out.contains(u"31 files"_s), qPrintable(list.out));
        QVERIFY(list.out.contains(u"1 archives of job files"_s));

        const QString dataDir = path(u"src/data"_s);
        const Run ls
            = agent({ u"ls"_s, u"files"_s, m_archive, dataDir, u"--page-size"_s, u"10"_s });
        QVERIFY2(ls.code == 0, qPrintable(ls.err));
        QVERIFY2(ls.out.contains(u"file00.txt"_s) && !ls.out.contains(u"file10.txt"_s),
            qPrintable(ls.out));
        QVERIFY2(ls.out.contains(u"-- 10 of 30 entries; more: --cursor 'f/file09.txt'"_s),
            qPrintable(ls.out));
        const Run all = agent(
            { u"ls"_s, u"files"_s, m_archive, dataDir, u"--page-size"_s, u"10"_s, u"--all"_s });
        QVERIFY(all.code == 0);
        QCOMPARE(all.out.count(u".txt"_s), 30);
        QVERIFY(all.out.contains(u"-- 30 of 30 entries"_s));

        const Run missing = agent({ u"ls"_s, u"files"_s, m_archive, u"/no/such"_s });
        QCOMPARE(missing.code, 2);
        QVERIFY2(missing.err.contains(u"'no/such' is not in archive"_s), qPrintable(missing.err));
    }

    void restoreAndRefusal()
    {
        const QString conf = path(u"src/etc/app.conf"_s);
        QVERIFY(QFile::remove(conf));
        const Run ok = agent(
            { u"restore"_s, u"files"_s, m_archive, conf, u"--to"_s, path(u"restores/mine"_s) });
        QVERIFY2(ok.code == 0, qPrintable(ok.out + ok.err));
        QVERIFY2(ok.out.contains(u"restored "_s) && ok.out.contains(u"(1 files, 12 bytes)"_s),
            qPrintable(ok.out));
        QFile restored(path(u"restores/mine"_s) + conf);
        QVERIFY(restored.open(QIODevice::ReadOnly));
        QCOMPARE(restored.readAll(), QByteArray("setting = 1\n"));

        const Run refused
            = agent({ u"restore"_s, u"files"_s, m_archive, conf, u"--to"_s, path(u"elsewhere"_s) });
        QCOMPARE(refused.code, 2);
        QVERIFY2(refused.err.contains(u"is outside the restore roots"_s), qPrintable(refused.err));
        QVERIFY(!QFileInfo::exists(path(u"elsewhere"_s)));
    }

    void drill()
    {
        const Run r = agent({ u"drill"_s, u"files"_s, u"--json"_s });
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const QJsonObject body = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(body.value("kind"_L1).toString(), u"drill"_s);
        QCOMPARE(body.value("status"_L1).toString(), u"success"_s);
        QCOMPARE(body.value("details"_L1).toObject().value("files_checked"_L1).toInt(), 5);
        QCOMPARE(QDir(path(u"state/drill"_s)).entryList(QDir::AllEntries | QDir::NoDotAndDotDot),
            QStringList());
    }
};

QTEST_GUILESS_MAIN(TestRestoreCli)
#include "tst_restorecli.moc"
