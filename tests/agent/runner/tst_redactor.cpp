// Secrets never reach a log tail: configured values, URL passwords, key=value pairs.
#include "logtail.h"
#include "redactor.h"

#include <QTest>

using namespace sparky::agent;
using namespace Qt::StringLiterals;

class TestRedactor : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void redact_data()
    {
        QTest::addColumn<QString>("input");
        QTest::addColumn<QString>("expected");
        QTest::newRow("configured value") << u"borg said: wrong key for correct-horse-battery"_s
                                          << u"borg said: wrong key for ***"_s;
        QTest::newRow("value twice")
            << u"correct-horse-battery correct-horse-battery"_s << u"*** ***"_s;
        QTest::newRow("longer secret first") << u"token s3cr3t-token-long!"_s << u"token ***"_s;
        QTest::newRow("url password") << u"ssh://borg:hunter22@backup.example.net:22/./repo"_s
                                      << u"ssh://borg:***@backup.example.net:22/./repo"_s;
        QTest::newRow("postgres url") << u"postgresql://app:pa55word@db/app failed"_s
                                      << u"postgresql://app:***@db/app failed"_s;
        QTest::newRow("env style")
            << u"BORG_PASSPHRASE=abc123 borg list"_s << u"BORG_PASSPHRASE=*** borg list"_s;
        QTest::newRow("pgpassword") << u"PGPASSWORD=xyz pg_dump"_s << u"PGPASSWORD=*** pg_dump"_s;
        QTest::newRow("conninfo") << u"host=db password=topsecret user=x"_s
                                  << u"host=db password=*** user=x"_s;
        QTest::newRow("json") << u"{\"api_token\": \"abcdef\"}"_s << u"{\"api_token\": \"***\"}"_s;
        QTest::newRow("yaml") << u"token: deadbeef"_s << u"token: ***"_s;
        QTest::newRow("nothing secret") << u"Keeping archive (rule: daily #1): web-etc"_s
                                        << u"Keeping archive (rule: daily #1): web-etc"_s;
        QTest::newRow("borg passphrase message keeps meaning")
            << u"passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect."_s
            << u"passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect."_s;
    }

    void redact()
    {
        QFETCH(QString, input);
        QFETCH(QString, expected);
        Redactor r;
        r.addSecret(u"correct-horse-battery"_s);
        r.addSecret(u"s3cr3t-token"_s);
        r.addSecret(u"s3cr3t-token-long!"_s);
        r.addSecret(u"ab"_s); // too short to redact safely: ignored
        QCOMPARE(r.redact(input), expected);
    }

    void tailIsBoundedAndRedacted()
    {
        Redactor r;
        r.addSecret(u"the-passphrase"_s);
        LogTail tail(4096);
        tail.setRedactor(r);
        for (int i = 0; i < 1000; ++i)
            tail.append(u"line %1 with the-passphrase inside"_s.arg(i));
        const QString text = tail.text();
        QVERIFY(text.toUtf8().size() <= 4096);
        QVERIFY(!text.contains(u"the-passphrase"_s));
        QVERIFY(text.endsWith(u"line 999 with *** inside\n"_s));
        QVERIFY(text.startsWith(u"line "_s)); // cut at a line boundary
        // A huge single line is cut, not allowed to flush the tail.
        tail.append(QString(100000, u'x'));
        QVERIFY(tail.text().toUtf8().size() <= 4096);
    }
};

QTEST_GUILESS_MAIN(TestRedactor)
#include "tst_redactor.moc"
