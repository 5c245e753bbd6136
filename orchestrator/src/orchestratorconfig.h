#pragma once

// The orchestrator's configuration (/etc/sparky/orchestrator.yaml; every key with its
// default in docs/orchestrator.md):
//
//   broker: {…}                 # sparky/brokersettings.h (user sparky-orchestrator)
//   store: {…}                  # storesettings.h: sqlite (default) or postgres
//   ingest:    {batch_size: 500, batch_wait_ms: 50, prefetch: 1000}
//   commands:  {signing_key: /etc/sparky/orchestrator.key, default_lifetime: 1h, max_lifetime: 7d}
//   rpc:       {prefetch: 32, roles: {sparky-operator: operator, alice: viewer}}
//   nodes:     {offline_after: 5m}
//   duties:    {interval: 30s}
//   retention: {runs: 400d, message_ids: 30d, dead_letters: 90d}     # 0 = keep forever
//   report:    {window: 7d, interval: 5m}
//   exioma:    {url: https://…, token_file: …, ca_file: …, interval: 5m, timeout: 30s,
//               retry_min: 1s, retry_max: 10m}                        # optional
//   metrics:   {listen: "127.0.0.1:9466"}                             # optional
//   management: {url: https://mq:15671, user: sparky-admin, password_file: …, ca_file: …,
//                vhost: sparky}                                       # optional (node CLI)
//
// Every problem is reported at once with file:line:col and the field. Plain value type.

#include "commanddispatcher.h"
#include "ingestor.h"
#include "rolemap.h"
#include "rpcserver.h"
#include "sparky/brokersettings.h"
#include "storesettings.h"

#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
#include "brokermanagement.h"
#include "exiomaexporter.h"
#endif

#include <QString>
#include <chrono>
#include <optional>

namespace sparky::orchestrator {

struct OrchestratorConfig
{
    QString file;
    BrokerSettings broker;
    bool hasBroker = false;
    StoreSettings store;
    IngestSettings ingest;
    CommandSettings commands;
    RpcSettings rpc;
    RoleMap roles;
    std::chrono::seconds offlineAfter { 300 };
    std::chrono::seconds dutyInterval { 30 };
    std::chrono::seconds retainRuns { 400LL * 86400 }; // 0 = forever
    std::chrono::seconds retainMessageIds { 30LL * 86400 };
    std::chrono::seconds retainDeadLetters { 90LL * 86400 };
    std::chrono::seconds reportWindow { 7LL * 86400 };
    std::chrono::seconds reportInterval { 300 };
    QString metricsListen; // empty: no exposer
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
    std::optional<ExiomaSettings> exioma;
    std::optional<ManagementSettings> management;
#endif

    // `requireBroker`: the daemon needs one; report/CLI commands do not.
    static Expected<OrchestratorConfig> load(const QString &path, bool requireBroker = true);
    static Expected<OrchestratorConfig> parse(
        const QByteArray &yaml, const QString &name, bool requireBroker = true);
};

} // namespace sparky::orchestrator
