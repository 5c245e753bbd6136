#pragma once

// Logging categories of the orchestrator's edge: what talks to the outside world
// (the Exioma console, the RabbitMQ management API, Prometheus scrapes).

#include <QLoggingCategory>

namespace sparky::orchestrator {

Q_DECLARE_LOGGING_CATEGORY(lcExport) // sparky.orchestrator.export
Q_DECLARE_LOGGING_CATEGORY(lcEnrollment) // sparky.orchestrator.enrollment
Q_DECLARE_LOGGING_CATEGORY(lcMetrics) // sparky.orchestrator.metrics

} // namespace sparky::orchestrator
