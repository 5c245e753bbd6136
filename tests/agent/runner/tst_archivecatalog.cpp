// archives.list and archive.browse against real borg (a local repository shared by two jobs
// whose names nearly collide): the job's archives with borg's statistics and none of the
// other job's; a directory of 2,500 files paged with a cursor and with page numbers, in a
// stable order, with correct totals, synthesised directories, and pages bounded in bytes.
#include "directorylisting.h"
#include "runnertestsupport.h"
#include "sparky/protocol.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QSet>
#include <QTemporaryDir>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::agent::test;
using namespace Qt::StringLiterals;
namespace type = sparky::protocol::type;

class TestArchiveCatalog : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    RepositoryLocks m_locks;
    AgentConfig m_cfg;
    QStringList m_webArchives;
    QString m_otherArchive;
    QString m_src; // archive path of the source tree ("tmp/…/src")
    static constexpr int kManyFiles = 2500;

    QString path(const QString &p) const { return m_dir.filePath(p); }

    QJsonObject browse(const QJsonObject &body)
    {
        const JobOutcome r = runCommand(m_cfg, QString(type::ArchiveBrowse), body);
        if (!r.ok)
            qFatal("browse failed: %s", qPrintable(r.error.message));
        // The page must fit a message with plenty of room (the envelope limit is 1 MiB).
        const qsizetype bytes = QJsonDocument(r.result).toJson(QJsonDocument::Compact).size();
        if (bytes > DirectoryListing::kMaxPageBytes + 64 * 1024)
            qFatal("page of %lld bytes", qint64(bytes));
        return r.result;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        // src/many: 2,500 small files; src/a/b/c/deep.txt; a symlink; an empty dir.
        for (int i = 0; i < kManyFiles; ++i)
            writeFile(path(u"src/many/file-%1.txt"_s.arg(i, 4, 10, QChar(u'0'))),
                QByteArray::number(i) + '\n');
        writeFile(path(u"src/a/b/c/deep.txt"_s), "deep\n");
        writeFile(path(u"src/top.bin"_s), randomBytes(2000000));
        QVERIFY(QFile::link(u"top.bin"_s, path(u"src/link-to-top"_s)));
        QVERIFY(QDir().mkpath(path(u"src/empty"_s)));
        writeFile(path(u"other/o.txt"_s), "other job\n");
        m_src = QDir::cleanPath(path(u"src"_s)).mid(1);

        const QByteArray jobs = "jobs:\n"
                                "  web:\n    repository: repo\n    sources: ["
            + path(u"src"_s).toUtf8()
            + "]\n    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n"
              "  web-old:\n    repository: repo\n    sources: ["
            + path(u"other"_s).toUtf8()
            + "]\n    archive_name: '{hostname}-{job}-{now:%Y%m%d%H%M%S.%f}'\n";
        m_cfg = makeConfig(m_dir.path(), path(u"repo"_s), jobs);
        m_webArchives.append(archiveOf(backup(m_cfg, u"web"_s, &m_locks)));
        m_otherArchive = archiveOf(backup(m_cfg, u"web-old"_s, &m_locks));
        writeFile(path(u"src/added-later.txt"_s), "second archive\n");
        m_webArchives.append(archiveOf(backup(m_cfg, u"web"_s, &m_locks)));
        QCOMPARE(m_webArchives.size(), 2);
    }

    void listShowsTheJobsArchivesWithStatsAndNoOthers()
    {
        const JobOutcome r
            = runCommand(m_cfg, QString(type::ArchivesList), { { u"job"_s, u"web"_s } });
        QVERIFY2(r.ok, qPrintable(r.error.message));
        QCOMPARE(r.result.value("job"_L1).toString(), u"web"_s);
        QCOMPARE(r.result.value("repository"_L1).toString(), path(u"repo"_s));
        const QJsonArray archives = r.result.value("archives"_L1).toArray();
        QStringList names;
        for (const QJsonValue &v : archives)
            names.append(v.toObject().value("name"_L1).toString());
        QCOMPARE(names, m_webArchives); // oldest first, web-old's archive not among them
        QCOMPARE(r.result.value("total"_L1).toInt(), 2);
        QCOMPARE(r.result.value("truncated"_L1).toBool(), false);
        const QJsonObject second = archives.at(1).toObject();
        QCOMPARE(second.value("kind"_L1).toString(), u"files"_s);
        QCOMPARE(second.value("series"_L1).toString(), u"web"_s);
        QCOMPARE(second.value("id"_L1).toString().size(), 64);
        QVERIFY(parseTimestamp(second.value("start"_L1).toString()).has_value());
        QVERIFY(parseTimestamp(second.value("end"_L1).toString()).has_value());
        const QJsonObject stats = second.value("stats"_L1).toObject();
        // borg's nfiles counts regular files: 2,500 + deep.txt + top.bin + added-later.txt.
        QCOMPARE(stats.value("files"_L1).toInteger(), qint64(kManyFiles + 3));
        QVERIFY(stats.value("original_size"_L1).toInteger() > 2000000);
        QVERIFY(stats.value("compressed_size"_L1).toInteger() > 0);
        // The second archive shares almost everything with the first.
        QVERIFY(stats.value("deduplicated_size"_L1).toInteger()
            < stats.value("original_size"_L1).toInteger() / 4);

        const JobOutcome other
            = runCommand(m_cfg, QString(type::ArchivesList), { { u"job"_s, u"web-old"_s } });
        QVERIFY(other.ok);
        QCOMPARE(other.result.value("archives"_L1).toArray().size(), 1);
        QCOMPARE(other.result.value("archives"_L1)
                     .toArray()
                     .at(0)
                     .toObject()
                     .value("name"_L1)
                     .toString(),
            m_otherArchive);
    }

    void listLastAndWithoutStats()
    {
        const JobOutcome r = runCommand(m_cfg, QString(type::ArchivesList),
            { { u"job"_s, u"web"_s }, { u"stats"_s, false }, { u"last"_s, 1 } });
        QVERIFY2(r.ok, qPrintable(r.error.message));
        const QJsonArray archives = r.result.value("archives"_L1).toArray();
        QCOMPARE(archives.size(), 1);
        QCOMPARE(archives.at(0).toObject().value("name"_L1).toString(), m_webArchives.last());
        QVERIFY(!archives.at(0).toObject().contains("stats"_L1));
        QCOMPARE(r.result.value("total"_L1).toInt(), 2);
        QCOMPARE(r.result.value("truncated"_L1).toBool(), true);
    }

    void browseSynthesisesDirectoriesAndDescribesEntries()
    {
        // The archive's root holds only "tmp" (borg stores absolute sources without the
        // leading slash), which has no item of its own: synthesised.
        const QJsonObject root
            = browse({ { u"job"_s, u"web"_s }, { u"archive"_s, m_webArchives.first() } });
        QCOMPARE(root.value("total"_L1).toInt(), 1);
        const QJsonObject top = root.value("entries"_L1).toArray().at(0).toObject();
        QCOMPARE(top.value("name"_L1).toString(), m_src.section(u'/', 0, 0));
        QCOMPARE(top.value("type"_L1).toString(), u"dir"_s);

        const QJsonObject src
            = browse({ { u"job"_s, u"web"_s }, { u"archive"_s, m_webArchives.first() },
                { u"path"_s, QString(u"/"_s + m_src + u"/"_s) } });
        QCOMPARE(src.value("path"_L1).toString(), m_src);
        QStringList names;
        QHash<QString, QJsonObject> byName;
        for (const QJsonValue &v : src.value("entries"_L1).toArray()) {
            names.append(v.toObject().value("name"_L1).toString());
            byName.insert(names.last(), v.toObject());
        }
        // Directories first, then the rest, each by name.
        QCOMPARE(
            names, (QStringList { u"a"_s, u"empty"_s, u"many"_s, u"link-to-top"_s, u"top.bin"_s }));
        QCOMPARE(src.value("total"_L1).toInt(), 5);
        QVERIFY(!src.contains("next_cursor"_L1));
        QCOMPARE(byName.value(u"top.bin"_s).value("type"_L1).toString(), u"file"_s);
        QCOMPARE(byName.value(u"top.bin"_s).value("size"_L1).toInteger(), 2000000);
        QCOMPARE(byName.value(u"top.bin"_s).value("mode"_L1).toString().left(1), u"-"_s);
        QVERIFY(parseTimestamp(byName.value(u"top.bin"_s).value("mtime"_L1).toString()));
        QCOMPARE(byName.value(u"link-to-top"_s).value("type"_L1).toString(), u"link"_s);
        QCOMPARE(byName.value(u"link-to-top"_s).value("target"_L1).toString(), u"top.bin"_s);
        QVERIFY(!byName.value(u"a"_s).contains("synthetic"_L1)); // "a" has an item of its own

        const QJsonObject b = browse({ { u"job"_s, u"web"_s },
            { u"archive"_s, m_webArchives.first() }, { u"path"_s, QString(m_src + u"/a/b"_s) } });
        QCOMPARE(b.value("entries"_L1).toArray().size(), 1);
        QCOMPARE(
            b.value("entries"_L1).toArray().at(0).toObject().value("name"_L1).toString(), u"c"_s);
    }

    void browsePagesThroughALargeDirectoryWithACursor()
    {
        const QString many = m_src + u"/many"_s;
        QStringList all;
        QString cursor;
        int pages = 0;
        qint64 expectedOffset = 0;
        while (true) {
            QJsonObject body { { u"job"_s, u"web"_s }, { u"archive"_s, m_webArchives.first() },
                { u"path"_s, many }, { u"page_size"_s, 1000 } };
            if (!cursor.isEmpty())
                body.insert(u"cursor"_s, cursor);
            const QJsonObject page = browse(body);
            ++pages;
            QCOMPARE(page.value("total"_L1).toInt(), kManyFiles);
            QCOMPARE(page.value("offset"_L1).toInteger(), expectedOffset);
            const QJsonArray entries = page.value("entries"_L1).toArray();
            QVERIFY(entries.size() <= 1000);
            for (const QJsonValue &v : entries)
                all.append(v.toObject().value("name"_L1).toString());
            expectedOffset += entries.size();
            cursor = page.value("next_cursor"_L1).toString();
            if (cursor.isEmpty())
                break;
            QVERIFY(pages < 10);
        }
        QCOMPARE(pages, 3);
        QCOMPARE(all.size(), kManyFiles);
        QCOMPARE(QSet<QString>(all.begin(), all.end()).size(), kManyFiles); // no repeats
        QStringList sorted = all;
        std::sort(sorted.begin(), sorted.end());
        QCOMPARE(all, sorted); // stable, sorted order across pages
        QCOMPARE(all.first(), u"file-0000.txt"_s);
        QCOMPARE(all.last(), u"file-2499.txt"_s);

        // Page numbers give the same slices.
        const QJsonObject page2
            = browse({ { u"job"_s, u"web"_s }, { u"archive"_s, m_webArchives.first() },
                { u"path"_s, many }, { u"page_size"_s, 1000 }, { u"page"_s, 2 } });
        QCOMPARE(page2.value("offset"_L1).toInt(), 2000);
        const QJsonArray e2 = page2.value("entries"_L1).toArray();
        QCOMPARE(e2.size(), 500);
        QCOMPARE(e2.at(0).toObject().value("name"_L1).toString(), all.at(2000));
        QVERIFY(!page2.contains("next_cursor"_L1));
    }

    void browseErrorsNameTheProblem()
    {
        const QString archive = m_webArchives.first();
        auto fails = [&](const QJsonObject &body, ErrorCode code, const QString &text) {
            const JobOutcome r = runCommand(m_cfg, QString(type::ArchiveBrowse), body);
            QVERIFY2(!r.ok, qPrintable(QString::fromUtf8(QJsonDocument(r.result).toJson())));
            QVERIFY2(r.error.code == code, qPrintable(r.error.toString()));
            QVERIFY2(r.error.message.contains(text), qPrintable(r.error.message));
        };
        fails(
            { { u"job"_s, u"web"_s }, { u"archive"_s, archive }, { u"path"_s, u"no/such/dir"_s } },
            ErrorCode::NotFound, u"'no/such/dir' is not in archive"_s);
        fails({ { u"job"_s, u"web"_s }, { u"archive"_s, archive },
                  { u"path"_s, QString(m_src + u"/top.bin"_s) } },
            ErrorCode::Validation, u"is a file, not a directory"_s);
        // Another job's archive is not this job's to browse.
        fails({ { u"job"_s, u"web"_s }, { u"archive"_s, m_otherArchive } }, ErrorCode::Validation,
            u"is not an archive of job 'web'"_s);
        fails({ { u"job"_s, u"web"_s }, { u"archive"_s, u"testhost-web-20000101000000.000000"_s } },
            ErrorCode::NotFound, u"does not exist"_s);
    }

    void bodiesAreCheckedStrictly_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QString>("error");
        const QByteArray a = "\"archive\":\"testhost-web-1\"";
        QTest::newRow("unknown field")
            << QString(type::ArchivesList) << QByteArray(R"({"job":"web","jobs":"x"})")
            << u"body: unknown field 'jobs'"_s;
        QTest::newRow("unknown job")
            << QString(type::ArchivesList) << QByteArray(R"({"job":"nope"})")
            << u"body.job: no job named 'nope'"_s;
        QTest::newRow("job not a string")
            << QString(type::ArchivesList) << QByteArray(R"({"job":1})") << u"body.job"_s;
        QTest::newRow("last out of range")
            << QString(type::ArchivesList) << QByteArray(R"({"job":"web","last":0})")
            << u"body.last"_s;
        QTest::newRow("stats not bool")
            << QString(type::ArchivesList) << QByteArray(R"({"job":"web","stats":"yes"})")
            << u"body.stats"_s;
        QTest::newRow("browse without archive")
            << QString(type::ArchiveBrowse) << QByteArray(R"({"job":"web"})") << u"body.archive"_s;
        QTest::newRow("archive with ::")
            << QString(type::ArchiveBrowse) << QByteArray(R"({"job":"web","archive":"r::x"})")
            << u"body.archive"_s;
        QTest::newRow("dot-dot path") << QString(type::ArchiveBrowse)
                                      << ("{\"job\":\"web\"," + a + ",\"path\":\"etc/../..\"}")
                                      << u"body.path: '..' is not allowed"_s;
        QTest::newRow("newline in path")
            << QString(type::ArchiveBrowse) << ("{\"job\":\"web\"," + a + ",\"path\":\"a\\nb\"}")
            << u"body.path: control characters"_s;
        QTest::newRow("page too big")
            << QString(type::ArchiveBrowse) << ("{\"job\":\"web\"," + a + ",\"page_size\":1001}")
            << u"body.page_size"_s;
        QTest::newRow("bad cursor")
            << QString(type::ArchiveBrowse) << ("{\"job\":\"web\"," + a + ",\"cursor\":\"x\"}")
            << u"body.cursor: not a cursor"_s;
        QTest::newRow("page and cursor")
            << QString(type::ArchiveBrowse)
            << ("{\"job\":\"web\"," + a + ",\"cursor\":\"f/x\",\"page\":1}")
            << u"body.page: give either page or cursor"_s;
        QTest::newRow("page too deep")
            << QString(type::ArchiveBrowse)
            << ("{\"job\":\"web\"," + a + ",\"page_size\":1000,\"page\":100}")
            << u"body.page: page numbers reach"_s;
        QTest::newRow("drill extra field")
            << QString(type::DrillRun) << QByteArray(R"({"job":"web","paths":[]})")
            << u"body: unknown field 'paths'"_s;
        QTest::newRow("key command on a client")
            << QString(type::KeyAuthorize) << QByteArray(R"({"node":"a"})")
            << u"not a repository host"_s;
        QTest::newRow("unknown type") << u"archives.delete"_s << QByteArray(R"({"job":"web"})")
                                      << u"not a command the runner handles"_s;
    }

    void bodiesAreCheckedStrictly()
    {
        QFETCH(QString, type);
        QFETCH(QByteArray, body);
        QFETCH(QString, error);
        const QJsonObject o = QJsonDocument::fromJson(body).object();
        QVERIFY(!o.isEmpty());
        const Result r = AgentCommands::validate(m_cfg, type, o);
        QVERIFY(!r);
        QVERIFY2(r.error().message.contains(error), qPrintable(r.error().message));
        if (AgentCommands::isJobCommand(type)) {
            auto job = AgentCommands::createJob(m_cfg, type, o);
            QVERIFY(!job);
            QCOMPARE(job.error().message, r.error().message);
        }
    }
};

QTEST_GUILESS_MAIN(TestArchiveCatalog)
#include "tst_archivecatalog.moc"
