#pragma once

// The running orchestrator: wires store, broker client, ingestion, dead letters, commands,
// RPC, singleton duties, reports, fleet metrics and the Exioma export together, and shuts
// them down in order (docs/orchestrator.md "Runbook").
//
// Threading: everything lives on the thread that calls start() (the main thread of
// `sparky-orchestrator daemon`); the store connection and the broker client's signals are
// used there only. Owns every component it creates.

#include "orchestratorconfig.h"

#include <QJsonObject>
#include <QObject>
#include <QTimer>
#include <memory>

namespace sparky {
class AmqpClient;
}

namespace sparky::orchestrator {

class CommandDispatcher;
class Database;
class DeadLetterConsumer;
class Ingestor;
class RpcServer;
class SingletonDuties;
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
class ExiomaExporter;
class FleetMetrics;
#endif

class OrchestratorDaemon final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OrchestratorDaemon)

public:
    explicit OrchestratorDaemon(OrchestratorConfig config, QObject *parent = nullptr);
    ~OrchestratorDaemon() override;

    // Opens and migrates the store, loads the signing key, binds the metrics port and
    // starts consuming. A configuration or store error is returned, nothing left running.
    Result start();
    // Graceful: stop consuming, commit and ack the batch in hand, release the leader lock,
    // stop the export, close the broker connection. Emits stopped(). Idempotent.
    void shutdown();
    // SIGHUP: re-reads rpc.roles from the config file (other changes need a restart).
    Result reloadRoles();

    Database *database() const { return m_db.get(); }
    Ingestor *ingestor() const { return m_ingestor; }
    RpcServer *rpcServer() const { return m_rpc; }
    CommandDispatcher *commands() const { return m_commands; }
    SingletonDuties *duties() const { return m_duties; }
    AmqpClient *amqp() const { return m_amqp.get(); }
    quint16 metricsPort() const;
    QJsonObject lastReport() const { return m_lastReport; }

Q_SIGNALS:
    void stopped();
    void reportRefreshed(const QJsonObject &report);

private:
    void refreshReport();
    void exportReport(const QString &why);

    OrchestratorConfig m_config;
    std::unique_ptr<Database> m_db;
    std::unique_ptr<Database> m_exportDb;
    std::unique_ptr<AmqpClient> m_amqp;
    Ingestor *m_ingestor = nullptr;
    CommandDispatcher *m_commands = nullptr;
    DeadLetterConsumer *m_dead = nullptr;
    RpcServer *m_rpc = nullptr;
    SingletonDuties *m_duties = nullptr;
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
    ExiomaExporter *m_exporter = nullptr;
    std::unique_ptr<FleetMetrics> m_metrics;
#endif
    QTimer m_reportTimer; // every report.interval
    QTimer m_reportDebounce; // after changes, at most every few seconds
    QJsonObject m_lastReport;
    QByteArray m_lastExportedDigest;
    bool m_started = false;
    bool m_stopping = false;
};

} // namespace sparky::orchestrator
