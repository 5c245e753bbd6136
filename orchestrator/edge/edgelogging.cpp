#include "edgelogging.h"

namespace sparky::orchestrator {

Q_LOGGING_CATEGORY(lcExport, "sparky.orchestrator.export", QtInfoMsg)
Q_LOGGING_CATEGORY(lcEnrollment, "sparky.orchestrator.enrollment", QtInfoMsg)
Q_LOGGING_CATEGORY(lcMetrics, "sparky.orchestrator.metrics", QtInfoMsg)

} // namespace sparky::orchestrator
