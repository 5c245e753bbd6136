// Connection profiles and connecting, with the real ConsoleController and AdminSession on
// the real broker (and orchestrator, ConsoleRig without the demo fleet): the first run asks
// for a profile in the real profile dialog, saves it without the token and keeps the token
// in the secret store; a typed token is used once unless remembered; and every way of not
// getting connected is named — unknown profile, several profiles, no token in the keychain,
// a wrong token, a broker that does not answer, a broker certificate from another CA, a CA
// file that is gone — on the status bar, and again when the operator tries anyway.

#include "adminsession.h"
#include "consolerig.h"
#include "fleetmodel.h"
#include "mainwindow.h"
#include "profiledialog.h"
#include "uifind.h"

#include <QAction>
#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>

using namespace sparky;
using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace sparky::test;
using namespace Qt::StringLiterals;
using State = AdminSession::State;

namespace {

// One console of its own: profiles in `ini`, secrets in memory, scripted dialogs.
struct Console
{
    explicit Console(const QString &ini)
        : profiles(ini)
        , controller(&profiles, &secrets, &dialogs)
    { }
    ~Console() = default;

    Result storeToken(const QString &profile, const QByteArray &token)
    {
        std::optional<Result> stored;
        QObject ctx;
        secrets.writeSecret(
            u"profile:"_s + profile, token, &ctx, [&](const Result &r) { stored = r; });
        if (!QTest::qWaitFor([&] { return stored.has_value(); }, 5000))
            return unexpected(ErrorCode::Timeout, u"no answer from the secret store"_s);
        return *stored;
    }
    QByteArray token(const QString &profile)
    {
        std::optional<Expected<QByteArray>> read;
        QObject ctx;
        secrets.readSecret(
            u"profile:"_s + profile, &ctx, [&](const Expected<QByteArray> &r) { read = r; });
        if (!QTest::qWaitFor([&] { return read.has_value(); }, 5000) || !*read)
            return {};
        return **read;
    }
    AdminSession *session() const { return controller.session(); }
    MainWindow *window() const { return controller.window(); }
    QString connection() const { return child<QLabel>(window(), u"connectionLabel"_s)->text(); }
    QString message() const
    {
        return child<QLabel>(window(), u"messageLabel"_s)->text().section(u"] "_s, 1);
    }
    bool waitFor(State state, int ms = 20000) const
    {
        return QTest::qWaitFor([&] { return session()->state() == state; }, ms);
    }

    ProfileStore profiles;
    MemorySecretStore secrets;
    ScriptedDialogs dialogs;
    ConsoleController controller;
};

} // namespace

class TestConsoleConnection : public QObject
{
    Q_OBJECT

    std::unique_ptr<ConsoleRig> m_rig;
    int m_inis = 0;

    QString freshIni() { return m_rig->tempPath(u"console-%1.ini"_s.arg(++m_inis)); }

    ConnectionProfile profile(const QString &name) const
    {
        ConnectionProfile p = m_rig->operatorProfile();
        p.name = name;
        return p;
    }

private Q_SLOTS:
    void initTestCase()
    {
        ConsoleRig::Options o;
        o.demoFleet = false;
        o.openConsole = false;
        auto rig = ConsoleRig::create(o);
        QVERIFY2(rig, qPrintable(rig ? QString() : rig.error().toString()));
        m_rig = std::move(*rig);
    }

    void cleanupTestCase() { m_rig.reset(); }

    void firstRunCreatesAProfile()
    {
        const QString ini = freshIni();
        Console c(ini);
        const ConnectionProfile op = m_rig->operatorProfile();
        const QByteArray token = m_rig->operatorToken();
        c.dialogs.setProfileHandler([&](QWidget *parent, const ConnectionProfile &given,
                                        bool firstRun) -> std::optional<ProfileInput> {
            if (!firstRun || !given.name.isEmpty())
                return std::nullopt;
            ProfileDialog dialog(parent);
            dialog.setFirstRun(firstRun);
            dialog.setProfile(given);
            dialog.show();
            child<QLineEdit>(&dialog, u"profileName"_s)->setText(u"prod"_s);
            child<QLineEdit>(&dialog, u"profileHosts"_s)->setText(op.hosts.join(u", "_s));
            child<QLineEdit>(&dialog, u"profileUser"_s)->setText(op.user);
            child<QLineEdit>(&dialog, u"profileToken"_s)->setText(QString::fromUtf8(token));
            child<QLineEdit>(&dialog, u"profileCaFile"_s)->setText(op.caFile);
            QTest::mouseClick(
                child<QDialogButtonBox>(&dialog, u"profileButtons"_s)->button(QDialogButtonBox::Ok),
                Qt::LeftButton);
            if (dialog.result() != QDialog::Accepted)
                return std::nullopt;
            return dialog.input();
        });
        QSignalSpy refreshed(c.window()->fleetModel(), &FleetModel::refreshed);
        const Result started = c.controller.start(QString());
        QVERIFY2(started, qPrintable(started ? QString() : started.error().message));
        QCOMPARE(c.dialogs.profileQuestions(), 1);
        QVERIFY2(c.waitFor(State::Connected), qPrintable(c.connection()));
        QVERIFY2(c.connection().endsWith(u" as sparky-operator"_s), qPrintable(c.connection()));
        QVERIFY(refreshed.wait(20000));
        QVERIFY(c.window()->fleetModel()->nodes().contains(DemoFleet::responderNode()));
        QCOMPARE(c.window()->windowTitle(), u"sparky-for-backup — prod"_s);

        // The profile is in the INI file, the token is not — it is in the secret store.
        QCOMPARE(c.profiles.names(), QStringList { u"prod"_s });
        QCOMPARE(c.profiles.defaultProfile(), u"prod"_s);
        QVERIFY(c.profiles.sync());
        QFile f(ini);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray content = f.readAll();
        QVERIFY(content.contains(op.user.toUtf8()));
        QVERIFY(!content.contains(token));
        QTRY_VERIFY(c.secrets.contains(u"profile:prod"_s));
        QCOMPARE(c.token(u"prod"_s), token);
    }

    void firstRunCancelled()
    {
        Console c(freshIni());
        const Result started = c.controller.start(QString());
        QVERIFY(!started);
        QCOMPARE(started.error().code, ErrorCode::Cancelled);
        QCOMPARE(started.error().message, u"no connection profile was created"_s);
        QCOMPARE(c.dialogs.profileQuestions(), 1);
    }

    void profileChoiceErrors()
    {
        const QString ini = freshIni();
        Console c(ini);
        QVERIFY(c.profiles.save(profile(u"east"_s)));
        QVERIFY(c.profiles.save(profile(u"west"_s)));
        const Result several = c.controller.start(QString());
        QVERIFY(!several);
        QCOMPARE(several.error().message,
            u"several connection profiles exist (east, west): choose one with --profile NAME"_s);
        const Result unknown = c.controller.start(u"north"_s);
        QVERIFY(!unknown);
        QCOMPARE(unknown.error().message,
            u"no connection profile 'north' in %1 (known: east, west)"_s.arg(ini));
        QCOMPARE(c.dialogs.profileQuestions(), 0);
    }

    void missingTokenIsNamed()
    {
        Console c(freshIni());
        QVERIFY(c.profiles.save(profile(u"prod"_s)));
        QVERIFY(c.controller.start(u"prod"_s));
        QVERIFY(c.waitFor(State::Failed));
        const QString expected
            = u"cannot connect with profile 'prod': no secret stored for 'profile:prod' in the in-memory secret store"_s;
        QCOMPARE(c.connection(), expected);
        QCOMPARE(c.message(), expected);
        QVERIFY(child<QLabel>(c.window(), u"messageLabel"_s)->styleSheet().contains(u"bold"_s));
    }

    void wrongTokenIsRefusedThenFixed()
    {
        Console c(freshIni());
        QVERIFY(c.profiles.save(profile(u"prod"_s)));
        QVERIFY(c.storeToken(u"prod"_s, "not-the-token"));
        QVERIFY(c.controller.start(u"prod"_s));
        QVERIFY2(c.waitFor(State::Failed), qPrintable(c.connection()));
        QVERIFY2(c.connection().startsWith(u"cannot connect: "_s)
                && c.connection().contains(u"ACCESS_REFUSED"_s),
            qPrintable(c.connection()));
        QCOMPARE(c.message(), c.connection());
        QVERIFY(!c.connection().contains(u"not-the-token"_s)); // never shown

        // Trying anyway says why at once, instead of timing out.
        QSignalSpy errors(c.window()->fleetModel(), &FleetModel::errorOccurred);
        child<QAction>(c.window(), u"refreshAction"_s)->trigger();
        QVERIFY(errors.wait(5000));
        QCOMPARE(errors.first().first().toString(),
            u"fleet.summary: Not sent (broker connection) — not connected to the broker (%1)"_s.arg(
                c.connection()));
        QCOMPARE(c.message(), errors.first().first().toString());

        // Connection → Edit profile…: the right token, remembered.
        const QByteArray token = m_rig->operatorToken();
        c.dialogs.setProfileHandler([&](QWidget *, const ConnectionProfile &given,
                                        bool firstRun) -> std::optional<ProfileInput> {
            if (firstRun || given.name != u"prod")
                return std::nullopt;
            return ProfileInput { given, token, true };
        });
        QSignalSpy refreshed(c.window()->fleetModel(), &FleetModel::refreshed);
        child<QAction>(c.window(), u"editProfileAction"_s)->trigger();
        QVERIFY2(c.waitFor(State::Connected), qPrintable(c.connection()));
        QVERIFY(refreshed.wait(20000));
        QTRY_COMPARE(c.token(u"prod"_s), token);
    }

    void renamedProfileKeepsItsToken()
    {
        Console c(freshIni());
        QVERIFY(c.profiles.save(profile(u"prod"_s)));
        QVERIFY(c.storeToken(u"prod"_s, m_rig->operatorToken()));
        QVERIFY(c.controller.start(u"prod"_s));
        QVERIFY2(c.waitFor(State::Connected), qPrintable(c.connection()));
        // Edit profile…: another name, the token left empty ("keep the stored one").
        c.dialogs.setProfileHandler(
            [](QWidget *, const ConnectionProfile &given, bool) -> std::optional<ProfileInput> {
                ConnectionProfile renamed = given;
                renamed.name = u"prod-east"_s;
                return ProfileInput { renamed, {}, true };
            });
        child<QAction>(c.window(), u"editProfileAction"_s)->trigger();
        QTRY_COMPARE_WITH_TIMEOUT(c.session()->profile().name, u"prod-east"_s, 5000);
        QVERIFY2(c.waitFor(State::Connected), qPrintable(c.connection()));
        QCOMPARE(c.token(u"prod-east"_s), m_rig->operatorToken());
        QCOMPARE(c.profiles.names(), (QStringList { u"prod"_s, u"prod-east"_s }));
        QCOMPARE(c.profiles.defaultProfile(), u"prod-east"_s);
        QCOMPARE(c.window()->windowTitle(), u"sparky-for-backup — prod-east"_s);
    }

    void typedTokenIsUsedOnceUnlessRemembered()
    {
        Console c(freshIni());
        QVERIFY(c.profiles.save(profile(u"prod"_s)));
        QVERIFY(c.storeToken(u"prod"_s, "stale"));
        QVERIFY(c.controller.start(u"prod"_s));
        QVERIFY(c.waitFor(State::Failed));
        c.dialogs.setProfileHandler(
            [&](QWidget *, const ConnectionProfile &given, bool) -> std::optional<ProfileInput> {
                return ProfileInput { given, m_rig->operatorToken(), false };
            });
        child<QAction>(c.window(), u"editProfileAction"_s)->trigger();
        QVERIFY2(c.waitFor(State::Connected), qPrintable(c.connection()));
        QCOMPARE(c.token(u"prod"_s), QByteArray("stale")); // not remembered

        // Reconnect reads the store again: the stale token is refused.
        child<QAction>(c.window(), u"reconnectAction"_s)->trigger();
        QVERIFY2(c.waitFor(State::Failed), qPrintable(c.connection()));
    }

    void unreachableBrokerIsNamed()
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 port = probe.serverPort();
        probe.close(); // nothing listens there now
        ConnectionProfile p = profile(u"nowhere"_s);
        p.hosts = QStringList { u"127.0.0.1:%1"_s.arg(port) };
        Console c(freshIni());
        QVERIFY(c.profiles.save(p));
        QVERIFY(c.storeToken(u"nowhere"_s, m_rig->operatorToken()));
        QVERIFY(c.controller.start(u"nowhere"_s));
        QTRY_VERIFY_WITH_TIMEOUT(c.connection().startsWith(u"cannot reach the broker"_s), 20000);
        QVERIFY2(c.connection().startsWith(
                     u"cannot reach the broker (127.0.0.1:%1), retrying: "_s.arg(port)),
            qPrintable(c.connection()));
        QCOMPARE(c.session()->state(), State::Connecting);

        QSignalSpy errors(c.window()->fleetModel(), &FleetModel::errorOccurred);
        child<QAction>(c.window(), u"refreshAction"_s)->trigger();
        QVERIFY(errors.wait(5000));
        QVERIFY2(
            errors.first().first().toString().startsWith(
                u"fleet.summary: Not sent (broker connection) — not connected to the broker (cannot reach the broker"_s),
            qPrintable(errors.first().first().toString()));
    }

    void untrustedBrokerCertificateIsNamed()
    {
        // A CA the broker's certificate is not signed by.
        const QString ca = m_rig->tempPath(u"other-ca.pem"_s);
        QProcess openssl;
        openssl.start(u"openssl"_s,
            { u"req"_s, u"-x509"_s, u"-newkey"_s, u"ec"_s, u"-pkeyopt"_s,
                u"ec_paramgen_curve:P-256"_s, u"-nodes"_s, u"-subj"_s, u"/CN=some other CA"_s,
                u"-days"_s, u"1"_s, u"-keyout"_s, m_rig->tempPath(u"other-ca.key"_s), u"-out"_s,
                ca });
        QVERIFY(openssl.waitForFinished(30000));
        QCOMPARE(openssl.exitCode(), 0);
        ConnectionProfile p = profile(u"mitm"_s);
        p.caFile = ca;
        Console c(freshIni());
        QVERIFY(c.profiles.save(p));
        QVERIFY(c.storeToken(u"mitm"_s, m_rig->operatorToken()));
        QVERIFY(c.controller.start(u"mitm"_s));
        QVERIFY2(c.waitFor(State::Failed), qPrintable(c.connection()));
        QVERIFY2(c.connection().startsWith(u"cannot connect: "_s)
                && (c.connection().contains(u"not signed by the configured CA"_s)
                    || c.connection().contains(u"check tls.ca_file"_s)),
            qPrintable(c.connection()));
    }

    void missingCaFileIsNamed()
    {
        const QString ca = m_rig->tempPath(u"gone-ca.pem"_s);
        QVERIFY(QFile::copy(m_rig->operatorProfile().caFile, ca));
        ConnectionProfile p = profile(u"moved"_s);
        p.caFile = ca;
        Console c(freshIni());
        QVERIFY(c.profiles.save(p));
        QVERIFY(c.storeToken(u"moved"_s, m_rig->operatorToken()));
        QVERIFY(QFile::remove(ca));
        QVERIFY(c.controller.start(u"moved"_s));
        QVERIFY(c.waitFor(State::Failed));
        QCOMPARE(c.connection(),
            u"profile 'moved' is not usable: ca_file: %1 does not exist or is not readable"_s.arg(
                ca));
    }
};

QTEST_MAIN(TestConsoleConnection)
#include "tst_console_connection.moc"
