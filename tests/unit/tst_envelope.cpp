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
