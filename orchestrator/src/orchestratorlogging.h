#pragma once

// Logging categories of the orchestrator, one per component (sparky.orchestrator.*).

#include <QLoggingCategory>

namespace sparky::orchestrator {

Q_DECLARE_LOGGING_CATEGORY(lcStore) // sparky.orchestrator.store
Q_DECLARE_LOGGING_CATEGORY(lcIngest) // sparky.orchestrator.ingest
Q_DECLARE_LOGGING_CATEGORY(lcCommands) // sparky.orchestrator.commands
Q_DECLARE_LOGGING_CATEGORY(lcRpc) // sparky.orchestrator.rpc
Q_DECLARE_LOGGING_CATEGORY(lcReport) // sparky.orchestrator.report
Q_DECLARE_LOGGING_CATEGORY(lcDaemon) // sparky.orchestrator.daemon
Q_DECLARE_LOGGING_CATEGORY(lcDuties) // sparky.orchestrator.duties

} // namespace sparky::orchestrator
