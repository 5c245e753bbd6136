#include "sparky/brokersettings.h"
#include "sparky/config.h"

#include <QTest>

using namespace sparky;
using namespace sparky::config;
using namespace Qt::StringLiterals;

class TestConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void typedValuesAndDefaults()
    {
        const QByteArray yaml = "name: web\ncount: 7\nenabled: yes\ntimeout: 1h30m\nsize: 64KiB\n"
                                "paths: [/etc, /srv]\nsingle: /home\n";
        auto doc = Document::loadString(yaml, u"t.yaml"_s);
        QVERIFY(doc.hasValue());
        Errors errors;
        const Node root = doc->root(&errors);
        QCOMPARE(root.string(u"name"_s), u"web"_s);
        QCOMPARE(root.string(u"missing"_s, u"dflt"_s), u"dflt"_s);
        QCOMPARE(root.integer(u"count"_s, 0, 0, 10), 7);
        QCOMPARE(root.boolean(u"enabled"_s, false), true);
        QCOMPARE(root.duration(u"timeout"_s, std::chrono::seconds(0)).count(), 5400);
        QCOMPARE(root.bytes(u"size"_s, 0), 65536);
        QCOMPARE(root.stringList(u"paths"_s), (QStringList{u"/etc"_s, u"/srv"_s}));
        QCOMPARE(root.stringList(u"single"_s), QStringList{u"/home"_s});
        QVERIFY2(errors.isEmpty(), qPrintable(errors.messages().join(u'\n')));
    }

    void errorsNameFileLineAndField_data()
    {
        QTest::addColumn<QByteArray>("yaml");
        QTest::addColumn<QString>("expected");
        QTest::newRow("not an integer") << QByteArray("a: 1\ncount: many\n") << u"t.yaml:2:8: count: expected an integer"_s;
        QTest::newRow("out of range") << QByteArray("count: 99\n") << u"t.yaml:1:8: count: 99 is out of range [0, 10]"_s;
        QTest::newRow("bad bool") << QByteArray("\n\nenabled: perhaps\n") << u"t.yaml:3:10: enabled: expected true or false"_s;
        QTest::newRow("bad duration") << QByteArray("timeout: 5 minutes\n") << u"t.yaml:1:10: timeout: expected a duration"_s;
        QTest::newRow("unknown key") << QByteArray("count: 1\ncuont: 2\n") << u"t.yaml:2:1: cuont: unknown key"_s;
        QTest::newRow("nested") << QByteArray("jobs:\n  - name: a\n    count: x\n") << u"t.yaml:3:12: jobs[0].count: expected an integer"_s;
    }

    void errorsNameFileLineAndField()
    {
        QFETCH(QByteArray, yaml);
        QFETCH(QString, expected);
        auto doc = Document::loadString(yaml, u"t.yaml"_s);
        QVERIFY(doc.hasValue());
        Errors errors;
        const Node root = doc->root(&errors);
        root.allowKeys({"a", "count", "enabled", "timeout", "jobs"});
        root.integer(u"count"_s, 0, 0, 10);
        root.boolean(u"enabled"_s, false);
        root.duration(u"timeout"_s, std::chrono::seconds(1));
        for (const Node &job : root.list(u"jobs"_s))
            job.integer(u"count"_s, 0, 0, 10);
        QVERIFY(!errors.isEmpty());
        QVERIFY2(errors.messages().first().startsWith(expected), qPrintable(errors.messages().join(u'\n')));
        QCOMPARE(errors.toResult().error().code, ErrorCode::Config);
    }

    void syntaxErrorHasLine()
    {
        auto doc = Document::loadString("a: 1\nb: [unclosed\n", u"bad.yaml"_s);
        QVERIFY(!doc.hasValue());
        QVERIFY2(doc.error().message.startsWith(u"bad.yaml:"_s), qPrintable(doc.error().message));
        QVERIFY(doc.error().message.contains(u"YAML syntax error"_s));
    }

    void missingFile()
    {
        auto doc = Document::loadFile(u"/nonexistent/agent.yaml"_s);
        QVERIFY(!doc.hasValue());
        QVERIFY(doc.error().message.contains(u"/nonexistent/agent.yaml"_s));
    }

    void durations_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<qint64>("seconds");
        QTest::newRow("plain") << u"90"_s << qint64(90);
        QTest::newRow("s") << u"45s"_s << qint64(45);
        QTest::newRow("compound") << u"1h30m"_s << qint64(5400);
        QTest::newRow("days") << u"2d"_s << qint64(172800);
        QTest::newRow("week") << u"1w"_s << qint64(604800);
        QTest::newRow("negative") << u"-5"_s << qint64(-1);
        QTest::newRow("unit only") << u"m"_s << qint64(-1);
        QTest::newRow("words") << u"five minutes"_s << qint64(-1);
        QTest::newRow("overflow") << u"99999999999999999999d"_s << qint64(-1);
    }
    void durations()
    {
        QFETCH(QString, text);
        QFETCH(qint64, seconds);
        auto d = parseDuration(text);
        QCOMPARE(d ? d->count() : -1, seconds);
    }

    void durationText_data()
    {
        QTest::addColumn<qint64>("seconds");
        QTest::addColumn<QString>("text");
        QTest::newRow("zero") << qint64(0) << u"0s"_s;
        QTest::newRow("seconds") << qint64(45) << u"45s"_s;
        QTest::newRow("minutes") << qint64(300) << u"5m"_s;
        QTest::newRow("odd minutes stay seconds") << qint64(90) << u"90s"_s;
        QTest::newRow("hours") << qint64(43200) << u"12h"_s;
        QTest::newRow("hour and a half") << qint64(5400) << u"90m"_s;
    }
    void durationText()
    {
        QFETCH(qint64, seconds);
        QFETCH(QString, text);
        QCOMPARE(formatDuration(std::chrono::seconds(seconds)), text);
        // It reads back as what it says.
        QCOMPARE(parseDuration(text).value_or(std::chrono::seconds(-1)).count(), seconds);
    }

    void sizes_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<qint64>("bytes");
        QTest::newRow("plain") << u"1024"_s << qint64(1024);
        QTest::newRow("KiB") << u"64KiB"_s << qint64(65536);
        QTest::newRow("MB") << u"10MB"_s << qint64(10000000);
        QTest::newRow("GiB") << u"2 GiB"_s << qint64(2147483648);
        QTest::newRow("junk") << u"lots"_s << qint64(-1);
        QTest::newRow("lowercase unit") << u"5kb"_s << qint64(-1);
    }
    void sizes()
    {
        QFETCH(QString, text);
        QFETCH(qint64, bytes);
        auto b = parseByteSize(text);
        QCOMPARE(b ? *b : -1, bytes);
    }

    void brokerSection()
    {
        const QByteArray yaml = "broker:\n  hosts: [mq1:5671, 'mq2']\n  user: web-01\n  token_file: /etc/sparky/token\n"
                                "  tls:\n    ca_file: /etc/sparky/ca.pem\n  heartbeat: 20s\n";
        auto doc = Document::loadString(yaml, u"agent.yaml"_s);
        Errors errors;
        const BrokerSettings s = BrokerSettings::fromConfig(doc->root(&errors).child(u"broker"_s));
        QVERIFY2(errors.isEmpty(), qPrintable(errors.messages().join(u'\n')));
        QCOMPARE(s.endpoints.size(), 2);
        QCOMPARE(s.endpoints.at(0).host, u"mq1"_s);
        QCOMPARE(s.endpoints.at(1).port, quint16(5671));
        QCOMPARE(s.heartbeat.count(), 20);
        QVERIFY(s.verifyPeer && s.verifyHostname);
    }

    void brokerSectionProblems()
    {
        const QByteArray yaml = "broker:\n  hosts: ['mq1:99999']\n  user: web-01\n  tls:\n    insecure: true\n";
        auto doc = Document::loadString(yaml, u"agent.yaml"_s);
        Errors errors;
        BrokerSettings::fromConfig(doc->root(&errors).child(u"broker"_s));
        const QString all = errors.messages().join(u'\n');
        QVERIFY2(all.contains(u"broker.hosts: 'mq1:99999' is not host or host:port"_s), qPrintable(all));
        QVERIFY2(all.contains(u"broker.tls.insecure: unknown key"_s), qPrintable(all));
        QVERIFY2(all.contains(u"broker.tls.ca_file: a CA certificate is required"_s), qPrintable(all));
        QVERIFY2(all.contains(u"broker.token_file: user 'web-01' needs a token_file"_s), qPrintable(all));
    }
};

QTEST_GUILESS_MAIN(TestConfig)
#include "tst_config.moc"
