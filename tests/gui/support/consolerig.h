#pragma once

// The whole console against the real thing, in one process: the orchestrator (the daemon's
// own wiring on SQLite, RemoteRig) on the broker of the ctest fixture `broker`, an
// AgentResponder answering for web-01 with the ArchiveFixture, the DemoFleet's history
// reported by the nodes' own broker users — and the real ConsoleController, MainWindow and
// AdminSession, connecting over TLS as the fixture's operator user with a profile in a
// temporary INI file and the token in a MemorySecretStore. Dialogs are ScriptedDialogs.
//
// Only one rig may live at a time (RemoteRig's store connections have fixed names).
// Threading: the test's main thread.

#include "archivefixture.h"
#include "consolecontroller.h"
#include "demofleet.h"
#include "memorysecretstore.h"
#include "profilestore.h"
#include "remoterig.h"
#include "rolemap.h"
#include "scripteddialogs.h"

#include <QTemporaryDir>
#include <memory>

namespace sparky::admin {
class MainWindow;
}

namespace sparky::test {

class ConsoleRig final
{
public:
    struct Options
    {
        bool demoFleet = true; // publish the DemoFleet's history
        bool openConsole = true; // start the console with the operator's profile
    };

    static Expected<std::unique_ptr<ConsoleRig>> create(const Options &options);
    static Expected<std::unique_ptr<ConsoleRig>> create() { return create(Options {}); }
    ~ConsoleRig();
    ConsoleRig(const ConsoleRig &) = delete;
    ConsoleRig &operator=(const ConsoleRig &) = delete;

    // ConsoleController::start(profile), then waits until the session is connected and the
    // fleet dashboard has its first answer.
    Result openConsole(const QString &profile = QStringLiteral("test"));

    // The profile of the fixture's operator user (saved as "test"), and its real token.
    admin::ConnectionProfile operatorProfile() const { return m_profile; }
    QByteArray operatorToken() const { return m_token; }
    QString iniPath() const;
    QString tempPath(const QString &name) const { return m_dir.filePath(name); }
    std::shared_ptr<TestBroker> broker() const { return m_broker; }

    // The operator user's role, as the orchestrator's rpc.roles would say (RpcServer::setRoles).
    void setRole(orchestrator::Role role);

    RemoteRig *orchestrator() const { return m_rig.get(); }
    AgentResponder *agent() const { return m_rig->agent(); }
    DemoFleet *fleet() const { return m_fleet.get(); }
    ArchiveFixture *archives() const { return m_archives.get(); }
    admin::ProfileStore *profiles() const { return m_profiles.get(); }
    admin::MemorySecretStore *secrets() const { return m_secrets.get(); }
    admin::test::ScriptedDialogs *dialogs() const { return m_dialogs.get(); }
    admin::ConsoleController *console() const { return m_console.get(); }
    admin::MainWindow *window() const;

private:
    ConsoleRig() = default;

    QTemporaryDir m_dir;
    std::shared_ptr<TestBroker> m_broker;
    std::unique_ptr<RemoteRig> m_rig;
    std::unique_ptr<DemoFleet> m_fleet;
    std::unique_ptr<ArchiveFixture> m_archives;
    std::unique_ptr<admin::ProfileStore> m_profiles;
    std::unique_ptr<admin::MemorySecretStore> m_secrets;
    std::unique_ptr<admin::test::ScriptedDialogs> m_dialogs;
    std::unique_ptr<admin::ConsoleController> m_console;
    admin::ConnectionProfile m_profile;
    QByteArray m_token;
};

} // namespace sparky::test
