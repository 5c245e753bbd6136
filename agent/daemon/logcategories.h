#pragma once

// Logging categories of the agent daemon (agent/daemon/). One per component.

#include <QLoggingCategory>

namespace sparky::agent {

Q_DECLARE_LOGGING_CATEGORY(lcDaemon)    // sparky.agent.daemon
Q_DECLARE_LOGGING_CATEGORY(lcState)     // sparky.agent.state
Q_DECLARE_LOGGING_CATEGORY(lcOutbox)    // sparky.agent.outbox
Q_DECLARE_LOGGING_CATEGORY(lcCommands)  // sparky.agent.commands
Q_DECLARE_LOGGING_CATEGORY(lcScheduler) // sparky.agent.scheduler
Q_DECLARE_LOGGING_CATEGORY(lcRuns)      // sparky.agent.runs
Q_DECLARE_LOGGING_CATEGORY(lcMetrics)   // sparky.agent.metrics

} // namespace sparky::agent
