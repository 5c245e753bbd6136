#include "consolerig.h"

#include "adminsession.h"
#include "fleetmodel.h"
#include "mainwindow.h"
#include "rpcserver.h"
#include "sparky/secrets.h"
#include "sparky/signing.h"
#include "testbroker.h"

#include <QSignalSpy>
#include <QTest>

namespace sparky::test {

using namespace Qt::StringLiterals;

Expected<std::unique_ptr<ConsoleRig>> ConsoleRig::create(const Options &options)
{
    std::unique_ptr<ConsoleRig> r(new ConsoleRig);
    if (!r->m_dir.isValid())
        return unexpected(ErrorCode::Io, u"no temporary directory"_s);
    auto broker = TestBroker::shared();
    if (!broker)
        return broker.error();
    r->m_broker = *broker;

    auto key = SigningKey::generate();
    if (!key)
        return key.error();
    const QString keyFile = r->m_dir.filePath(u"orchestrator.key"_s);
    if (auto ok = writeSecretFile(keyFile, key->toPem()); !ok)
        return ok.error();
    auto pub = VerifyKey::fromBase64(key->publicKeyBase64());
    if (!pub)
        return pub.error();
    RemoteRig::Setup setup { r->m_broker, r->m_dir.path(), keyFile, *pub, u"sqlite"_s,
        DemoFleet::responderNode() };
    auto rig = RemoteRig::create(setup);
    if (!rig)
        return rig.error().wrapped(u"orchestrator and agent"_s);
    r->m_rig = std::move(*rig);

    r->m_fleet = std::make_unique<DemoFleet>(r->m_broker, QDateTime::currentDateTimeUtc());
    r->m_archives = std::make_unique<ArchiveFixture>(r->m_fleet.get(), r->m_rig->agent());
    if (options.demoFleet) {
        if (auto ok = r->m_fleet->publish(); !ok)
            return ok.error();
        RemoteRig *orchestrator = r->m_rig.get();
        const int runs = r->m_fleet->runCount();
        if (!QTest::qWaitFor(
                [&] { return orchestrator->count(u"SELECT COUNT(*) FROM runs"_s) >= runs; }, 30000))
            return unexpected(ErrorCode::Timeout,
                u"the orchestrator stored %1 of the demo fleet's %2 runs"_s
                    .arg(orchestrator->count(u"SELECT COUNT(*) FROM runs"_s))
                    .arg(runs));
    }

    // The console's side: a profile for the operator user, its token in the secret store.
    const BrokerSettings op = r->m_broker->operatorUser();
    auto token = readSecretFile(op.tokenFile);
    if (!token)
        return token.error();
    r->m_token = *token;
    r->m_profile.name = u"test"_s;
    r->m_profile.hosts = QStringList { op.endpoints.first().toString() };
    r->m_profile.vhost = op.vhost;
    r->m_profile.user = op.user;
    r->m_profile.caFile = op.caFile;
    r->m_profiles = std::make_unique<admin::ProfileStore>(r->m_dir.filePath(u"sparky-admin.ini"_s));
    if (auto ok = r->m_profiles->save(r->m_profile); !ok)
        return ok.error();
    r->m_secrets = std::make_unique<admin::MemorySecretStore>();
    QObject context;
    std::optional<Result> stored;
    r->m_secrets->writeSecret(
        r->m_profile.secretKey(), r->m_token, &context, [&](const Result &ok) { stored = ok; });
    if (!QTest::qWaitFor([&] { return stored.has_value(); }, 5000) || !*stored)
        return unexpected(ErrorCode::Io, u"could not store the operator's token"_s);
    r->m_dialogs = std::make_unique<admin::test::ScriptedDialogs>();
    r->m_console = std::make_unique<admin::ConsoleController>(
        r->m_profiles.get(), r->m_secrets.get(), r->m_dialogs.get());
    if (options.openConsole)
        if (auto ok = r->openConsole(); !ok)
            return ok.error();
    return r;
}

ConsoleRig::~ConsoleRig()
{
    // The console (views, then its session) goes before the orchestrator it calls.
    m_console.reset();
    m_archives.reset();
    m_rig.reset();
}

QString ConsoleRig::iniPath() const
{
    return m_profiles->fileName();
}

admin::MainWindow *ConsoleRig::window() const
{
    return m_console->window();
}

Result ConsoleRig::openConsole(const QString &profile)
{
    admin::FleetModel *fleet = window()->fleetModel();
    QSignalSpy refreshed(fleet, &admin::FleetModel::refreshed);
    if (auto ok = m_console->start(profile); !ok)
        return ok;
    admin::AdminSession *session = m_console->session();
    if (!QTest::qWaitFor(
            [&] {
                return session->state() == admin::AdminSession::State::Connected
                    || session->state() == admin::AdminSession::State::Failed;
            },
            20000)
        || session->state() != admin::AdminSession::State::Connected)
        return unexpected(
            ErrorCode::Network, u"the console did not connect: "_s + session->stateText());
    if (!QTest::qWaitFor([&] { return !refreshed.isEmpty(); }, 20000))
        return unexpected(
            ErrorCode::Timeout, u"the fleet dashboard got no answer: "_s + window()->lastMessage());
    return {};
}

void ConsoleRig::setRole(orchestrator::Role role)
{
    orchestrator::RoleMap roles;
    roles.set(m_broker->operatorUser().user, role);
    m_rig->daemon()->rpcServer()->setRoles(roles);
}

} // namespace sparky::test
