#include "fleetmetrics.h"

#include "edgelogging.h"
#include "sparky/envelope.h"

#include <QJsonArray>
#include <QMap>
#include <exception>
#include <map>
#include <mutex>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <utility>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

std::string str(const QString &s)
{
    return s.toStdString();
}

double seconds(const QDateTime &t)
{
    return double(t.toMSecsSinceEpoch()) / 1000.0;
}

ClientMetric gauge(double value, std::vector<ClientMetric::Label> labels = {})
{
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    return m;
}

ClientMetric counter(double value, std::vector<ClientMetric::Label> labels = {})
{
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    return m;
}

MetricFamily family(const char *name, const char *help, MetricType type)
{
    MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    return f;
}

} // namespace

class FleetMetrics::Private final : public prometheus::Collectable
{
public:
    std::vector<MetricFamily> Collect() const override;

    mutable std::mutex mutex;
    // Keyed (node, job) / node: sorted output, and a duplicate in a snapshot cannot make
    // two identical series.
    std::map<std::pair<QString, QString>, JobMetric> jobs;
    std::map<QString, NodeMetric> nodes;
    std::optional<QDateTime> snapshotAt;
    double ingested = 0;
    std::map<QString, double> rejected;
    std::map<QString, double> commands;
    double ingestLag = 0;
    double exportPending = 0;
    double exportFailed = 0;

    std::unique_ptr<prometheus::Exposer> exposer; // guarded by FleetMetrics' single owner
    quint16 port = 0;
};

std::vector<MetricFamily> FleetMetrics::Private::Collect() const
{
    const std::lock_guard lock(mutex);
    std::vector<MetricFamily> out;

    auto info = family("sparky_orchestrator_build_info",
        "Build of the orchestrator serving these metrics (always 1).", MetricType::Gauge);
    info.metric.push_back(gauge(1, { { "version", SPARKY_VERSION } }));
    out.push_back(std::move(info));

    // ---- fleet: per job
    auto lastSuccess = family("sparky_fleet_backup_last_success_timestamp_seconds",
        "Unix time of the last successful backup of the job (absent: never).", MetricType::Gauge);
    auto lastRun = family("sparky_fleet_backup_last_run_timestamp_seconds",
        "Unix time the last backup of the job finished, whatever its status.", MetricType::Gauge);
    auto rpo = family("sparky_fleet_backup_rpo_seconds",
        "Recovery point objective of the job: the maximum age of its last good backup.",
        MetricType::Gauge);
    auto breached = family("sparky_fleet_backup_rpo_breached",
        "1 if the job's last good backup is older than its RPO (or it has none), else 0.",
        MetricType::Gauge);
    auto status = family("sparky_fleet_backup_last_status",
        "Status of the job's last backup as a severity code: 0 success, 1 warning, "
        "2 cancelled, 3 failed.",
        MetricType::Gauge);
    auto checkRun = family("sparky_fleet_check_last_run_timestamp_seconds",
        "Unix time the job's last borg check finished (absent: none).", MetricType::Gauge);
    auto checkStatus = family("sparky_fleet_check_last_status",
        "Status of the job's last borg check as a severity code: 0 success, 1 warning, "
        "2 cancelled, 3 failed.",
        MetricType::Gauge);
    auto drillSuccess = family("sparky_fleet_restore_drill_last_success_timestamp_seconds",
        "Unix time of the job's last successful restore drill (absent: never).", MetricType::Gauge);
    auto drillRun = family("sparky_fleet_restore_drill_last_run_timestamp_seconds",
        "Unix time the job's last restore drill finished (absent: none).", MetricType::Gauge);
    auto drillStatus = family("sparky_fleet_restore_drill_last_status",
        "Status of the job's last restore drill as a severity code: 0 success, 1 warning, "
        "2 cancelled, 3 failed.",
        MetricType::Gauge);
    for (const auto &[key, j] : jobs) {
        const std::vector<ClientMetric::Label> labels { { "job", str(j.job) },
            { "node", str(j.node) } };
        if (j.lastSuccess && j.lastSuccess->isValid())
            lastSuccess.metric.push_back(gauge(seconds(*j.lastSuccess), labels));
        if (j.lastRun && j.lastRun->isValid())
            lastRun.metric.push_back(gauge(seconds(*j.lastRun), labels));
        if (j.rpoSeconds > 0)
            rpo.metric.push_back(gauge(double(j.rpoSeconds), labels));
        breached.metric.push_back(gauge(j.rpoBreached ? 1 : 0, labels));
        if (j.lastStatus)
            status.metric.push_back(gauge(protocol::severity(*j.lastStatus), labels));
        if (j.lastCheck && j.lastCheck->isValid())
            checkRun.metric.push_back(gauge(seconds(*j.lastCheck), labels));
        if (j.lastCheckStatus)
            checkStatus.metric.push_back(gauge(protocol::severity(*j.lastCheckStatus), labels));
        if (j.lastDrillSuccess && j.lastDrillSuccess->isValid())
            drillSuccess.metric.push_back(gauge(seconds(*j.lastDrillSuccess), labels));
        if (j.lastDrill && j.lastDrill->isValid())
            drillRun.metric.push_back(gauge(seconds(*j.lastDrill), labels));
        if (j.lastDrillStatus)
            drillStatus.metric.push_back(gauge(protocol::severity(*j.lastDrillStatus), labels));
    }
    auto jobCount
        = family("sparky_fleet_jobs", "Backup jobs known to the orchestrator.", MetricType::Gauge);
    jobCount.metric.push_back(gauge(double(jobs.size())));

    // ---- fleet: per node
    auto nodeOnline = family("sparky_fleet_node_online",
        "1 if the node's agent is online (heartbeats arrive), else 0.", MetricType::Gauge);
    auto nodeSeen = family("sparky_fleet_node_last_seen_timestamp_seconds",
        "Unix time of the last message from the node's agent.", MetricType::Gauge);
    int online = 0;
    for (const auto &[name, n] : nodes) {
        const std::vector<ClientMetric::Label> labels { { "node", str(n.node) } };
        nodeOnline.metric.push_back(gauge(n.online ? 1 : 0, labels));
        if (n.lastSeen.isValid())
            nodeSeen.metric.push_back(gauge(seconds(n.lastSeen), labels));
        online += n.online ? 1 : 0;
    }
    auto nodesOnline
        = family("sparky_fleet_nodes_online", "Nodes whose agent is online.", MetricType::Gauge);
    nodesOnline.metric.push_back(gauge(online));
    auto nodeCount
        = family("sparky_fleet_nodes", "Nodes known to the orchestrator.", MetricType::Gauge);
    nodeCount.metric.push_back(gauge(double(nodes.size())));

    for (MetricFamily *f : { &lastSuccess, &lastRun, &rpo, &breached, &status, &checkRun,
             &checkStatus, &drillSuccess, &drillRun, &drillStatus, &jobCount, &nodeOnline,
             &nodeSeen, &nodesOnline, &nodeCount }) {
        if (!f->metric.empty())
            out.push_back(std::move(*f));
    }
    if (snapshotAt) {
        auto at = family("sparky_fleet_snapshot_timestamp_seconds",
            "Unix time the fleet metrics were last recomputed by the orchestrator.",
            MetricType::Gauge);
        at.metric.push_back(gauge(seconds(*snapshotAt)));
        out.push_back(std::move(at));
    }

    // ---- the orchestrator itself
    auto ingestedF = family("sparky_orchestrator_events_ingested_total",
        "Events stored by the orchestrator (duplicates not counted).", MetricType::Counter);
    ingestedF.metric.push_back(counter(ingested));
    out.push_back(std::move(ingestedF));
    auto rejectedF = family("sparky_orchestrator_events_rejected_total",
        "Events rejected to the dead-letter path, by reason.", MetricType::Counter);
    for (const auto &[reason, n] : rejected)
        rejectedF.metric.push_back(counter(n, { { "reason", str(reason) } }));
    if (!rejectedF.metric.empty())
        out.push_back(std::move(rejectedF));
    auto lag = family("sparky_orchestrator_ingest_lag_seconds",
        "Age of the newest event ingested when it was stored (now minus its ts).",
        MetricType::Gauge);
    lag.metric.push_back(gauge(ingestLag));
    out.push_back(std::move(lag));
    auto commandsF = family("sparky_orchestrator_commands_total",
        "Command state transitions, by the state entered.", MetricType::Counter);
    for (const auto &[state, n] : commands)
        commandsF.metric.push_back(counter(n, { { "state", str(state) } }));
    if (!commandsF.metric.empty())
        out.push_back(std::move(commandsF));
    auto pendingF = family("sparky_orchestrator_export_pending",
        "Exports to the Exioma console waiting in the outbox.", MetricType::Gauge);
    pendingF.metric.push_back(gauge(exportPending));
    out.push_back(std::move(pendingF));
    auto failedF = family("sparky_orchestrator_export_failed",
        "Exports parked after the console refused them (need an operator).", MetricType::Gauge);
    failedF.metric.push_back(gauge(exportFailed));
    out.push_back(std::move(failedF));
    return out;
}

FleetSnapshot FleetSnapshot::fromReport(const QJsonObject &report)
{
    const auto time = [](const QJsonValue &v) -> std::optional<QDateTime> {
        if (!v.isString())
            return std::nullopt;
        return parseTimestamp(v.toString());
    };
    const auto status = [](const QJsonValue &v) -> std::optional<protocol::Status> {
        if (!v.isString())
            return std::nullopt;
        return protocol::statusFromName(v.toString());
    };
    FleetSnapshot snap;
    for (const QJsonValue &nv : report.value("nodes"_L1).toArray()) {
        const QJsonObject n = nv.toObject();
        const QString node = n.value("node"_L1).toString();
        snap.nodes.append(NodeMetric { node, n.value("online"_L1).toBool(),
            time(n.value("last_seen"_L1)).value_or(QDateTime()) });
        for (const QJsonValue &jv : n.value("jobs"_L1).toArray()) {
            const QJsonObject j = jv.toObject();
            JobMetric m;
            m.node = node;
            m.job = j.value("job"_L1).toString();
            m.lastSuccess = time(j.value("last_success_at"_L1));
            m.rpoSeconds = j.value("rpo_seconds"_L1).toInteger();
            m.rpoBreached = j.value("rpo_breached"_L1).toBool();
            m.lastStatus = status(j.value("last_status"_L1));
            m.lastRun = time(j.value("last_run_at"_L1));
            m.lastCheckStatus = status(j.value("last_check_status"_L1));
            m.lastCheck = time(j.value("last_check_at"_L1));
            m.lastDrillStatus = status(j.value("last_drill_status"_L1));
            m.lastDrill = time(j.value("last_drill_at"_L1));
            m.lastDrillSuccess = time(j.value("last_drill_success_at"_L1));
            snap.jobs.append(m);
        }
    }
    return snap;
}

FleetMetrics::FleetMetrics(QString listen)
    : d(std::make_shared<Private>())
    , m_listen(std::move(listen))
{ }

FleetMetrics::~FleetMetrics()
{
    d->exposer.reset(); // stops the server threads before the state goes
}

Expected<quint16> FleetMetrics::start()
{
    if (d->exposer)
        return d->port;
    if (m_listen.trimmed().isEmpty())
        return unexpected(ErrorCode::Config, u"metrics listen address is empty"_s);
    try {
        auto exposer = std::make_unique<prometheus::Exposer>(str(m_listen), 2);
        exposer->RegisterCollectable(std::weak_ptr<prometheus::Collectable>(d));
        const std::vector<int> ports = exposer->GetListeningPorts();
        if (ports.empty())
            return unexpected(ErrorCode::Network,
                u"metrics exposer on %1 reports no listening port"_s.arg(m_listen));
        d->port = quint16(ports.front());
        d->exposer = std::move(exposer);
    } catch (const std::exception &e) {
        return unexpected(ErrorCode::Network,
            u"cannot serve metrics on %1: %2"_s.arg(m_listen, QString::fromLocal8Bit(e.what())));
    }
    qCInfo(lcMetrics) << "serving /metrics on" << m_listen << "port" << d->port;
    return d->port;
}

quint16 FleetMetrics::port() const
{
    return d->port;
}

void FleetMetrics::update(const FleetSnapshot &snapshot)
{
    std::map<std::pair<QString, QString>, JobMetric> jobs;
    for (const JobMetric &j : snapshot.jobs)
        jobs.insert_or_assign(std::pair(j.node, j.job), j);
    std::map<QString, NodeMetric> nodes;
    for (const NodeMetric &n : snapshot.nodes)
        nodes.insert_or_assign(n.node, n);
    const std::lock_guard lock(d->mutex);
    d->jobs = std::move(jobs);
    d->nodes = std::move(nodes);
    d->snapshotAt = QDateTime::currentDateTimeUtc();
}

void FleetMetrics::addIngested(qint64 n)
{
    if (n <= 0)
        return;
    const std::lock_guard lock(d->mutex);
    d->ingested += double(n);
}

void FleetMetrics::addRejected(const QString &reason)
{
    const std::lock_guard lock(d->mutex);
    d->rejected[reason.isEmpty() ? u"unknown"_s : reason] += 1;
}

void FleetMetrics::setIngestLagSeconds(double seconds)
{
    const std::lock_guard lock(d->mutex);
    d->ingestLag = seconds;
}

void FleetMetrics::addCommands(const QString &state)
{
    const std::lock_guard lock(d->mutex);
    d->commands[state.isEmpty() ? u"unknown"_s : state] += 1;
}

void FleetMetrics::setExportPending(qint64 n)
{
    const std::lock_guard lock(d->mutex);
    d->exportPending = double(std::max<qint64>(0, n));
}

void FleetMetrics::setExportFailed(qint64 n)
{
    const std::lock_guard lock(d->mutex);
    d->exportFailed = double(std::max<qint64>(0, n));
}

QByteArray FleetMetrics::render() const
{
    const std::string text = prometheus::TextSerializer().Serialize(d->Collect());
    return QByteArray::fromStdString(text);
}

} // namespace sparky::orchestrator
