#include "logcategories.h"

namespace sparky::agent {

Q_LOGGING_CATEGORY(lcDaemon, "sparky.agent.daemon", QtInfoMsg)
Q_LOGGING_CATEGORY(lcState, "sparky.agent.state", QtInfoMsg)
Q_LOGGING_CATEGORY(lcOutbox, "sparky.agent.outbox", QtInfoMsg)
Q_LOGGING_CATEGORY(lcCommands, "sparky.agent.commands", QtInfoMsg)
Q_LOGGING_CATEGORY(lcScheduler, "sparky.agent.scheduler", QtInfoMsg)
Q_LOGGING_CATEGORY(lcRuns, "sparky.agent.runs", QtInfoMsg)
Q_LOGGING_CATEGORY(lcMetrics, "sparky.agent.metrics", QtInfoMsg)

} // namespace sparky::agent
