// How the console reads: sizes, durations, ages and times (DisplayFormat), the status scale
// and its colours (StatusStyle: the worst wins; command states on the same scale), and the
// headline of every RPC error code (RpcReply). Data-driven.

#include "displayformat.h"
#include "rpcreply.h"
#include "statusstyle.h"

#include <QTest>

using namespace sparky::admin;
using namespace Qt::StringLiterals;

class TestDisplayFormat : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void bytes_data()
    {
        QTest::addColumn<qint64>("bytes");
        QTest::addColumn<QString>("text");
        QTest::newRow("zero") << qint64(0) << u"0 B"_s;
        QTest::newRow("bytes") << qint64(1023) << u"1023 B"_s;
        QTest::newRow("1 KiB") << qint64(1024) << u"1.00 KiB"_s;
        QTest::newRow("tens") << qint64(65536000) << u"62.5 MiB"_s;
        QTest::newRow("GiB") << qint64(7340032000) << u"6.84 GiB"_s;
        QTest::newRow("TiB") << qint64(3) * 1024 * 1024 * 1024 * 1024 << u"3.00 TiB"_s;
        QTest::newRow("PiB stays PiB")
            << qint64(2048) * 1024 * 1024 * 1024 * 1024 * 1024 << u"2048.0 PiB"_s;
    }
    void bytes()
    {
        QFETCH(qint64, bytes);
        QFETCH(QString, text);
        QCOMPARE(DisplayFormat::bytes(bytes), text);
    }

    void duration_data()
    {
        QTest::addColumn<double>("seconds");
        QTest::addColumn<QString>("text");
        QTest::newRow("negative") << -1.0 << u"—"_s;
        QTest::newRow("sub-second") << 0.4 << u"0.4 s"_s;
        QTest::newRow("seconds") << 42.4 << u"42 s"_s;
        QTest::newRow("minutes") << 185.5 << u"3 min 6 s"_s;
        QTest::newRow("hours") << 7384.0 << u"2 h 3 min"_s;
    }
    void duration()
    {
        QFETCH(double, seconds);
        QFETCH(QString, text);
        QCOMPARE(DisplayFormat::duration(seconds), text);
    }

    void age_data()
    {
        QTest::addColumn<qint64>("seconds");
        QTest::addColumn<QString>("text");
        QTest::newRow("unknown") << qint64(-5) << u"—"_s;
        QTest::newRow("seconds") << qint64(119) << u"119 s"_s;
        QTest::newRow("minutes") << qint64(7199) << u"119 min"_s;
        QTest::newRow("hours") << qint64(93600) << u"26 h 0 min"_s;
        QTest::newRow("days") << qint64(197760) << u"2 d 6 h"_s;
    }
    void age()
    {
        QFETCH(qint64, seconds);
        QFETCH(QString, text);
        QCOMPARE(DisplayFormat::age(seconds), text);
    }

    void times()
    {
        QCOMPARE(DisplayFormat::time(QJsonValue(u"2026-11-25T02:00:04.512Z"_s)),
            u"2026-11-25 02:00:04"_s);
        QCOMPARE(DisplayFormat::epochMs(QJsonValue(u"1970-01-01T00:00:01.500Z"_s)), 1500);
        QCOMPARE(DisplayFormat::time(QJsonValue(QJsonValue::Null)), u"—"_s);
        QCOMPARE(DisplayFormat::epochMs(QJsonValue(QJsonValue::Null)), -1);
        QCOMPARE(DisplayFormat::time(QJsonValue(u"yesterday"_s)), u"yesterday"_s); // shown as sent
        QCOMPARE(DisplayFormat::epochMs(QJsonValue(u"yesterday"_s)), -1);
        QCOMPARE(DisplayFormat::time(QDateTime()), u"—"_s);
        // Shown in UTC whatever zone the value carries.
        QCOMPARE(DisplayFormat::time(
                     QDateTime(QDate(2026, 11, 25), QTime(3, 0), Qt::OffsetFromUTC, 3600)),
            u"2026-11-25 02:00:00"_s);
    }

    void severity_data()
    {
        QTest::addColumn<QString>("status");
        QTest::addColumn<int>("severity");
        QTest::addColumn<QString>("label");
        QTest::newRow("success") << u"success"_s << 0 << u"Success"_s;
        QTest::newRow("succeeded") << u"succeeded"_s << 0 << u"Succeeded"_s;
        QTest::newRow("unknown") << u"unknown"_s << 1 << u"Unknown"_s;
        QTest::newRow("running") << u"running"_s << 1 << u"Running"_s;
        QTest::newRow("pending") << u"pending"_s << 1 << u"Pending"_s;
        QTest::newRow("published") << u"published"_s << 1 << u"Published"_s;
        QTest::newRow("received") << u"received"_s << 1 << u"Received"_s;
        QTest::newRow("warning") << u"warning"_s << 2 << u"Warning"_s;
        QTest::newRow("cancelled") << u"cancelled"_s << 3 << u"Cancelled"_s;
        QTest::newRow("failed") << u"failed"_s << 4 << u"Failed"_s;
        QTest::newRow("rejected") << u"rejected"_s << 4 << u"Rejected"_s;
        QTest::newRow("expired") << u"expired"_s << 4 << u"Expired"_s;
        QTest::newRow("none") << QString() << -1 << u"—"_s;
        QTest::newRow("unheard of") << u"bogus"_s << -1 << u"Bogus"_s;
    }
    void severity()
    {
        QFETCH(QString, status);
        QFETCH(int, severity);
        QFETCH(QString, label);
        QCOMPARE(StatusStyle::severity(status), severity);
        QCOMPARE(StatusStyle::label(status), label);
        // Every known status has a colour; the same severity, the same text colour.
        if (severity >= 0) {
            QVERIFY(StatusStyle::background(status).isValid());
            QVERIFY(StatusStyle::foreground(status).isValid());
        } else {
            QVERIFY(!StatusStyle::background(status).isValid());
        }
    }

    void worstWins()
    {
        const QStringList order { u"success"_s, u"unknown"_s, u"warning"_s, u"cancelled"_s,
            u"failed"_s };
        for (qsizetype i = 0; i < order.size(); ++i)
            for (qsizetype j = 0; j < order.size(); ++j)
                QCOMPARE(StatusStyle::worst(order.at(i), order.at(j)), order.at(qMax(i, j)));
        QCOMPARE(StatusStyle::worst(QString(), u"success"_s), u"success"_s);
        // A run in progress and a pending command look alike (blue), unlike a plain unknown.
        QCOMPARE(StatusStyle::background(u"running"_s), StatusStyle::background(u"pending"_s));
        QVERIFY(StatusStyle::background(u"running"_s) != StatusStyle::background(u"unknown"_s));
        QVERIFY(StatusStyle::staleBackground() != StatusStyle::background(u"failed"_s));
    }

    void replyHeadlines_data()
    {
        QTest::addColumn<QString>("code");
        QTest::addColumn<QString>("headline");
        QTest::newRow("forbidden") << u"forbidden"_s << u"Not allowed"_s;
        QTest::newRow("unauthenticated") << u"unauthenticated"_s << u"Not authenticated"_s;
        QTest::newRow("node_offline") << u"node_offline"_s << u"Node offline"_s;
        QTest::newRow("timeout")
            << u"timeout"_s << u"Timed out (no answer from the orchestrator; is it running?)"_s;
        QTest::newRow("agent_timeout")
            << u"agent_timeout"_s << u"The agent did not answer in time"_s;
        QTest::newRow("agent_rejected") << u"agent_rejected"_s << u"Refused by the agent"_s;
        QTest::newRow("command_failed") << u"command_failed"_s << u"Command failed"_s;
        QTest::newRow("command_expired") << u"command_expired"_s << u"Command expired"_s;
        QTest::newRow("transport") << u"transport"_s << u"Not sent (broker connection)"_s;
        QTest::newRow("bad_reply") << u"bad_reply"_s << u"Unreadable reply"_s;
        QTest::newRow("invalid_params") << u"invalid_params"_s << u"Invalid request"_s;
        QTest::newRow("not_found") << u"not_found"_s << u"Not found"_s;
        QTest::newRow("unavailable") << u"unavailable"_s << u"Unavailable"_s;
        QTest::newRow("unknown_method")
            << u"unknown_method"_s << u"Not supported by this orchestrator"_s;
        QTest::newRow("internal") << u"internal"_s << u"Orchestrator error"_s;
        QTest::newRow("bad_request") << u"bad_request"_s << u"Bad request"_s;
        QTest::newRow("new code") << u"quota"_s << u"quota"_s;
        QTest::newRow("no code") << QString() << u"Error"_s;
    }
    void replyHeadlines()
    {
        QFETCH(QString, code);
        QFETCH(QString, headline);
        QCOMPARE(RpcReply::headline(code), headline);
    }

    void replyDescribe()
    {
        const RpcReply ok = RpcReply::success(u"fleet.summary"_s, { { u"x"_s, 1 } });
        QVERIFY(ok.ok);
        QCOMPARE(ok.describe(), QString());
        const RpcReply denied = RpcReply::failure(u"backup.start"_s, u"forbidden"_s,
            u"user 'alice' (role viewer) may not call backup.start: it needs the operator role"_s);
        QVERIFY(!denied.ok);
        QCOMPARE(denied.describe(),
            u"backup.start: Not allowed — user 'alice' (role viewer) may not call backup.start: it needs the operator role"_s);
        QCOMPARE(denied.errorData.value("code"_L1).toString(), u"forbidden"_s);
        QCOMPARE(RpcReply::failure(u"x.y"_s, u"internal"_s, {}).describe(),
            u"x.y: Orchestrator error"_s);
    }
};

QTEST_MAIN(TestDisplayFormat)
#include "tst_displayformat.moc"
