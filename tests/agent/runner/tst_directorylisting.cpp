// The pure parts of browsing, restoring and drilling: DirectoryListing (children of one
// directory from a stream of borg items: synthesised directories, order, paging by cursor
// and by number, the byte bound), ArchivePath (what an archive path may be), BorgMessages
// (borg's errors boiled down, damaged repositories recognised) and the new borg command lines.
#include "archivepath.h"
#include "borgcommands.h"
#include "borgmessages.h"
#include "directorylisting.h"
#include "postgresclient.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace sparky;
using namespace sparky::agent;
using namespace Qt::StringLiterals;

namespace {

QByteArray jsonString(const QString &s)
{
    const QByteArray a = QJsonDocument(QJsonArray { s }).toJson(QJsonDocument::Compact);
    return a.mid(1, a.size() - 2);
}

// One item as borg 1.2's `list --json-lines` prints it (json.dumps: "type" first, ", " and
// ": " separators), which DirectoryListing reads without a full parse when it can.
QByteArray item(
    const QString &path, const char *type = "-", qint64 size = 1, const QString &target = {})
{
    return "{\"type\": \"" + QByteArray(type) + "\", \"mode\": \"" + QByteArray(type)
        + "rw-r--r--\", \"user\": \"root\", \"path\": " + jsonString(path)
        + ", \"healthy\": true, \"source\": \"\", \"linktarget\": " + jsonString(target)
        + ", \"flags\": 0, \"mtime\": \"2026-11-25T17:08:39.787771\", \"size\": "
        + QByteArray::number(size) + "}";
}

// The same item as compact JSON with sorted keys: always parsed in full.
QByteArray compactItem(const QString &path, const char *type = "-", qint64 size = 1)
{
    return QJsonDocument(QJsonDocument::fromJson(item(path, type, size)).object())
        .toJson(QJsonDocument::Compact);
}

QStringList names(const QJsonObject &page)
{
    QStringList out;
    for (const QJsonValue &v : page.value("entries"_L1).toArray())
        out.append(v.toObject().value("name"_L1).toString()
            + (v.toObject().value("type"_L1).toString() == "dir"_L1 ? u"/"_s : QString()));
    return out;
}

} // namespace

class TestDirectoryListing : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void childrenOfOneDirectory_data()
    {
        QTest::addColumn<QString>("directory");
        QTest::addColumn<QStringList>("expected");
        QTest::newRow("root: only synthesised prefixes")
            << QString() << QStringList { u"etc/"_s, u"srv/"_s };
        QTest::newRow("srv") << u"srv"_s << QStringList { u"www/"_s };
        QTest::newRow("www: dirs first, then names")
            << u"srv/www"_s
            << QStringList { u"a-dir/"_s, u"z-dir/"_s, u"B.txt"_s, u"a.txt"_s, u"link"_s };
        QTest::newRow("etc: repeats across sources counted once")
            << u"etc"_s << QStringList { u"nginx/"_s, u"hosts"_s };
    }

    void childrenOfOneDirectory()
    {
        QFETCH(QString, directory);
        QFETCH(QStringList, expected);
        DirectoryListing l(directory, 100);
        // As borg lists two sources (/srv/www and /etc), each subtree contiguous; /etc/nginx
        // again from a third source later.
        for (const QByteArray &line :
            { item(u"srv/www"_s, "d"), item(u"srv/www/a.txt"_s), item(u"srv/www/B.txt"_s),
                item(u"srv/www/z-dir"_s, "d"), item(u"srv/www/z-dir/deep/file"_s),
                item(u"srv/www/a-dir/x"_s), item(u"srv/www/link"_s, "l", 0, u"a.txt"_s),
                item(u"etc/hosts"_s), item(u"etc/nginx/nginx.conf"_s), QByteArray("not json"),
                item(u"etc/nginx/sites/a"_s) })
            l.addLine(line);
        QVERIFY(l.found());
        QVERIFY(!l.isFile());
        const QJsonObject page = l.page();
        QCOMPARE(names(page), expected);
        QCOMPARE(page.value("total"_L1).toInt(), expected.size());
        QVERIFY(!page.contains("next_cursor"_L1));
        QCOMPARE(l.malformedLines(), 1);
    }

    void entriesCarryWhatBorgSaid()
    {
        DirectoryListing l(u"d"_s, 10);
        l.addLine(item(u"d"_s, "d"));
        l.addLine(item(u"d/f"_s, "-", 1234));
        l.addLine(item(u"d/l"_s, "l", 0, u"../target"_s));
        l.addLine(item(u"d/s/x"_s));
        l.addLine(item(u"d/t/x"_s)); // seen below first, …
        l.addLine(item(u"d/t"_s, "d", 0)); // … then its own item replaces the synthesised one
        QJsonObject broken = QJsonDocument::fromJson(item(u"d/g"_s)).object();
        broken.insert(u"healthy"_s, false);
        l.addItem(broken);
        QJsonArray e = l.page().value("entries"_L1).toArray();
        QCOMPARE(e.size(), 5);
        const QJsonObject t = e.takeAt(1).toObject();
        QCOMPARE(t.value("name"_L1).toString(), u"t"_s);
        QVERIFY(!t.contains("synthetic"_L1));
        QCOMPARE(t.value("mode"_L1).toString(), u"drw-r--r--"_s);
        const QJsonObject s = e.at(0).toObject();
        QCOMPARE(s.value("name"_L1).toString(), u"s"_s);
        QCOMPARE(s.value("synthetic"_L1).toBool(), true);
        QVERIFY(!s.contains("size"_L1));
        const QJsonObject f = e.at(1).toObject();
        QCOMPARE(f.value("type"_L1).toString(), u"file"_s);
        QCOMPARE(f.value("size"_L1).toInteger(), 1234);
        QCOMPARE(f.value("mtime"_L1).toString(), u"2026-11-25T17:08:39.787Z"_s); // UTC
        QCOMPARE(f.value("mode"_L1).toString(), u"-rw-r--r--"_s);
        QVERIFY(!f.contains("healthy"_L1));
        QCOMPARE(e.at(2).toObject().value("healthy"_L1).toBool(true), false);
        QCOMPARE(e.at(3).toObject().value("type"_L1).toString(), u"link"_s);
        QCOMPARE(e.at(3).toObject().value("target"_L1).toString(), u"../target"_s);
    }

    void aFileOrAMissingPathIsNoDirectory()
    {
        DirectoryListing file(u"d/f"_s, 10);
        file.addLine(item(u"d/f"_s));
        QVERIFY(file.found());
        QVERIFY(file.isFile());
        DirectoryListing missing(u"nope"_s, 10);
        QVERIFY(!missing.found());
        DirectoryListing emptyRoot(QString(), 10);
        QVERIFY(emptyRoot.found()); // an empty archive still has its root
        QCOMPARE(emptyRoot.page().value("total"_L1).toInt(), 0);
    }

    void cursorAndPageNumbersWalkTheSameOrder()
    {
        constexpr int kN = 12000;
        bool compact = false; // borg's own format (mostly read without a full parse), or not
        auto feed = [&compact](DirectoryListing &l) {
            // Out of order on purpose, and interleaved with directories and deeper items.
            for (int i = kN - 1; i >= 0; --i) {
                const QString f = u"big/f%1"_s.arg(i * 7919 % kN, 5, 10, QChar(u'0'));
                l.addLine(compact ? compactItem(f, "-", i) : item(f, "-", i));
                if (i % 1000 == 0) {
                    const QString d = u"big/dir%1/x"_s.arg(i);
                    l.addLine(compact ? compactItem(d) : item(d));
                }
            }
        };
        QStringList viaCursor;
        QString cursor;
        int pages = 0;
        while (true) {
            DirectoryListing l(u"big"_s, 1000, cursor);
            feed(l);
            const QJsonObject p = l.page();
            QCOMPARE(p.value("total"_L1).toInt(), kN + 12);
            QCOMPARE(p.value("offset"_L1).toInt(), viaCursor.size());
            viaCursor += names(p);
            cursor = p.value("next_cursor"_L1).toString();
            ++pages;
            if (cursor.isEmpty())
                break;
        }
        QCOMPARE(pages, 13);
        QCOMPARE(viaCursor.size(), kN + 12);
        QCOMPARE(viaCursor.first(), u"dir0/"_s);
        QCOMPARE(viaCursor.at(12), u"f00000"_s);
        QCOMPARE(viaCursor.last(), u"f%1"_s.arg(kN - 1, 5, 10, QChar(u'0')));
        for (int page : { 0, 3, 12 }) {
            DirectoryListing l(u"big"_s, 1000, QString(), page);
            feed(l);
            const QJsonObject p = l.page();
            QCOMPARE(p.value("offset"_L1).toInt(), page * 1000);
            QCOMPARE(names(p), viaCursor.mid(page * 1000, 1000));
            // Read in full, the same items give exactly the same page.
            compact = true;
            DirectoryListing full(u"big"_s, 1000, QString(), page);
            feed(full);
            compact = false;
            QCOMPARE(full.page(), p);
        }
    }

    void pagesStayUnderTheByteBound()
    {
        // 1000 entries with the longest names and link targets, every character escaped.
        const QString longName = QString(200, QChar(0x1));
        DirectoryListing l(u"x"_s, 1000);
        for (int i = 0; i < 1000; ++i)
            l.addLine(
                item(u"x/"_s + longName + QString::number(i), "l", 0, QString(3000, QChar(u'"'))));
        const QJsonObject first = l.page();
        const qsizetype bytes = QJsonDocument(first).toJson(QJsonDocument::Compact).size();
        QVERIFY2(bytes <= DirectoryListing::kMaxPageBytes, qPrintable(QString::number(bytes)));
        const int n = int(first.value("entries"_L1).toArray().size());
        QVERIFY(n > 10 && n < 1000);
        QVERIFY(first.contains("next_cursor"_L1));
        QCOMPARE(first.value("entries"_L1)
                     .toArray()
                     .at(0)
                     .toObject()
                     .value("target"_L1)
                     .toString()
                     .size(),
            DirectoryListing::kMaxLinkTarget);
        // The cursor continues exactly after the last entry returned.
        DirectoryListing next(u"x"_s, 1000, first.value("next_cursor"_L1).toString());
        for (int i = 0; i < 1000; ++i)
            next.addLine(item(u"x/"_s + longName + QString::number(i), "l", 0, u"t"_s));
        QCOMPARE(next.page().value("offset"_L1).toInt(), n);
    }

    void cursorsAreChecked_data()
    {
        QTest::addColumn<QString>("cursor");
        QTest::addColumn<bool>("ok");
        QTest::newRow("empty") << QString() << true;
        QTest::newRow("dir") << u"d/etc"_s << true;
        QTest::newRow("file") << u"f/a b"_s << true;
        QTest::newRow("no name") << u"f/"_s << false;
        QTest::newRow("other kind") << u"x/a"_s << false;
        QTest::newRow("slash in name") << u"f/a/b"_s << false;
    }

    void cursorsAreChecked()
    {
        QFETCH(QString, cursor);
        QFETCH(bool, ok);
        QCOMPARE(bool(DirectoryListing::checkCursor(cursor, u"body.cursor"_s)), ok);
    }

    void archivePaths_data()
    {
        QTest::addColumn<QString>("input");
        QTest::addColumn<QString>("expected"); // empty with error set: refused
        QTest::addColumn<QString>("error");
        QTest::newRow("absolute") << u"/etc/nginx/"_s << u"etc/nginx"_s << QString();
        QTest::newRow("double slashes") << u"//srv//www"_s << u"srv/www"_s << QString();
        QTest::newRow("root") << u"/"_s << QString() << QString();
        QTest::newRow("spaces kept") << u"/home/a b/c "_s << u"home/a b/c "_s << QString();
        QTest::newRow("pattern prefix is a plain name") << u"re:.*"_s << u"re:.*"_s << QString();
        QTest::newRow("dot-dot") << u"etc/../root"_s << QString() << u"'..' is not allowed"_s;
        QTest::newRow("dot") << u"./etc"_s << QString() << u"'.' is not allowed"_s;
        QTest::newRow("newline") << u"etc\nx"_s << QString() << u"control characters"_s;
        QTest::newRow("too long") << QString(5000, u'a') << QString() << u"longer than"_s;
    }

    void archivePaths()
    {
        QFETCH(QString, input);
        QFETCH(QString, expected);
        QFETCH(QString, error);
        auto p = ArchivePath::normalize(input, u"body.path"_s);
        if (!error.isEmpty()) {
            QVERIFY(!p);
            QVERIFY2(p.error().message.startsWith(u"body.path: "_s), qPrintable(p.error().message));
            QVERIFY2(p.error().message.contains(error), qPrintable(p.error().message));
            return;
        }
        QVERIFY(p);
        QCOMPARE(*p, expected);
        // A path like "re:.*" still means the path: the pattern says pp: explicitly.
        QCOMPARE(ArchivePath::prefixPattern(*p), u"pp:"_s + expected);
    }

    void patternFilesSelectExactlyThePaths()
    {
        QCOMPARE(ArchivePath::patternFile({ u"etc/hosts"_s, u"re:x"_s }),
            QByteArray("+ pp:etc/hosts\n+ pp:re:x\n- fm:*\n"));
        QVERIFY(!ArchivePath::fitsPatternFile(u"a "_s));
        QVERIFY(ArchivePath::fitsPatternFile(u"a b"_s));
        auto many = ArchivePath::normalizeAll({ u"/a"_s, u"a/"_s, u"/b"_s }, u"paths"_s);
        QVERIFY(many);
        QCOMPARE(*many, (QStringList { u"a"_s, u"b"_s }));
        auto bad = ArchivePath::normalizeAll({ u"/a"_s, u"/"_s }, u"paths"_s);
        QVERIFY(!bad);
        QVERIFY(bad.error().message.startsWith(u"paths[1]: "_s));
    }

    void borgMessagesBoilDown()
    {
        // (Built as JSON objects: raw string literals confuse moc in this file.)
        auto logLine = [](const char *level, const QString &msgid, const QString &message) {
            QJsonObject o { { u"type"_s, u"log_message"_s },
                { u"levelname"_s, QString::fromLatin1(level) }, { u"name"_s, u"borg.archiver"_s },
                { u"message"_s, message } };
            if (!msgid.isEmpty())
                o.insert(u"msgid"_s, msgid);
            return QJsonDocument(o).toJson(QJsonDocument::Compact);
        };
        BorgMessages m;
        m.add(logLine("ERROR", u"IntegrityError"_s,
            u"Data integrity error: Segment entry checksum mismatch [segment 2, offset 100179]"_s));
        m.add(logLine("ERROR", QString(),
            u"Traceback (most recent call last):\n  File \"x.py\", line 1, in main\n"
            "borg.helpers.errors.IntegrityError: Data integrity error: x\n\nPlatform: Linux\nPID: 1"_s));
        m.add("ssh: connect to host x port 22: Connection refused");
        QVERIFY(m.repositoryCorrupted());
        QCOMPARE(m.corruption(),
            u"Data integrity error: Segment entry checksum mismatch [segment 2, offset 100179]"_s);
        QCOMPARE(m.errors().size(), 1); // the traceback adds nothing
        QCOMPARE(m.errorText(u"borg"_s, 2),
            u"Data integrity error: Segment entry checksum mismatch [segment 2, offset 100179] "
            "(ssh: connect to host x port 22: Connection refused)"_s);

        BorgMessages cache;
        cache.add(logLine("ERROR", u"FileIntegrityError"_s,
            u"File failed integrity check: /root/.cache/borg/x/chunks"_s));
        QVERIFY(!cache.repositoryCorrupted()); // the local cache, not the repository
        BorgMessages quiet;
        QCOMPARE(quiet.errorText(u"borg"_s, 2), u"borg exited with status 2"_s);
    }

    void readingCommandLines()
    {
        RepositoryConfig repo;
        repo.url = u"/srv/repo"_s;
        repo.lockWait = std::chrono::seconds(30);
        QCOMPARE(BorgCommands::listItemsArguments(repo, u"a1"_s, { u"pp:etc"_s }, QString(), true),
            (QStringList { u"list"_s, u"--log-json"_s, u"--lock-wait"_s, u"30"_s, u"--json-lines"_s,
                u"--format"_s, u"{size}{sha256}"_s, u"--"_s, u"/srv/repo::a1"_s, u"pp:etc"_s }));
        QCOMPARE(BorgCommands::extractArguments(repo, u"a1"_s, {}, u"/tmp/p"_s, 2),
            (QStringList { u"extract"_s, u"--log-json"_s, u"--lock-wait"_s, u"30"_s, u"--list"_s,
                u"--progress"_s, u"--strip-components"_s, u"2"_s, u"--patterns-from"_s, u"/tmp/p"_s,
                u"--"_s, u"/srv/repo::a1"_s }));
        QCOMPARE(BorgCommands::extractToStdoutArguments(repo, u"a1"_s, u"app.dump"_s).mid(4),
            (QStringList {
                u"--progress"_s, u"--stdout"_s, u"--"_s, u"/srv/repo::a1"_s, u"pp:app.dump"_s }));
        QCOMPARE(BorgCommands::infoArguments(repo, u"h-web-*"_s, 3).mid(4),
            (QStringList { u"--json"_s, u"--glob-archives"_s, u"h-web-*"_s, u"--last"_s, u"3"_s,
                u"--"_s, u"/srv/repo"_s }));
        PostgresDumpConfig db;
        db.host = u"127.0.0.1"_s;
        db.port = 5433;
        db.user = u"backup"_s;
        QCOMPARE(PostgresClient::pgRestoreArguments(db, u"app"_s),
            (QStringList { u"--no-password"_s, u"--host"_s, u"127.0.0.1"_s, u"--port"_s, u"5433"_s,
                u"--username"_s, u"backup"_s, u"--dbname"_s, u"app"_s, u"--single-transaction"_s,
                u"--exit-on-error"_s }));
        QVERIFY(!PostgresClient::isAcceptableTarget(u"template0"_s));
        QVERIFY(!PostgresClient::isAcceptableTarget(u"a;drop"_s));
        QVERIFY(PostgresClient::isAcceptableTarget(u"app_restored"_s));
    }
};

QTEST_GUILESS_MAIN(TestDirectoryListing)
#include "tst_directorylisting.moc"
