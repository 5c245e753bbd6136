#include "sparky/secrets.h"
#include "sparky/signing.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTimeZone>
#include <QTest>

using namespace sparky;
using namespace Qt::StringLiterals;
using namespace std::chrono_literals;

class TestSigning : public QObject
{
    Q_OBJECT

    SigningKey m_key = SigningKey::generate().value();
    VerifyKey m_pub = VerifyKey::fromRaw(m_key.publicKeyRaw()).value();
    QDateTime m_now = QDateTime(QDate(2026, 11, 25), QTime(15, 0), Qt::UTC);

    Envelope command(const QString &node = u"web-01"_s)
    {
        Envelope e = Envelope::make(u"backup.run"_s, node, QJsonObject{{u"job"_s, u"etc"_s}});
        e.ts = m_now;
        return e;
    }

private Q_SLOTS:
    void signAndVerify()
    {
        Envelope e = command();
        QVERIFY(signCommand(e, m_key, 600s).hasValue());
        QCOMPARE(e.signature.size(), 64);
        QCOMPARE(*e.expires, m_now.addSecs(600));
        auto r = verifyCommand(e, m_pub, CommandCheck{u"web-01"_s, m_now.addSecs(10)});
        QVERIFY2(r.hasValue(), qPrintable(r ? QString() : r.error().toString()));

        // It survives the wire.
        auto parsed = parseEnvelope(serializeEnvelope(e));
        QVERIFY(parsed.hasValue());
        QVERIFY(verifyCommand(*parsed, m_pub, CommandCheck{u"web-01"_s, m_now}).hasValue());
    }

    void refuses_data()
    {
        QTest::addColumn<int>("tamper");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("unsigned") << 0 << int(ErrorCode::Crypto) << u"not signed"_s;
        QTest::newRow("body changed") << 1 << int(ErrorCode::Crypto) << u"signature does not verify"_s;
        QTest::newRow("expiry extended") << 2 << int(ErrorCode::Crypto) << u"signature does not verify"_s;
        QTest::newRow("other key") << 3 << int(ErrorCode::Crypto) << u"signature does not verify"_s;
        QTest::newRow("wrong node") << 4 << int(ErrorCode::Validation) << u"targets node 'db-01'"_s;
        QTest::newRow("expired") << 5 << int(ErrorCode::Expired) << u"expired at"_s;
        QTest::newRow("from the future") << 6 << int(ErrorCode::Validation) << u"in the future"_s;
        QTest::newRow("lifetime too long") << 7 << int(ErrorCode::Validation) << u"more than the allowed"_s;
        QTest::newRow("node changed after signing") << 8 << int(ErrorCode::Crypto) << u"signature does not verify"_s;
    }

    void refuses()
    {
        QFETCH(int, tamper);
        QFETCH(int, code);
        QFETCH(QString, mentions);
        Envelope e = command(tamper == 4 ? u"db-01"_s : u"web-01"_s);
        QDateTime now = m_now.addSecs(1);
        switch (tamper) {
        case 0: e.expires = m_now.addSecs(60); break;
        case 1: QVERIFY(signCommand(e, m_key, 600s)); e.body.insert(u"job"_s, u"everything"_s); break;
        case 2: QVERIFY(signCommand(e, m_key, 600s)); e.expires = e.expires->addDays(1); break;
        case 3: QVERIFY(signCommand(e, SigningKey::generate().value(), 600s)); break;
        case 4: QVERIFY(signCommand(e, m_key, 600s)); break;
        case 5: QVERIFY(signCommand(e, m_key, 600s)); now = m_now.addSecs(601); break;
        case 6: e.ts = m_now.addSecs(3600); QVERIFY(signCommand(e, m_key, 600s)); break;
        case 7: QVERIFY(signCommand(e, m_key, std::chrono::seconds(30 * 24 * 3600))); break;
        case 8: QVERIFY(signCommand(e, m_key, 600s)); e.node = u"db-01"_s; break;
        }
        auto r = verifyCommand(e, m_pub, CommandCheck{tamper == 8 ? u"db-01"_s : u"web-01"_s, now});
        QVERIFY(!r.hasValue());
        QCOMPARE(int(r.error().code), code);
        QVERIFY2(r.error().message.contains(mentions), qPrintable(r.error().message));
    }

    void pemRoundTripAndFileMode()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(u"orchestrator.key"_s);
        QVERIFY(writeSecretFile(path, m_key.toPem()).hasValue());
        auto loaded = SigningKey::load(path);
        QVERIFY(loaded.hasValue());
        QCOMPARE(loaded->publicKeyRaw(), m_key.publicKeyRaw());

        QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadOther);
        auto refused = SigningKey::load(path);
        QVERIFY(!refused.hasValue());
        QCOMPARE(refused.error().code, ErrorCode::Permission);
    }

    void badPublicKeys()
    {
        QVERIFY(!VerifyKey::fromBase64(u"not base64!"_s));
        QVERIFY(!VerifyKey::fromBase64(QString::fromLatin1(QByteArray(31, 'a').toBase64())));
        QCOMPARE(VerifyKey::fromBase64(m_key.publicKeyBase64()).value().toBase64(), m_key.publicKeyBase64());
    }
};

QTEST_GUILESS_MAIN(TestSigning)
#include "tst_signing.moc"
