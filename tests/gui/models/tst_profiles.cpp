// Connection profiles and their secrets: ConnectionProfile validation (every problem named,
// data-driven) and broker settings; ProfileStore round trips in a temporary INI file and
// never writes a token there; the default profile; MemorySecretStore answers later, like a
// keychain; KeychainSecretStore without a desktop keychain fails with a clear error and
// writes nothing to disk (QtKeychain's plaintext fallback stays off). The test runs with
// DBUS_SESSION_BUS_ADDRESS pointing nowhere, so it never touches a developer's keychain.

#include "connectionprofile.h"
#include "keychainsecretstore.h"
#include "memorysecretstore.h"
#include "profilestore.h"

#include <QDirIterator>
#include <QFile>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::admin;
using namespace Qt::StringLiterals;

namespace {

QString writeFile(
    const QTemporaryDir &dir, const QString &name, const QByteArray &content = "PEM\n")
{
    const QString path = dir.filePath(name);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(content) != content.size())
        qFatal("cannot write %s", qPrintable(path));
    return path;
}

ConnectionProfile validProfile(const QString &ca)
{
    ConnectionProfile p;
    p.name = u"prod"_s;
    p.hosts = QStringList { u"mq1.example.net"_s, u"mq2.example.net:5672"_s };
    p.user = u"alice"_s;
    p.caFile = ca;
    return p;
}

} // namespace

class TestProfiles : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_ca;

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
        m_ca = writeFile(m_dir, u"ca.pem"_s);
    }

    void validate_data()
    {
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("error"); // empty: valid

        QTest::newRow("valid") << QString() << QString() << QString();
        QTest::newRow("bad name")
            << u"name"_s << u"prod east"_s
            << u"name: 'prod east' must be 1-64 letters, digits, '.', '_' or '-'"_s;
        QTest::newRow("no hosts") << u"hosts"_s << QString()
                                  << u"hosts: at least one broker address is needed"_s;
        QTest::newRow("bad port") << u"hosts"_s << u"mq1:99999"_s
                                  << u"hosts[0]: 'mq1:99999' has no valid port (1-65535)"_s;
        QTest::newRow("port zero")
            << u"hosts"_s << u"mq1:0"_s << u"hosts[0]: 'mq1:0' has no valid port (1-65535)"_s;
        QTest::newRow("space in host")
            << u"hosts"_s << u"mq 1"_s << u"hosts[0]: 'mq 1' is not a host name or address"_s;
        QTest::newRow("ipv6 with port") << u"hosts"_s << u"[::1]:5671"_s << QString();
        QTest::newRow("empty vhost") << u"vhost"_s << u" "_s << u"vhost: must not be empty"_s;
        QTest::newRow("no user, no cert")
            << u"user"_s << QString()
            << u"user: a broker user (with a token) or a client certificate is needed"_s;
        QTest::newRow("no CA") << u"ca"_s << QString()
                               << u"ca_file: the CA certificate is needed to verify the broker"_s;
        QTest::newRow("missing CA")
            << u"ca"_s << u"/nonexistent/ca.pem"_s
            << u"ca_file: /nonexistent/ca.pem does not exist or is not readable"_s;
        QTest::newRow("cert without key")
            << u"cert"_s << u"cert.pem"_s
            << u"cert_file/key_file: a client certificate needs its key, and the other way round"_s;
    }

    void validate()
    {
        QFETCH(QString, field);
        QFETCH(QString, value);
        QFETCH(QString, error);
        ConnectionProfile p = validProfile(m_ca);
        if (field == u"name")
            p.name = value;
        else if (field == u"hosts")
            p.hosts = value.isEmpty() ? QStringList() : QStringList { value };
        else if (field == u"vhost")
            p.vhost = value;
        else if (field == u"user")
            p.user = value;
        else if (field == u"ca")
            p.caFile = value;
        else if (field == u"cert")
            p.certFile = m_dir.filePath(value);
        const Result ok = p.validate();
        QCOMPARE(ok ? QString() : ok.error().message, error);
    }

    void everyProblemAtOnce()
    {
        ConnectionProfile p;
        p.name = u"x y"_s;
        p.vhost = QString();
        const Result ok = p.validate();
        QVERIFY(!ok);
        QCOMPARE(ok.error().message.split(u'\n').size(), 5); // name, hosts, vhost, user, ca_file
    }

    void brokerSettings()
    {
        ConnectionProfile p = validProfile(m_ca);
        QVERIFY(p.needsToken());
        QCOMPARE(p.secretKey(), u"profile:prod"_s);
        const auto noToken = p.brokerSettings({});
        QVERIFY(!noToken);
        QCOMPARE(noToken.error().message, u"profile 'prod': no token for user 'alice'"_s);
        const auto s = p.brokerSettings("s3cret");
        QVERIFY(s);
        QCOMPARE(s->endpoints.size(), 2);
        QCOMPARE(s->endpoints.at(0).toString(), u"mq1.example.net:5671"_s);
        QCOMPARE(s->endpoints.at(1).toString(), u"mq2.example.net:5672"_s);
        QCOMPARE(s->user, u"alice"_s);
        QCOMPARE(s->token, QByteArray("s3cret"));
        QVERIFY(s->tokenFile.isEmpty());
        QVERIFY(s->verifyPeer);
        QVERIFY(s->verifyHostname);
        QCOMPARE(s->connectionName, u"sparky-admin (prod)"_s);

        // A client certificate alone (SASL EXTERNAL) needs no token.
        ConnectionProfile x = p;
        x.user.clear();
        x.certFile = writeFile(m_dir, u"client.pem"_s);
        x.keyFile = writeFile(m_dir, u"client.key"_s);
        QVERIFY(!x.needsToken());
        const auto e = x.brokerSettings({});
        QVERIFY2(e, qPrintable(e ? QString() : e.error().message));
        QVERIFY(e->usesExternalAuth());
    }

    void storeRoundTripsWithoutSecrets()
    {
        const QString ini = m_dir.filePath(u"round.ini"_s);
        ConnectionProfile p = validProfile(m_ca);
        {
            ProfileStore store(ini);
            QCOMPARE(store.names(), QStringList());
            QCOMPARE(store.defaultProfile(), QString());
            QVERIFY(store.save(p));
            ConnectionProfile b = p;
            b.name = u"a-lab"_s;
            b.certFile = writeFile(m_dir, u"lab.pem"_s);
            b.keyFile = writeFile(m_dir, u"lab.key"_s);
            QVERIFY(store.save(b));
            QCOMPARE(store.fileName(), ini);
        }
        ProfileStore store(ini);
        QCOMPARE(store.names(), (QStringList { u"a-lab"_s, u"prod"_s }));
        const auto loaded = store.load(u"prod"_s);
        QVERIFY(loaded);
        QCOMPARE(*loaded, p);
        QCOMPARE(store.load(u"a-lab"_s)->keyFile, m_dir.filePath(u"lab.key"_s));
        const auto missing = store.load(u"nope"_s);
        QVERIFY(!missing);
        QCOMPARE(missing.error().message,
            u"no connection profile 'nope' in %1 (known: a-lab, prod)"_s.arg(ini));

        // Two profiles and none used yet: no default. Then the last used one.
        QCOMPARE(store.defaultProfile(), QString());
        store.setLastUsed(u"prod"_s);
        QCOMPARE(store.defaultProfile(), u"prod"_s);
        QVERIFY(store.remove(u"prod"_s));
        QCOMPARE(store.defaultProfile(), u"a-lab"_s); // the only one left
        QVERIFY(!store.remove(u"prod"_s));

        // An invalid profile is refused, naming it and the field.
        ConnectionProfile bad = p;
        bad.caFile = u"/nonexistent/ca.pem"_s;
        const Result refused = store.save(bad);
        QVERIFY(!refused);
        QVERIFY2(refused.error().message.contains(u"profile 'prod'"_s)
                && refused.error().message.contains(u"ca_file"_s),
            qPrintable(refused.error().message));
        QCOMPARE(store.names(), QStringList { u"a-lab"_s });
    }

    void tokensNeverReachTheSettingsFile()
    {
        const QString ini = m_dir.filePath(u"secrets.ini"_s);
        ProfileStore store(ini);
        MemorySecretStore secrets;
        const ConnectionProfile p = validProfile(m_ca);
        QVERIFY(store.save(p));
        QObject context;
        bool written = false;
        secrets.writeSecret(p.secretKey(), "tok-5f0c2e9a4b1d", &context,
            [&](const Result &r) { written = bool(r); });
        QVERIFY(!written); // answered later, never inside the call
        QTRY_VERIFY(written);
        QVERIFY(store.sync());
        QFile f(ini);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray content = f.readAll();
        QVERIFY(content.contains("alice"));
        QVERIFY(!content.contains("tok-5f0c2e9a4b1d"));
        QVERIFY(!content.toLower().contains("token"));
    }

    void memorySecretStore()
    {
        MemorySecretStore secrets;
        QCOMPARE(secrets.backendName(), u"in-memory secret store"_s);
        auto context = std::make_unique<QObject>();
        std::optional<Expected<QByteArray>> read;
        secrets.readSecret(
            u"profile:x"_s, context.get(), [&](const Expected<QByteArray> &r) { read = r; });
        QVERIFY(!read);
        QTRY_VERIFY(read.has_value());
        QVERIFY(!*read);
        QCOMPARE(read->error().code, ErrorCode::NotFound);
        QCOMPARE(read->error().message,
            u"no secret stored for 'profile:x' in the in-memory secret store"_s);

        bool done = false;
        secrets.writeSecret(
            u"profile:x"_s, "t", context.get(), [&](const Result &) { done = true; });
        QTRY_VERIFY(done);
        QVERIFY(secrets.contains(u"profile:x"_s));
        read.reset();
        secrets.readSecret(
            u"profile:x"_s, context.get(), [&](const Expected<QByteArray> &r) { read = r; });
        QTRY_VERIFY(read.has_value());
        QCOMPARE(**read, QByteArray("t"));

        // A failing store (a locked keychain) answers every call with its error.
        secrets.setFailure(u"the keychain is locked"_s);
        std::optional<Result> removed;
        secrets.removeSecret(u"profile:x"_s, context.get(), [&](const Result &r) { removed = r; });
        QTRY_VERIFY(removed.has_value());
        QVERIFY(!*removed);
        QCOMPARE(removed->error().message, u"the keychain is locked"_s);
        QVERIFY(secrets.contains(u"profile:x"_s));

        // The answer is dropped when its context is gone.
        bool called = false;
        secrets.readSecret(
            u"profile:x"_s, context.get(), [&](const Expected<QByteArray> &) { called = true; });
        context.reset();
        QCoreApplication::processEvents();
        QCoreApplication::processEvents();
        QVERIFY(!called);
    }

    void keychainWithoutAKeychainFailsClearly()
    {
        QVERIFY2(qEnvironmentVariable("DBUS_SESSION_BUS_ADDRESS").contains(u"nonexistent"_s),
            "this test must run with DBUS_SESSION_BUS_ADDRESS pointing nowhere "
            "(tests/gui/CMakeLists.txt)");
        KeychainSecretStore keychain(u"sparky-admin-test"_s);
        QCOMPARE(keychain.backendName(), u"desktop keychain"_s);
        QObject context;
        std::optional<Result> written;
        keychain.writeSecret(u"profile:prod"_s, "tok-must-not-land-on-disk", &context,
            [&](const Result &r) { written = r; });
        QTRY_VERIFY_WITH_TIMEOUT(written.has_value(), 30000);
        QVERIFY(!*written);
        qInfo().noquote() << "the keychain said:" << written->error().message;
        QVERIFY2(written->error().message.startsWith(u"storing the token of 'profile:prod': "_s),
            qPrintable(written->error().message));
        QVERIFY2(written->error().message.contains(u"Secret Service"_s),
            qPrintable(written->error().message));

        std::optional<Expected<QByteArray>> read;
        keychain.readSecret(
            u"profile:prod"_s, &context, [&](const Expected<QByteArray> &r) { read = r; });
        QTRY_VERIFY_WITH_TIMEOUT(read.has_value(), 30000);
        QVERIFY(!*read);

        // No plaintext fallback: the token is in no file where QSettings would put it (the
        // test-mode configuration and data directories).
        for (const QString &root :
            { QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation),
                QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) }) {
            if (root.isEmpty() || !QDir(root).exists())
                continue;
            QDirIterator it(root, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
            int checked = 0;
            while (it.hasNext() && checked < 2000) {
                const QString path = it.next();
                ++checked;
                if (QFileInfo(path).size() > 1 << 20)
                    continue;
                QFile f(path);
                if (f.open(QIODevice::ReadOnly))
                    QVERIFY2(!f.readAll().contains("tok-must-not-land-on-disk"), qPrintable(path));
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestProfiles)
#include "tst_profiles.moc"
