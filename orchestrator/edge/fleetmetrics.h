#pragma once

// Fleet metrics for Prometheus, served by a prometheus-cpp exposer at /metrics. Nodes are
// never scraped (they are unreachable by design): the orchestrator exposes what it knows
// about every node and job. Every metric is documented in docs/metrics.md.
//
// update() replaces the whole fleet picture at once: a scrape sees one snapshot or the
// next, never half of each, and series of jobs or nodes missing from the new snapshot are
// gone. The ingest/command/export metrics are cumulative counters and gauges set as they
// change.
//
// Threading: every method is thread-safe (one mutex); scrapes run on the exposer's own
// threads and only copy the state under that mutex. Nothing here touches Qt's event loop.
// Ownership: FleetMetrics owns the exposer; destroying it stops listening (civetweb takes up
// to about two seconds to stop once it has served a request).

#include "sparky/error.h"
#include "sparky/protocol.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <memory>
#include <optional>

namespace sparky::orchestrator {

struct JobMetric
{
    QString node;
    QString job;
    std::optional<QDateTime> lastSuccess; // last successful (or warning) backup
    qint64 rpoSeconds = 0; // 0 = no RPO configured
    bool rpoBreached = false; // as the orchestrator's RPO check sees it (grace for new jobs)
    std::optional<sparky::protocol::Status> lastStatus; // of the last backup
    std::optional<QDateTime> lastRun; // when the last backup finished
    // `borg check` runs and restore drills of the job; all unset while it has none.
    std::optional<sparky::protocol::Status> lastCheckStatus;
    std::optional<QDateTime> lastCheck;
    std::optional<sparky::protocol::Status> lastDrillStatus;
    std::optional<QDateTime> lastDrill;
    std::optional<QDateTime> lastDrillSuccess; // last successful (or warning) drill
};

struct NodeMetric
{
    QString node;
    bool online = false;
    QDateTime lastSeen; // invalid = never seen
};

struct FleetSnapshot
{
    QList<JobMetric> jobs;
    QList<NodeMetric> nodes;

    // The picture of a fleet report (ReportBuilder, docs/report.schema.json): its nodes and
    // their jobs, with times, statuses and the RPO breach flag exactly as the report has them.
    static FleetSnapshot fromReport(const QJsonObject &report);
};

class FleetMetrics final
{
    Q_DISABLE_COPY_MOVE(FleetMetrics)

public:
    // `listen`: "HOST:PORT" for the exposer, e.g. "127.0.0.1:9465" or "[::1]:9465"; port 0
    // picks a free one (read it back from start()).
    explicit FleetMetrics(QString listen);
    ~FleetMetrics();

    // Starts listening; returns the bound port. Network error naming the address if it
    // cannot bind. Calling it again returns the same port.
    Expected<quint16> start();
    quint16 port() const;

    void update(const FleetSnapshot &snapshot);

    void addIngested(qint64 n); // events stored (duplicates not counted)
    void addRejected(const QString &reason); // +1 for a bounded reason code, e.g. "parse"
    void setIngestLagSeconds(double seconds); // now − ts of the newest event ingested
    void addCommands(const QString &state); // +1 per command state transition
    void setExportPending(qint64 n); // ExiomaExporter::backlogChanged
    void setExportFailed(qint64 n); // parked exports (permanent failures)

    // The text a scrape returns (exposition format 0.0.4), for tests and `metrics` CLI.
    QByteArray render() const;

private:
    class Private;
    std::shared_ptr<Private> d; // shared with the exposer's collectable (weak)
    QString m_listen;
};

} // namespace sparky::orchestrator
