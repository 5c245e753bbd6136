#include "orchestratordaemon.h"

#include "commanddispatcher.h"
#include "database.h"
#include "deadletterconsumer.h"
#include "ingestor.h"
#include "orchestratorlogging.h"
#include "reportbuilder.h"
#include "rpcserver.h"
#include "singletonduties.h"
#include "sparky/amqpclient.h"
#include "sparky/protocol.h"

#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
#include "exiomaexporter.h"
#include "fleetmetrics.h"
#endif

#include <QCryptographicHash>
#include <QJsonArray>
#include <QJsonDocument>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

namespace {

// What "the report changed" means for the export: the status at a glance, not timestamps.
QByteArray statusDigest(const QJsonObject &report)
{
    QJsonArray picture;
    for (const QJsonValue &nv : report.value("nodes"_L1).toArray()) {
        const QJsonObject n = nv.toObject();
        QJsonArray jobs;
        for (const QJsonValue &jv : n.value("jobs"_L1).toArray()) {
            const QJsonObject j = jv.toObject();
            jobs.append(QJsonArray { j.value("job"_L1), j.value("status"_L1),
                j.value("last_success_at"_L1), j.value("rpo_breached"_L1) });
        }
        picture.append(
            QJsonArray { n.value("node"_L1), n.value("online"_L1), n.value("status"_L1), jobs });
    }
    return QCryptographicHash::hash(
        QJsonDocument(picture).toJson(QJsonDocument::Compact), QCryptographicHash::Sha256);
}

} // namespace

OrchestratorDaemon::OrchestratorDaemon(OrchestratorConfig config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
{
    m_reportTimer.setInterval(m_config.reportInterval);
    connect(&m_reportTimer, &QTimer::timeout, this, &OrchestratorDaemon::refreshReport);
    m_reportDebounce.setSingleShot(true);
    m_reportDebounce.setInterval(
        std::min<std::chrono::milliseconds>(m_config.reportInterval, std::chrono::seconds(5)));
    connect(&m_reportDebounce, &QTimer::timeout, this, &OrchestratorDaemon::refreshReport);
}

OrchestratorDaemon::~OrchestratorDaemon()
{
    shutdown();
    // Children that use the store go before it.
    delete m_rpc;
    delete m_ingestor;
    delete m_dead;
    delete m_duties;
    delete m_commands;
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
    delete m_exporter;
    m_metrics.reset();
#endif
    m_amqp.reset();
    m_exportDb.reset();
    m_db.reset();
}

quint16 OrchestratorDaemon::metricsPort() const
{
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
    return m_metrics ? m_metrics->port() : 0;
#else
    return 0;
#endif
}

Result OrchestratorDaemon::start()
{
    if (m_started)
        return {};
    if (!m_config.hasBroker)
        return unexpected(
            ErrorCode::Config, u"%1: the daemon needs a broker section"_s.arg(m_config.file));
    if (auto ok = m_config.broker.validate(); !ok)
        return ok.error().wrapped(u"broker"_s);

    auto db = Database::open(m_config.store, u"sparky-orchestrator"_s);
    if (!db)
        return db.error();
    m_db = std::move(*db);

    std::optional<SigningKey> key;
    if (!m_config.commands.keyFile.isEmpty()) {
        auto k = SigningKey::load(m_config.commands.keyFile);
        if (!k)
            return k.error().wrapped(u"commands.signing_key"_s);
        key = *k;
    } else {
        qCWarning(lcDaemon)
            << "no commands.signing_key configured: backup.start and backup.cancel are unavailable";
    }

#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
    if (!m_config.metricsListen.isEmpty()) {
        m_metrics = std::make_unique<FleetMetrics>(m_config.metricsListen);
        auto port = m_metrics->start();
        if (!port)
            return port.error().wrapped(u"metrics.listen"_s);
        qCInfo(lcDaemon) << "fleet metrics on" << m_config.metricsListen << "port" << *port;
    }
    if (m_config.exioma) {
        auto exportDb = Database::open(m_config.store, u"sparky-orchestrator-export"_s, false);
        if (!exportDb)
            return exportDb.error();
        m_exportDb = std::move(*exportDb);
        m_exporter = new ExiomaExporter(*m_config.exioma, m_exportDb->connectionName(), this);
        if (auto ok = m_exporter->ensureSchema(); !ok)
            return ok.error().wrapped(u"exioma outbox"_s);
        connect(
            m_exporter, &ExiomaExporter::reportDue, this, [this] { exportReport(u"interval"_s); });
        connect(m_exporter, &ExiomaExporter::backlogChanged, this,
            [this](qint64 pending, qint64 failed) {
                if (m_metrics) {
                    m_metrics->setExportPending(pending);
                    m_metrics->setExportFailed(failed);
                }
            });
    }
#endif

    m_amqp = std::make_unique<AmqpClient>(m_config.broker);
    m_ingestor = new Ingestor(m_amqp.get(), m_config.store, m_config.ingest, this);
    if (key)
        m_commands = new CommandDispatcher(m_amqp.get(), m_db.get(), *key, m_config.commands, this);
    m_dead = new DeadLetterConsumer(m_amqp.get(), m_db.get(), m_commands, this);
    m_rpc = new RpcServer(m_amqp.get(), m_db.get(), m_commands, m_config.roles, m_config.rpc, this);
    DutySettings duties;
    duties.interval = m_config.dutyInterval;
    duties.offlineAfter = m_config.offlineAfter;
    duties.retainRuns = m_config.retainRuns;
    duties.retainMessageIds = m_config.retainMessageIds;
    duties.retainDeadLetters = m_config.retainDeadLetters;
    m_duties = new SingletonDuties(m_db.get(), m_commands, duties, this);

    connect(m_ingestor, &Ingestor::batchCommitted, this, [this](const BatchOutcome &o) {
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
        if (m_metrics) {
            m_metrics->addIngested(o.stored);
            m_metrics->setIngestLagSeconds(m_ingestor->stats().lagSeconds);
        }
#endif
        if (o.commandsChanged)
            m_rpc->commandsChanged(); // calls waiting for an agent's answer look now
        if ((o.runsFinished || o.commandsChanged || o.stored > 0) && !m_reportDebounce.isActive())
            m_reportDebounce.start();
    });
    if (m_commands)
        connect(m_commands, &CommandDispatcher::commandChanged, m_rpc,
            [this](const QString &, const QString &) { m_rpc->commandsChanged(); });
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
    connect(m_ingestor, &Ingestor::eventRejected, this,
        [this](const QString &category, const QString &) {
            if (m_metrics)
                m_metrics->addRejected(category);
        });
    if (m_commands)
        connect(m_commands, &CommandDispatcher::commandChanged, this,
            [this](const QString &, const QString &state) {
                if (m_metrics)
                    m_metrics->addCommands(state);
            });
    m_rpc->setExportHandler([this](const QJsonObject &report) -> Expected<QString> {
        if (!m_exporter)
            return unexpected(ErrorCode::Unavailable, u"no exioma section is configured"_s);
        return m_exporter->enqueue(report);
    });
    connect(m_duties, &SingletonDuties::leadershipChanged, this, [this](bool leader) {
        if (!m_exporter)
            return;
        if (leader) {
            if (auto ok = m_exporter->start(); !ok)
                qCWarning(lcDaemon).noquote()
                    << "the Exioma export could not start:" << ok.error().toString();
        } else {
            m_exporter->stop();
        }
    });
#endif
    connect(m_rpc, &RpcServer::stateChanged, this, [this] {
        if (!m_reportDebounce.isActive())
            m_reportDebounce.start();
    });
    connect(m_duties, &SingletonDuties::ticked, this, [this](const DutyOutcome &o) {
        if (o.nodesWentOffline || o.nodesCameOnline || o.commandsExpired)
            refreshReport();
    });
    connect(m_amqp.get(), &AmqpClient::connected, this, [](const QString &endpoint) {
        qCInfo(lcDaemon).noquote() << "connected to the broker at" << endpoint;
    });
    connect(m_amqp.get(), &AmqpClient::failed, this, [](const Error &e) {
        qCWarning(lcDaemon).noquote() << "broker refused the connection:" << e.toString();
    });

    m_ingestor->start();
    m_dead->start();
    m_rpc->start();
    m_amqp->start();
    m_duties->start();
    m_reportTimer.start();
    QTimer::singleShot(0, this, &OrchestratorDaemon::refreshReport);
    m_started = true;
    qCInfo(lcDaemon).noquote() << "orchestrator started: store" << m_config.store.describe()
                               << ", broker user" << m_config.broker.user << ","
                               << m_config.roles.size() << "RPC users";
    return {};
}

void OrchestratorDaemon::refreshReport()
{
    if (!m_db || m_stopping)
        return;
    ReportOptions o;
    o.window = m_config.reportWindow;
    o.offlineAfter = m_config.offlineAfter;
    ReportBuilder builder(*m_db);
    auto report = builder.build(o);
    if (!report) {
        qCWarning(lcReport).noquote() << "report failed:" << report.error().toString();
        return;
    }
    m_lastReport = *report;
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
    if (m_metrics) {
        // One mapping from the report to the metrics (backup, check and drill series).
        m_metrics->update(FleetSnapshot::fromReport(*report));
    }
#endif
    Q_EMIT reportRefreshed(m_lastReport);
    if (statusDigest(m_lastReport) != m_lastExportedDigest)
        exportReport(u"status changed"_s);
}

void OrchestratorDaemon::exportReport(const QString &why)
{
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
    if (!m_exporter || !m_duties || !m_duties->isLeader() || m_lastReport.isEmpty())
        return;
    if (why == u"interval") {
        // A fresh picture for the periodic export.
        refreshReport();
        if (statusDigest(m_lastReport) != m_lastExportedDigest)
            return; // refreshReport() exported it already
    }
    auto id = m_exporter->enqueue(m_lastReport);
    if (!id) {
        qCWarning(lcReport).noquote()
            << "could not queue the report for Exioma:" << id.error().toString();
        return;
    }
    m_lastExportedDigest = statusDigest(m_lastReport);
    qCInfo(lcReport).noquote() << "report queued for Exioma as" << *id << "(" << why << ")";
#else
    Q_UNUSED(why);
#endif
}

Result OrchestratorDaemon::reloadRoles()
{
    auto fresh = OrchestratorConfig::load(m_config.file, false);
    if (!fresh)
        return fresh.error();
    m_config.roles = fresh->roles;
    if (m_rpc)
        m_rpc->setRoles(fresh->roles);
    qCInfo(lcDaemon).noquote() << "reloaded RPC roles from" << m_config.file << ":"
                               << fresh->roles.size() << "users";
    return {};
}

void OrchestratorDaemon::shutdown()
{
    if (!m_started || m_stopping)
        return;
    m_stopping = true;
    qCInfo(lcDaemon) << "shutting down: stop consuming, commit and ack the batch in hand";
    m_reportTimer.stop();
    m_reportDebounce.stop();
    if (m_ingestor)
        m_ingestor->stop();
    if (m_rpc)
        m_rpc->stop();
    if (m_dead)
        m_dead->stop();
    if (m_duties)
        m_duties->stop();
#ifdef SPARKY_HAVE_ORCHESTRATOR_EDGE
    if (m_exporter)
        m_exporter->stop();
#endif
    if (m_amqp)
        m_amqp->stop(); // sends the pending acks, then closes; unacked deliveries return to their
                        // queues
    m_started = false;
    qCInfo(lcDaemon) << "orchestrator stopped";
    Q_EMIT stopped();
}

} // namespace sparky::orchestrator
