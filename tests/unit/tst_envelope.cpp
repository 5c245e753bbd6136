#include "sparky/envelope.h"
#include "sparky/jsonfields.h"

#include <QJsonDocument>
#include <QTest>

using namespace sparky;
using namespace Qt::StringLiterals;

class TestEnvelope : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void roundTrip()
    {
        Envelope e = Envelope::make(u"run.finished"_s, u"web-01"_s, QJsonObject{{u"job"_s, u"etc"_s}});
        const QByteArray bytes = serializeEnvelope(e);
        auto parsed = parseEnvelope(bytes);
        QVERIFY2(parsed.hasValue(), qPrintable(parsed.hasValue() ? QString() : parsed.error().toString()));
        QCOMPARE(parsed->id, e.id);
        QCOMPARE(parsed->type, e.type);
        QCOMPARE(parsed->node, e.node);
        QCOMPARE(parsed->ts, e.ts.toUTC());
        QCOMPARE(parsed->body, e.body);
        QVERIFY(!parsed->expires);
        QVERIFY(!parsed->isSigned());
        // Serialisation is canonical: same envelope, same bytes.
        QCOMPARE(serializeEnvelope(*parsed), bytes);
    }

    void rejects_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("mentions");

        const QByteArray good = R"({"v":1,"id":"abc","type":"run.finished","node":"web-01","ts":"2026-11-25T15:20:31.123Z","body":{}})";
        auto with = [&](const char *from, const char *to) {
            QByteArray b = good;
            return b.replace(from, to);
        };
        const int parse = int(ErrorCode::Parse);
        const int validation = int(ErrorCode::Validation);

        QTest::newRow("empty") << QByteArray() << parse << u"empty"_s;
        QTest::newRow("not json") << QByteArray("hello") << parse << u"malformed JSON"_s;
        QTest::newRow("truncated") << good.left(good.size() - 3) << parse << u"malformed JSON"_s;
        QTest::newRow("array") << QByteArray("[1,2]") << validation << u"JSON object"_s;
        QTest::newRow("invalid utf8") << with("abc", "a\xff\xfe") << parse << u"malformed JSON"_s;
        QTest::newRow("missing v") << with(R"("v":1,)", "") << validation << u"'v'"_s;
        QTest::newRow("v string") << with(R"("v":1)", R"("v":"1")") << validation << u"'v' must be an integer"_s;
        QTest::newRow("v fraction") << with(R"("v":1)", R"("v":1.5)") << validation << u"'v' must be an integer"_s;
        QTest::newRow("v future") << with(R"("v":1)", R"("v":2)") << validation << u"unsupported envelope version 2"_s;
        QTest::newRow("missing id") << with(R"("id":"abc",)", "") << validation << u"missing field 'id'"_s;
        QTest::newRow("id number") << with(R"("id":"abc")", R"("id":5)") << validation << u"'id' must be a string"_s;
        QTest::newRow("id bad chars") << with(R"("id":"abc")", R"("id":"a b")") << validation << u"'id'"_s;
        QTest::newRow("id too long") << with(R"("id":"abc")", QByteArray(R"("id":")" + QByteArray(65, 'a') + QByteArray(1, char(34))).constData()) << validation << u"'id'"_s;
        QTest::newRow("type upper") << with("run.finished", "Run.Finished") << validation << u"'type'"_s;
        QTest::newRow("type empty") << with("run.finished", "") << validation << u"'type'"_s;
        QTest::newRow("node with dot") << with("web-01", "web.01") << validation << u"'node'"_s;
        QTest::newRow("node upper") << with("web-01", "WEB") << validation << u"'node'"_s;
        QTest::newRow("node missing") << with(R"("node":"web-01",)", "") << validation << u"missing field 'node'"_s;
        QTest::newRow("ts not utc") << with("31.123Z", "31.123+01:00") << validation << u"'ts'"_s;
        QTest::newRow("ts garbage") << with("2026-11-25T15:20:31.123Z", "yesterday") << validation << u"'ts'"_s;
        QTest::newRow("ts impossible date") << with("2026-11-25", "2026-13-45") << validation << u"'ts'"_s;
        QTest::newRow("body missing") << with(R"(,"body":{})", "") << validation << u"missing field 'body'"_s;
        QTest::newRow("body array") << with(R"("body":{})", R"("body":[])") << validation << u"'body' must be an object"_s;
        QTest::newRow("unknown field") << with(R"("body":{})", R"("body":{},"admin":true)") << validation << u"unknown field 'admin'"_s;
        QTest::newRow("exp garbage") << with(R"("body":{})", R"("body":{},"exp":"soon")") << validation << u"'exp'"_s;
        QTest::newRow("sig not base64") << with(R"("body":{})", R"("body":{},"sig":"!!!")") << validation << u"'sig'"_s;
        QTest::newRow("sig short") << with(R"("body":{})", R"("body":{},"sig":"AAAA")") << validation << u"64 bytes"_s;
        // (No unbalanced braces inside raw strings: moc miscounts them.)
        const QByteArray deep = with("\"body\":{}", QByteArray("\"body\":{\"a\":" + QByteArray(40, '[') + QByteArray(40, ']') + "}").constData());
        QTest::newRow("too deep") << deep << validation << u"nested deeper"_s;
        const QByteArray huge = with("\"body\":{}", QByteArray("\"body\":{\"x\":\"" + QByteArray(2 * 1024 * 1024, 'x') + "\"}").constData());
        QTest::newRow("oversized") << huge << validation << u"exceeds the limit"_s;
        QTest::newRow("nul") << QByteArray("\0\0\0", 3) << parse << u"malformed"_s;
    }

    void rejects()
    {
        QFETCH(QByteArray, input);
        QFETCH(int, code);
        QFETCH(QString, mentions);
        auto r = parseEnvelope(input);
        QVERIFY(!r.hasValue());
        QCOMPARE(int(r.error().code), code);
        QVERIFY2(r.error().message.contains(mentions),
                 qPrintable(u"'%1' does not mention '%2'"_s.arg(r.error().message, mentions)));
    }

    void acceptsCommandFields()
    {
        const QByteArray sig = QByteArray(64, 'x').toBase64();
        const QByteArray input = QByteArray(R"({"v":1,"id":"c1","type":"backup.run","node":"web-01","ts":"2026-11-25T15:20:31Z","exp":"2026-11-25T16:20:31.000Z","sig":"SIG","body":{"job":"etc"}})").replace("SIG", sig);
        auto r = parseEnvelope(input);
        QVERIFY(r.hasValue());
        QVERIFY(r->expires.has_value());
        QCOMPARE(r->expires->toString(Qt::ISODate), u"2026-11-25T16:20:31Z"_s);
        QCOMPARE(r->signature, QByteArray(64, 'x'));
        // The signing payload leaves out `sig` but keeps `exp`.
        QVERIFY(!signingPayload(*r).contains("\"sig\""));
        QVERIFY(signingPayload(*r).contains("\"exp\""));
    }

    void customLimits()
    {
        const QByteArray input = R"({"v":1,"id":"abc","type":"t","node":"n","ts":"2026-11-25T15:20:31Z","body":{"x":"0123456789"}})";
        QVERIFY(parseEnvelope(input).hasValue());
        ParseLimits small;
        small.maxBytes = 50;
        QVERIFY(!parseEnvelope(input, small).hasValue());
    }

    void properties()
    {
        Envelope e = Envelope::make(u"backup.run"_s, u"web-01"_s);
        e.expires = e.ts.addSecs(600);
        const MessageProperties p = propertiesFor(e, u"sparky-orchestrator"_s);
        QCOMPARE(p.messageId, e.id);
        QCOMPARE(p.type, e.type);
        QCOMPARE(p.userId, u"sparky-orchestrator"_s);
        QCOMPARE(p.contentType, u"application/json"_s);
        QVERIFY(p.persistent);
        QVERIFY(p.expirationMs.has_value());
        QVERIFY(*p.expirationMs > 590000 && *p.expirationMs <= 600000);
    }

    void identifiers_data()
    {
        QTest::addColumn<QString>("node");
        QTest::addColumn<bool>("valid");
        QTest::newRow("simple") << u"web-01"_s << true;
        QTest::newRow("digit first") << u"1node"_s << true;
        QTest::newRow("63 chars") << QString(63, u'a') << true;
        QTest::newRow("64 chars") << QString(64, u'a') << false;
        QTest::newRow("dash first") << u"-web"_s << false;
        QTest::newRow("dot") << u"web.01"_s << false;
        QTest::newRow("wildcard") << u"web*"_s << false;
        QTest::newRow("hash") << u"#"_s << false;
        QTest::newRow("empty") << QString() << false;
    }
    void identifiers()
    {
        QFETCH(QString, node);
        QFETCH(bool, valid);
        QCOMPARE(isValidNodeId(node), valid);
    }

    void messageTypesAndIds_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("type");
        QTest::addColumn<bool>("id");
        QTest::newRow("dotted") << u"run.finished"_s << true << true;
        QTest::newRow("underscore") << u"agent.hello_2"_s << true << true;
        QTest::newRow("one segment") << u"ping"_s << true << true;
        QTest::newRow("empty") << QString() << false << false;
        QTest::newRow("empty segment") << u"run..finished"_s << false << true;
        QTest::newRow("trailing dot") << u"run."_s << false << true;
        QTest::newRow("leading dot") << u".run"_s << false << true;
        QTest::newRow("digit first") << u"1run"_s << false << true;
        QTest::newRow("segment digit first") << u"run.2x"_s << false << true;
        QTest::newRow("upper") << u"Run.x"_s << false << true;
        QTest::newRow("id punctuation") << u"a-b_c:d.e"_s << false << true;
        QTest::newRow("hex") << u"0f3a"_s << false << true;
        QTest::newRow("space") << u"a b"_s << false << false;
        QTest::newRow("slash") << u"a/b"_s << false << false;
        QTest::newRow("non-ascii") << u"r\u00e9n"_s << false << false;
        QTest::newRow("64") << QString(64, u'a') << true << true;
        QTest::newRow("65") << QString(65, u'a') << false << false;
    }
    void messageTypesAndIds()
    {
        QFETCH(QString, text);
        QFETCH(bool, type);
        QFETCH(bool, id);
        QCOMPARE(isValidMessageType(text), type);
        QCOMPARE(isValidMessageId(text), id);
    }

    // parseTimestamp() is hand-written for speed: it must accept exactly the RFC 3339 UTC
    // form and agree with Qt's own ISO parser on every value it accepts.
    void timestamps_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("valid");
        QTest::newRow("ms") << u"2026-11-25T15:20:31.123Z"_s << true;
        QTest::newRow("no fraction") << u"2026-11-25T15:20:31Z"_s << true;
        QTest::newRow("one digit") << u"2026-11-25T15:20:31.5Z"_s << true;
        QTest::newRow("two digits") << u"2026-11-25T15:20:31.25Z"_s << true;
        QTest::newRow("leap day") << u"2028-02-29T23:59:59.999Z"_s << true;
        QTest::newRow("epoch") << u"1970-01-01T00:00:00Z"_s << true;
        QTest::newRow("year 1") << u"0001-01-01T00:00:00Z"_s << true;
        QTest::newRow("no leap day") << u"2026-02-29T00:00:00Z"_s << false;
        QTest::newRow("month 13") << u"2026-13-01T00:00:00Z"_s << false;
        QTest::newRow("hour 24") << u"2026-11-25T24:00:00Z"_s << false;
        QTest::newRow("minute 60") << u"2026-11-25T15:60:00Z"_s << false;
        QTest::newRow("second 60") << u"2026-11-25T15:20:60Z"_s << false;
        QTest::newRow("four digits") << u"2026-11-25T15:20:31.1234Z"_s << false;
        QTest::newRow("dot only") << u"2026-11-25T15:20:31.Z"_s << false;
        QTest::newRow("comma") << u"2026-11-25T15:20:31,123Z"_s << false;
        QTest::newRow("offset") << u"2026-11-25T15:20:31+00:00"_s << false;
        QTest::newRow("lower z") << u"2026-11-25T15:20:31z"_s << false;
        QTest::newRow("space") << u"2026-11-25 15:20:31Z"_s << false;
        QTest::newRow("sign") << u"+026-11-25T15:20:31Z"_s << false;
        QTest::newRow("letter") << u"2026-11-2xT15:20:31Z"_s << false;
        QTest::newRow("date only") << u"2026-11-25"_s << false;
        QTest::newRow("empty") << QString() << false;
    }
    void timestamps()
    {
        QFETCH(QString, text);
        QFETCH(bool, valid);
        const auto parsed = parseTimestamp(text);
        QCOMPARE(parsed.has_value(), valid);
        if (!valid)
            return;
        const QDateTime qt = QDateTime::fromString(text, Qt::ISODateWithMs);
        QVERIFY(qt.isValid());
        QCOMPARE(parsed->toMSecsSinceEpoch(), qt.toMSecsSinceEpoch());
        QCOMPARE(parsed->timeSpec(), Qt::UTC);
    }

    // formatTimestamp() is hand-written too: the same text as Qt's, and parseTimestamp()
    // reads it back, over a spread of instants (before 1970, leap days, far future).
    void formatsLikeQt()
    {
        const qint64 day = 86400000;
        QList<qint64> instants { 0, 1, -1, 999, -999, day - 1, -day, -day - 1,
            QDateTime(QDate(1, 1, 1), QTime(0, 0), Qt::UTC).toMSecsSinceEpoch(),
            QDateTime(QDate(9999, 12, 31), QTime(23, 59, 59, 999), Qt::UTC).toMSecsSinceEpoch(),
            QDateTime(QDate(2028, 2, 29), QTime(12, 0), Qt::UTC).toMSecsSinceEpoch() };
        quint64 x = 0x9e3779b97f4a7c15ULL; // fixed pseudo-random spread, reproducible
        for (int i = 0; i < 2000; ++i) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            instants.append(qint64(x % (400ULL * 365 * day)) - 200LL * 365 * day);
        }
        for (const qint64 ms : std::as_const(instants)) {
            const QDateTime t = QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC);
            const QString text = formatTimestamp(t);
            QCOMPARE(text, t.toString(Qt::ISODateWithMs));
            QCOMPARE(formatTimestamp(t.toOffsetFromUtc(3600)), text);
            const auto back = parseTimestamp(text);
            QVERIFY2(back.has_value(), qPrintable(text));
            QCOMPARE(back->toMSecsSinceEpoch(), ms);
        }
        QVERIFY(formatTimestamp(QDateTime()).isEmpty());
    }

    // Ids: 32 hex digits, valid message ids, unique, and led by the creation time in ms
    // (so they sort by age).
    void messageIdsAreTimeOrdered()
    {
        const qint64 before = QDateTime::currentMSecsSinceEpoch();
        QStringList ids;
        for (int i = 0; i < 1000; ++i)
            ids.append(newMessageId());
        const qint64 after = QDateTime::currentMSecsSinceEpoch();
        for (const QString &id : std::as_const(ids)) {
            QCOMPARE(id.size(), 32);
            QVERIFY2(isValidMessageId(id), qPrintable(id));
            bool ok = false;
            const qint64 ms = id.left(12).toLongLong(&ok, 16);
            QVERIFY(ok);
            QVERIFY2(ms >= before && ms <= after, qPrintable(id));
        }
        QStringList sorted = ids;
        std::sort(sorted.begin(), sorted.end());
        for (qsizetype i = 0; i < ids.size(); ++i) // sorted as text, the times keep creation order
            QCOMPARE(sorted.at(i).left(12), ids.at(i).left(12));
        QCOMPARE(QSet<QString>(ids.begin(), ids.end()).size(), ids.size());
    }

    void jsonFields()
    {
        const QJsonObject body = QJsonDocument::fromJson(R"({"job":"etc","n":3,"f":1.5,"paths":["a",2],"ok":true,"extra":1})").object();
        QCOMPARE(json::requireString(body, "job"_L1).value(), u"etc"_s);
        auto missing = json::requireString(body, "nope"_L1);
        QVERIFY(!missing);
        QCOMPARE(missing.error().message, u"body.nope: missing"_s);
        QCOMPARE(json::requireInteger(body, "n"_L1, 0, 10).value(), 3);
        QVERIFY(!json::requireInteger(body, "n"_L1, 4, 10));
        QVERIFY(!json::requireInteger(body, "f"_L1, 0, 10));
        auto paths = json::requireStringList(body, "paths"_L1, 10);
        QVERIFY(!paths);
        QCOMPARE(paths.error().message, u"body.paths[1]: expected a string"_s);
        QCOMPARE(json::optionalBool(body, "ok"_L1, false).value(), true);
        auto unknown = json::rejectUnknownKeys(body, {"job"_L1, "n"_L1, "f"_L1, "paths"_L1, "ok"_L1});
        QVERIFY(!unknown);
        QVERIFY(unknown.error().message.contains("'extra'"_L1));
    }
};

QTEST_GUILESS_MAIN(TestEnvelope)
#include "tst_envelope.moc"
