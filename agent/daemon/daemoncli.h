#pragma once

// The `daemon` and `status` subcommands of sparky-agent (agent/src/agentcli.cpp dispatches
// here when the daemon library is built in). `arguments` starts with the subcommand name,
// e.g. {"daemon", "-c", "/etc/sparky/agent.yaml"}. Return the process exit code.
//
//   sparky-agent daemon [-c FILE] [--conf-dir DIR] [--shutdown-grace DURATION] [--debug]
//       0 after a clean stop (SIGTERM/SIGINT), 78 (EX_CONFIG) for an invalid config at
//       start-up, 1 for other start-up failures (state directory, …).
//   sparky-agent status [-c FILE] [--state-dir DIR] [--json]
//       0 when the daemon runs, 3 when it does not (like systemctl status), 1 on errors.

#include <QStringList>

namespace sparky::agent {

inline constexpr int kExitConfig = 78; // sysexits EX_CONFIG; the unit does not restart on it
inline constexpr int kExitNotRunning = 3;

int runDaemonCommand(const QStringList &arguments);
int runStatusCommand(const QStringList &arguments);

} // namespace sparky::agent
