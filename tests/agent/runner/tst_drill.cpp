// Restore drills (RunKind::Drill) with real borg: a random sample of the latest archive is
// extracted into a scratch directory and verified against the sizes and SHA-256 borg
// records; configured paths are drilled as given and a path missing from the archive fails
// the drill; a repository with overwritten bytes in a segment fails with "repository
// corrupted: <borg's own error>"; the scratch directory is gone afterwards in every case,
// cancellation included.
#include "drillexecutor.h"
#include "runnertestsupport.h"
#include "sparky/protocol.h"

#include <QDirIterator>
#include <QTemporaryDir>
#include <sys/stat.h>
#include <sys/time.h>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::agent::test;
using namespace sparky::protocol;
using namespace Qt::StringLiterals;

class TestDrill : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    RepositoryLocks m_locks;
    AgentConfig m_cfg;
    qint64 m_totalBytes = 0;
    static constexpr int kFiles = 40;

    QString path(const QString &p) const { return m_dir.filePath(p); }

    RunFinished drill(const AgentConfig &cfg, const QString &job)
    {
        auto req = AgentCommands::runRequest(
            cfg, QString(protocol::type::DrillRun), { { u"job"_s, job } }, u"cmd-drill"_s);
        if (!req)
            qFatal("drill refused: %s", qPrintable(req.error().message));
        return runToEnd(cfg, *req, &m_locks);
    }

    void verifyScratchGone(const RunFinished &r)
    {
        QVERIFY(!r.runId.isEmpty());
        QVERIFY2(!QFileInfo::exists(DrillExecutor::scratchDirectory(m_cfg, r.job, r.runId)),
            qPrintable(DrillExecutor::scratchDirectory(m_cfg, r.job, r.runId)));
        const StepResult *cleanup = findStep(r, u"cleanup"_s);
        QVERIFY(cleanup);
        QCOMPARE(cleanup->status, Status::Success);
    }

private Q_SLOTS:
    void initTestCase()
    {
        qRegisterMetaType<RunFinished>();
        QVERIFY(m_dir.isValid());
        for (int i = 0; i < kFiles; ++i) {
            const QByteArray data = randomBytes(1000 + 997 * i);
            m_totalBytes += data.size();
            writeFile(path(u"src/data/f%1.bin"_s.arg(i)), data);
        }
        writeFile(path(u"src/docs/a.txt"_s), "alpha\n");
        writeFile(path(u"src/docs/b.txt"_s), "beta\n");
        writeFile(path(u"fragile/data.bin"_s), randomBytes(2 * 1024 * 1024));
        writeFile(path(u"fragile/small.txt"_s), "small\n");
        const QByteArray yaml = "jobs:\n"
                                "  files:\n    repository: repo\n    sources: ["
            + path(u"src"_s).toUtf8()
            + "]\n    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
              "    drill: {random_files: 15, schedule: '@weekly'}\n"
              "  docs:\n    repository: repo\n    sources: ["
            + path(u"src"_s).toUtf8()
            + "]\n    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
              "    drill:\n      paths: ["
            + path(u"src/docs"_s).toUtf8() + ", " + path(u"src/data/f3.bin"_s).toUtf8()
            + "]\n"
              "  missing:\n    repository: repo\n    sources: ["
            + path(u"src"_s).toUtf8()
            + "]\n    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
              "    drill:\n      paths: ["
            + path(u"src/docs"_s).toUtf8()
            + ", /not/backed/up]\n"
              "  never:\n    repository: repo\n    sources: ["
            + path(u"src"_s).toUtf8()
            + "]\n    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
              "  fragile:\n    repository: repo\n    sources: ["
            + path(u"fragile"_s).toUtf8()
            + "]\n    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
              "    drill: {random_files: 100}\n";
        m_cfg = makeConfig(m_dir.path(), path(u"repo"_s), yaml);
        backup(m_cfg, u"files"_s, &m_locks);
        backup(m_cfg, u"docs"_s, &m_locks);
        backup(m_cfg, u"missing"_s, &m_locks);
    }

    void drillSchedulesHaveTheirOwnJitterKey()
    {
        const JobConfig *job = m_cfg.job(u"files"_s);
        QVERIFY(m_cfg.drillSchedule(*job).isValid());
        QVERIFY(!m_cfg.drillSchedule(*m_cfg.job(u"docs"_s)).isValid()); // no schedule
    }

    void aRandomSampleOfTheLatestArchiveVerifies()
    {
        // What a killed agent left behind: this job's old scratch directory goes, a fresh one
        // (a drill still running elsewhere?) and another job's stay.
        const QString drills = QDir(m_cfg.stateDir).filePath(u"drill"_s);
        for (const QString &d : { u"files-stale"_s, u"files-fresh"_s, u"docs-stale"_s })
            writeFile(drills + u'/' + d + u"/files/x"_s, "x");
        const timeval old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
        for (const QString &d : { u"files-stale"_s, u"docs-stale"_s })
            QCOMPARE(::utimes(QFile::encodeName(drills + u'/' + d).constData(), old), 0);
        ::chmod(QFile::encodeName(drills + u"/files-stale/files"_s).constData(), 0500);

        const RunFinished r = drill(m_cfg, u"files"_s);
        QVERIFY(!QFileInfo::exists(drills + u"/files-stale"_s));
        QVERIFY(QFileInfo::exists(drills + u"/files-fresh"_s));
        QVERIFY(QFileInfo::exists(drills + u"/docs-stale"_s));
        QDir(drills + u"/files-fresh"_s).removeRecursively();
        QDir(drills + u"/docs-stale"_s).removeRecursively();
        QVERIFY2(r.status == Status::Success, qPrintable(describe(r)));
        QCOMPARE(r.kind, RunKind::Drill);
        QCOMPARE(stepNames(r),
            (QStringList { u"latest"_s, u"sample"_s, u"extract"_s, u"verify"_s, u"cleanup"_s }));
        QCOMPARE(r.details.value("sample"_L1).toString(), u"random"_s);
        QCOMPARE(r.details.value("files_checked"_L1).toInt(), 15);
        const qint64 bytes = r.details.value("bytes_checked"_L1).toInteger();
        QVERIFY(bytes >= 15 * 1000 && bytes <= m_totalBytes);
        QCOMPARE(r.details.value("mismatches"_L1).toArray().size(), 0);
        QVERIFY(r.details.value("archive"_L1).toString().startsWith(u"testhost-files-"_s));
        verifyScratchGone(r);
    }

    void configuredPathsAreDrilledAsGiven()
    {
        const RunFinished r = drill(m_cfg, u"docs"_s);
        QVERIFY2(r.status == Status::Success, qPrintable(describe(r)));
        QCOMPARE(r.details.value("sample"_L1).toString(), u"paths"_s);
        QCOMPARE(r.details.value("files_checked"_L1).toInt(), 3); // a.txt, b.txt, f3.bin
        QCOMPARE(r.details.value("bytes_checked"_L1).toInteger(), 6 + 5 + 1000 + 997 * 3);
        verifyScratchGone(r);
    }

    void aConfiguredPathMissingFromTheArchiveFailsTheDrill()
    {
        const RunFinished r = drill(m_cfg, u"missing"_s);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"sample"_s);
        QVERIFY2(r.error.contains(u"the drill paths are not in archive"_s)
                && r.error.endsWith(u": not/backed/up"_s),
            qPrintable(describe(r)));
        const QJsonArray mismatches = r.details.value("mismatches"_L1).toArray();
        QCOMPARE(mismatches.size(), 1);
        QCOMPARE(mismatches.at(0).toObject().value("path"_L1).toString(), u"not/backed/up"_s);
        QCOMPARE(
            mismatches.at(0).toObject().value("problem"_L1).toString(), u"not in the archive"_s);
        QCOMPARE(r.details.value("files_checked"_L1).toInt(), 2); // the rest was still checked
        verifyScratchGone(r);
    }

    void aJobWithoutArchivesCannotBeDrilled()
    {
        const RunFinished r = drill(m_cfg, u"never"_s);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"latest"_s);
        QVERIFY2(r.error.contains(u"job never has no archive"_s), qPrintable(describe(r)));
    }

    void aCorruptedRepositoryFailsWithBorgsReason()
    {
        // Its own repository: the corruption must not spoil the other tests.
        const AgentConfig cfg = makeConfig(m_dir.path(), path(u"repo-fragile"_s),
            "jobs:\n  fragile:\n    repository: repo\n    sources: [" + path(u"fragile"_s).toUtf8()
                + "]\n    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
                  "    drill: {random_files: 100}\n");
        backup(cfg, u"fragile"_s, &m_locks);
        const RunFinished good = drill(cfg, u"fragile"_s);
        QVERIFY2(good.status == Status::Success, qPrintable(describe(good)));

        // Overwrite bytes in the middle of the largest segment (the file data).
        QString largest;
        qint64 size = 0;
        QDirIterator it(path(u"repo-fragile/data"_s), QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QString f = it.next();
            if (QFileInfo(f).size() > size) {
                size = QFileInfo(f).size();
                largest = f;
            }
        }
        QVERIFY(size > 1024 * 1024);
        QFile seg(largest);
        QVERIFY(seg.open(QIODevice::ReadWrite));
        QVERIFY(seg.seek(size / 2));
        QCOMPARE(seg.write(QByteArray(256, '\xa5')), qint64(256));
        seg.close();

        const RunFinished r = drill(cfg, u"fragile"_s);
        QCOMPARE(r.status, Status::Failed);
        QVERIFY2(r.error.startsWith(u"repository corrupted: "_s), qPrintable(describe(r)));
        QVERIFY2(r.error.contains(u"integrity"_s, Qt::CaseInsensitive), qPrintable(r.error));
        QVERIFY(!r.error.contains(u"Traceback"_s));
        QVERIFY(!QFileInfo::exists(DrillExecutor::scratchDirectory(cfg, r.job, r.runId)));
    }

    void aCancelledDrillCleansUp()
    {
        auto req = AgentCommands::runRequest(
            m_cfg, QString(protocol::type::DrillRun), { { u"job"_s, u"files"_s } }, u"c"_s);
        QVERIFY(req);
        RunExecutor ex(m_cfg, *req, &m_locks);
        QSignalSpy finished(&ex, &RunExecutor::finished);
        // Cancel once the sample is being extracted (the scratch directory exists by then).
        connect(&ex, &RunExecutor::stepStarted, &ex, [&ex](const QString &step, qint64 pid) {
            if (step == "extract"_L1 && pid > 0)
                ex.cancel(u"operator changed their mind"_s);
        });
        ex.start();
        QVERIFY(finished.wait(120000));
        const RunFinished r = finished.at(0).at(0).value<RunFinished>();
        QCOMPARE(r.status, Status::Cancelled);
        QCOMPARE(r.failedStep, u"extract"_s);
        QVERIFY2(r.error.contains(u"operator changed their mind"_s), qPrintable(describe(r)));
        verifyScratchGone(r);
    }
};

QTEST_GUILESS_MAIN(TestDrill)
#include "tst_drill.moc"
