// Parsing borg 1.2's --log-json lines and --json result, on output captured from real borg
// (tests/agent/runner/data/).
#include "borgoutput.h"

#include <QFile>
#include <QTest>

using namespace sparky::agent;
using namespace Qt::StringLiterals;

namespace {
QByteArray dataFile(const char *name)
{
    QFile f(qEnvironmentVariable("SPARKY_SOURCE_DIR") + u"/tests/agent/runner/data/"_s
        + QString::fromLatin1(name));
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot read test data %s", name);
    return f.readAll();
}
} // namespace

class TestBorgOutput : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void createResult()
    {
        auto stats = BorgOutput::parseCreateResult(dataFile("create-result.json"));
        QVERIFY2(
            stats.hasValue(), qPrintable(stats.hasValue() ? QString() : stats.error().message));
        QCOMPARE(stats->archiveName, u"a1"_s);
        QCOMPARE(stats->archiveId,
            u"11309549ce3455531c33a9e3315963a134b2edf33e6d0fe1553e7f724f715565"_s);
        QCOMPARE(stats->originalSize, 589404);
        QCOMPARE(stats->compressedSize, 412083);
        QCOMPARE(stats->deduplicatedSize, 412083);
        QCOMPARE(stats->files, 2);
        QCOMPARE(stats->durationSeconds, 0.090625);
        QCOMPARE(BorgOutput::repositoryId(dataFile("create-result.json")),
            u"00a42174c9fcfbd9867e33af94f21ded53ae0223b94221af6a9eb751c8593189"_s);
    }

    void createResultRejectsGarbage_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::newRow("empty") << QByteArray();
        QTest::newRow("not json") << QByteArray("Traceback (most recent call last):");
        QTest::newRow("no archive") << QByteArray(R"({"repository": {"id": "x"}})");
        QTest::newRow("no name") << QByteArray(R"({"archive": {"stats": {"nfiles": 1}}})");
    }

    void createResultRejectsGarbage()
    {
        QFETCH(QByteArray, json);
        QVERIFY(!BorgOutput::parseCreateResult(json).hasValue());
    }

    void progressLines()
    {
        QList<BorgLine> progress;
        QList<BorgLine> messages;
        for (const QByteArray &line : dataFile("create-progress.jsonl").split('\n')) {
            if (line.isEmpty())
                continue;
            const BorgLine l = BorgOutput::parseLine(line);
            QVERIFY(l.kind != BorgLine::Kind::Text);
            if (l.kind == BorgLine::Kind::ArchiveProgress)
                progress.append(l);
            if (l.kind == BorgLine::Kind::ProgressMessage)
                messages.append(l);
        }
        QVERIFY(progress.size() >= 4);
        const BorgLine &big = progress.at(progress.size() - 2);
        QCOMPARE(big.originalSize, 33200000);
        QCOMPARE(big.compressedSize, 33207138);
        QCOMPARE(big.files, 165);
        QCOMPARE(big.path, u"big/f157"_s);
        QVERIFY(!big.finished);
        QVERIFY(messages.first().message.startsWith(u"Initializing cache transaction"_s));
        QVERIFY(messages.first().logText().contains(u"Initializing"_s));
        QVERIFY(progress.first().logText().isEmpty()); // progress is not log-tail material
    }

    void logMessages_data()
    {
        QTest::addColumn<int>("index");
        QTest::addColumn<QString>("level");
        QTest::addColumn<QString>("msgid");
        QTest::addColumn<QString>("message");
        QTest::newRow("missing source")
            << 5 << u"WARNING"_s << QString()
            << u"/missing: [Errno 2] No such file or directory: 'missing'"_s;
        QTest::newRow("wrong passphrase")
            << 11 << u"ERROR"_s << u"PassphraseWrong"_s
            << u"passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect."_s;
        QTest::newRow("no repository") << 12 << u"ERROR"_s << u"Repository.DoesNotExist"_s
                                       << u"Repository /tmp/a1s/nonexist does not exist."_s;
        QTest::newRow("dump failed")
            << 13 << u"ERROR"_s << QString() << u"Command 'sh' exited with status 3"_s;
        QTest::newRow("no pg_dump")
            << 14 << u"ERROR"_s << QString()
            << u"Failed to execute command: [Errno 2] No such file or directory: '/nonexistent/pg_dump'"_s;
        QTest::newRow("ssh refused")
            << 15 << u"WARNING"_s << QString()
            << u"Remote: ssh: connect to host 127.0.0.1 port 1: Connection refused"_s;
        QTest::newRow("connection closed")
            << 16 << u"ERROR"_s << u"ConnectionClosedWithHint"_s
            << u"Connection closed by remote host. Is borg working on the server?"_s;
        QTest::newRow("prune list") << 18 << u"INFO"_s << QString() << u"Pruning archive (1/1):"_s;
        QTest::newRow("lock")
            << 19 << u"ERROR"_s << u"LockTimeout"_s
            << u"Failed to create/acquire the lock /tmp/a1s/repo/lock.exclusive (timeout)."_s;
    }

    void logMessages()
    {
        QFETCH(int, index);
        QFETCH(QString, level);
        QFETCH(QString, msgid);
        QFETCH(QString, message);
        const QList<QByteArray> lines = dataFile("log-messages.jsonl").split('\n');
        const BorgLine l = BorgOutput::parseLine(lines.at(index));
        QCOMPARE(l.kind, BorgLine::Kind::LogMessage);
        QCOMPARE(l.level, level);
        QCOMPARE(l.msgid, msgid);
        QVERIFY2(l.message.startsWith(message), qPrintable(l.message));
        QCOMPARE(l.isError(), level == u"ERROR"_s);
        QCOMPARE(l.isWarning(), level == u"WARNING"_s);
        QVERIFY(l.logText().startsWith(level));
    }

    void plainText_data()
    {
        QTest::addColumn<QByteArray>("line");
        QTest::newRow("ssh") << QByteArray(
            "ssh: connect to host 127.0.0.1 port 1: Connection refused\r");
        QTest::newRow("broken json") << QByteArray("{\"type\": \"log_message\", ");
        QTest::newRow("traceback")
            << QByteArray("  File \"/usr/lib/python3/dist-packages/borg/archiver.py\", line 5");
    }

    void plainText()
    {
        QFETCH(QByteArray, line);
        const BorgLine l = BorgOutput::parseLine(line);
        QCOMPARE(l.kind, BorgLine::Kind::Text);
        QCOMPARE(l.message, QString::fromUtf8(line.trimmed()));
        QVERIFY(!l.isError());
    }
};

QTEST_GUILESS_MAIN(TestBorgOutput)
#include "tst_borgoutput.moc"
