#include "orchestratorlogging.h"

namespace sparky::orchestrator {

Q_LOGGING_CATEGORY(lcStore, "sparky.orchestrator.store", QtInfoMsg)
Q_LOGGING_CATEGORY(lcIngest, "sparky.orchestrator.ingest", QtInfoMsg)
Q_LOGGING_CATEGORY(lcCommands, "sparky.orchestrator.commands", QtInfoMsg)
Q_LOGGING_CATEGORY(lcRpc, "sparky.orchestrator.rpc", QtInfoMsg)
Q_LOGGING_CATEGORY(lcReport, "sparky.orchestrator.report", QtInfoMsg)
Q_LOGGING_CATEGORY(lcDaemon, "sparky.orchestrator.daemon", QtInfoMsg)
Q_LOGGING_CATEGORY(lcDuties, "sparky.orchestrator.duties", QtInfoMsg)

} // namespace sparky::orchestrator
