// restore.extract of files with real borg: a deleted file comes back byte-identical under the
// restore root (default target <root>/<command id>), --strip-components, and the target
// policy — /etc, '..' tricks, symlinks leading out of the root and relative paths are refused
// before anything is written; restoring outside the roots (in place) only with
// restore.allow_in_place in the node's own config.
#include "restoretarget.h"
#include "runnertestsupport.h"
#include "sparky/protocol.h"

#include <QDirIterator>
#include <QTemporaryDir>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::agent::test;
using namespace sparky::protocol;
using namespace Qt::StringLiterals;

class TestRestore : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    RepositoryLocks m_locks;
    AgentConfig m_cfg;
    AgentConfig m_inPlaceCfg;
    QString m_archive;
    QString m_report; // absolute path of the file that gets deleted
    QByteArray m_reportSha;

    QString path(const QString &p) const { return m_dir.filePath(p); }
    QString root() const { return path(u"restore-root"_s); }

    QByteArray jobsYaml() const
    {
        return "jobs:\n  docs:\n    repository: repo\n    sources: [" + path(u"src"_s).toUtf8()
            + "]\n    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n";
    }

    RunRequest restoreRequest(const QJsonObject &body, const QString &commandId)
    {
        auto req = AgentCommands::runRequest(
            m_cfg, QString(protocol::type::RestoreExtract), body, commandId);
        if (!req)
            qFatal("restore request refused: %s", qPrintable(req.error().message));
        return *req;
    }

    QStringList entriesUnder(const QString &dir) const
    {
        QStringList out;
        QDirIterator it(dir, QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden | QDir::System,
            QDirIterator::Subdirectories);
        while (it.hasNext())
            out.append(it.next());
        return out;
    }

private Q_SLOTS:
    void initTestCase()
    {
        qRegisterMetaType<RunFinished>();
        QVERIFY(m_dir.isValid());
        writeFile(path(u"src/docs/report.bin"_s), randomBytes(300000));
        writeFile(path(u"src/docs/notes.txt"_s), "keep me\n");
        writeFile(path(u"src/other.txt"_s), "other\n");
        m_report = path(u"src/docs/report.bin"_s);
        m_reportSha = sha256(m_report);
        QVERIFY(QDir().mkpath(path(u"outside"_s)));
        m_cfg = makeConfig(m_dir.path(), path(u"repo"_s),
            jobsYaml() + "restore:\n  roots: [" + root().toUtf8() + "]\n");
        m_inPlaceCfg = makeConfig(m_dir.path(), path(u"repo"_s),
            jobsYaml() + "restore:\n  roots: [" + root().toUtf8() + "]\n  allow_in_place: true\n");
        m_archive = archiveOf(backup(m_cfg, u"docs"_s, &m_locks));
        QVERIFY(!m_archive.isEmpty());
    }

    void aDeletedFileIsRestoredByteIdenticalUnderTheRoot()
    {
        QVERIFY(QFile::remove(m_report));
        QList<RunProgress> progress;
        const RunRequest req
            = restoreRequest({ { u"job"_s, u"docs"_s }, { u"archive"_s, m_archive },
                                 { u"paths"_s, QJsonArray { m_report } } },
                u"cmd-restore-1"_s);
        QCOMPARE(req.kind, RunKind::Restore);
        QCOMPARE(req.trigger, u"command"_s);
        const RunFinished r = runToEnd(m_cfg, req, &m_locks, &progress);
        QVERIFY2(r.status == Status::Success, qPrintable(describe(r)));
        QCOMPARE(r.kind, RunKind::Restore);
        QCOMPARE(r.commandId, u"cmd-restore-1"_s);
        QCOMPARE(stepNames(r), (QStringList { u"target"_s, u"extract"_s }));
        const QString target = root() + u"/cmd-restore-1"_s;
        const QString restored = target + m_report;
        QCOMPARE(sha256(restored), m_reportSha);
        QCOMPARE(r.details.value("target"_L1).toString(), target);
        QCOMPARE(r.details.value("files"_L1).toInt(), 1);
        QCOMPARE(r.details.value("bytes"_L1).toInteger(), 300000);
        QVERIFY(r.details.value("entries"_L1).toInt() >= 1);
        QCOMPARE(r.details.value("errors"_L1).toArray().size(), 0);
        // Only what was asked for, and nothing at the original place.
        QVERIFY(!QFile::exists(target + path(u"src/docs/notes.txt"_s)));
        QVERIFY(!QFile::exists(m_report));
        QCOMPARE(QFileInfo(target).permissions() & (QFile::ReadOther | QFile::WriteOther),
            QFile::Permissions());
    }

    void stripComponentsDropsLeadingDirectories()
    {
        const int depth = int(QDir::cleanPath(path(u"src/docs"_s)).count(u'/'));
        const RunFinished r = runToEnd(m_cfg,
            restoreRequest({ { u"job"_s, u"docs"_s }, { u"archive"_s, m_archive },
                               { u"paths"_s, QJsonArray { path(u"src/docs"_s) } },
                               { u"strip_components"_s, depth } },
                u"cmd-restore-2"_s),
            &m_locks);
        QVERIFY2(r.status == Status::Success, qPrintable(describe(r)));
        QCOMPARE(readFile(root() + u"/cmd-restore-2/notes.txt"_s), QByteArray("keep me\n"));
        QCOMPARE(sha256(root() + u"/cmd-restore-2/report.bin"_s), m_reportSha);
        QCOMPARE(r.details.value("files"_L1).toInt(), 2);
    }

    void aMissingPathIsAWarningThatSaysSo()
    {
        const RunFinished r = runToEnd(m_cfg,
            restoreRequest({ { u"job"_s, u"docs"_s }, { u"archive"_s, m_archive },
                               { u"paths"_s, QJsonArray { u"no/such/file"_s } } },
                u"cmd-restore-3"_s),
            &m_locks);
        QCOMPARE(r.status, Status::Warning);
        QVERIFY2(r.error.contains(u"never matched"_s), qPrintable(describe(r)));
        QCOMPARE(r.details.value("files"_L1).toInt(), 0);
    }

    void targetsOutsideTheRootsAreRefused_data()
    {
        QTest::addColumn<QString>("target");
        QTest::addColumn<QString>("commandId");
        QTest::addColumn<QString>("error");
        QTest::newRow("/etc") << u"/etc"_s << u"c1"_s << u"is outside the restore roots"_s;
        QTest::newRow("dot-dot") << root() + u"/../../etc"_s << u"c2"_s << u"contains '..'"_s;
        QTest::newRow("symlink out of the root")
            << root() + u"/escape/sub"_s << u"c3"_s << u"resolves to"_s;
        QTest::newRow("default target planted as a symlink")
            << QString() << u"planted"_s << u"resolves to"_s;
        QTest::newRow("relative") << u"restore-here"_s << u"c4"_s << u"must be an absolute path"_s;
        QTest::newRow("dangling symlink")
            << root() + u"/dangling/x"_s << u"c5"_s << u"dangling symlink"_s;
    }

    void targetsOutsideTheRootsAreRefused()
    {
        QFETCH(QString, target);
        QFETCH(QString, commandId);
        QFETCH(QString, error);
        QVERIFY(QDir().mkpath(root()));
        QFile::link(path(u"outside"_s), root() + u"/escape"_s);
        QFile::link(path(u"outside"_s), root() + u"/planted"_s);
        QFile::link(path(u"nowhere/at/all"_s), root() + u"/dangling"_s);
        const QStringList rootBefore = entriesUnder(root());

        QJsonObject body { { u"job"_s, u"docs"_s }, { u"archive"_s, m_archive },
            { u"paths"_s, QJsonArray { m_report } } };
        if (!target.isEmpty())
            body.insert(u"target"_s, target);
        // The command is refused before it is accepted …
        const Result v = AgentCommands::validate(
            m_cfg, QString(protocol::type::RestoreExtract), body, commandId);
        QVERIFY(!v);
        QVERIFY2(v.error().message.startsWith(u"body.target: "_s), qPrintable(v.error().message));
        QVERIFY2(v.error().message.contains(error), qPrintable(v.error().message));
        // … and a run asked for directly fails at once, before the repository is touched.
        RunRequest req;
        req.kind = RunKind::Restore;
        req.job = u"docs"_s;
        req.commandId = commandId;
        req.restore.archive = m_archive;
        req.restore.paths = { m_report.mid(1) };
        req.restore.target = target;
        const RunFinished r = runToEnd(m_cfg, req, &m_locks);
        QCOMPARE(r.status, Status::Failed);
        QCOMPARE(r.failedStep, u"validate"_s);
        QVERIFY2(r.error.contains(error), qPrintable(describe(r)));
        // Nothing was written anywhere.
        QCOMPARE(entriesUnder(path(u"outside"_s)), QStringList());
        QCOMPARE(entriesUnder(root()), rootBefore);
        QVERIFY(!QFileInfo::exists(u"/etc"_s + m_report));
    }

    void inPlaceOnlyWithTheNodesFlag()
    {
        QFile::remove(m_report);
        const QJsonObject body { { u"job"_s, u"docs"_s }, { u"archive"_s, m_archive },
            { u"paths"_s, QJsonArray { m_report } }, { u"target"_s, u"/"_s } };
        const Result refused
            = AgentCommands::validate(m_cfg, QString(protocol::type::RestoreExtract), body);
        QVERIFY(!refused);
        QVERIFY2(refused.error().message.contains(u"restore.allow_in_place"_s),
            qPrintable(refused.error().message));
        QVERIFY(!QFile::exists(m_report));

        auto req = AgentCommands::runRequest(
            m_inPlaceCfg, QString(protocol::type::RestoreExtract), body, u"cmd-in-place"_s);
        QVERIFY2(req, req ? "" : qPrintable(req.error().message));
        const RunFinished r = runToEnd(m_inPlaceCfg, *req, &m_locks);
        QVERIFY2(r.status == Status::Success, qPrintable(describe(r)));
        QCOMPARE(r.details.value("target"_L1).toString(), u"/"_s);
        QCOMPARE(sha256(m_report), m_reportSha); // back where it was
    }

    void restoreTargetResolution_data()
    {
        QTest::addColumn<QString>("input");
        QTest::addColumn<QString>("expected");
        QTest::newRow("plain") << u"/nonexistent-sparky/a/b"_s << u"/nonexistent-sparky/a/b"_s;
        QTest::newRow("double slashes")
            << u"//nonexistent-sparky//a/"_s << u"/nonexistent-sparky/a"_s;
        QTest::newRow("root") << u"/"_s << u"/"_s;
    }

    void restoreTargetResolution()
    {
        QFETCH(QString, input);
        QFETCH(QString, expected);
        QCOMPARE(RestoreTarget::resolve(input), expected);
        QVERIFY(RestoreTarget::isUnder(u"/a/b"_s, u"/a"_s));
        QVERIFY(!RestoreTarget::isUnder(u"/ab"_s, u"/a"_s));
        QVERIFY(RestoreTarget::isUnder(u"/a"_s, u"/a"_s));
    }
};

QTEST_GUILESS_MAIN(TestRestore)
#include "tst_restore.moc"
