// FleetMetrics: a real prometheus-cpp exposer on 127.0.0.1:0, scraped over HTTP; every
// scrape is checked by the real `promtool check metrics`, then the values are asserted.
// Also the mapping of a report (docs/report.schema.json) to a snapshot.

#include "fleetmetrics.h"

#include <QHash>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QSignalSpy>
#include <QTest>

using namespace sparky;
using namespace sparky::orchestrator;
using namespace Qt::StringLiterals;

namespace {

struct Scrape
{
    QByteArray text;
    QHash<QString, double> values; // "name{labels}" → value, exactly as exposed
    QString error;
};

// Parses the exposition text into series → value.
QHash<QString, double> parseSeries(const QByteArray &text)
{
    QHash<QString, double> out;
    for (const QByteArray &raw : text.split('\n')) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.isEmpty() || line.startsWith(u'#'))
            continue;
        const qsizetype sp = line.lastIndexOf(u' ');
        out.insert(line.left(sp), line.mid(sp + 1).toDouble());
    }
    return out;
}

} // namespace

class TestFleetMetrics : public QObject
{
    Q_OBJECT

    QNetworkAccessManager m_network;
    // One exposer for the whole test: stopping one that has served a scrape takes civetweb
    // about two seconds.
    std::unique_ptr<FleetMetrics> m_metrics;
    quint16 m_port = 0;

    Scrape scrape(quint16 port)
    {
        Scrape s;
        QNetworkRequest request(QUrl(u"http://127.0.0.1:%1/metrics"_s.arg(port)));
        // No keep-alive: an idle kept-alive connection holds an exposer thread, and stopping
        // the exposer would wait for it.
        request.setRawHeader("Connection", "close");
        QNetworkReply *reply = m_network.get(request);
        QSignalSpy finished(reply, &QNetworkReply::finished);
        if (!finished.wait(10000)) {
            s.error = u"scrape timed out"_s;
            return s;
        }
        reply->deleteLater();
        if (reply->error() != QNetworkReply::NoError) {
            s.error = reply->errorString();
            return s;
        }
        s.text = reply->readAll();
        s.values = parseSeries(s.text);
        return s;
    }

    // Runs `promtool check metrics` on the text; returns its complaint, or empty if clean.
    static QString promtoolComplaint(const QByteArray &text)
    {
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(u"promtool"_s, { u"check"_s, u"metrics"_s });
        if (!p.waitForStarted(10000))
            return u"promtool did not start: "_s + p.errorString();
        p.write(text);
        p.closeWriteChannel();
        if (!p.waitForFinished(30000))
            return u"promtool timed out"_s;
        const QString out = QString::fromUtf8(p.readAll()).trimmed();
        if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0 || !out.isEmpty())
            return u"promtool check metrics (exit %1): %2"_s.arg(p.exitCode()).arg(out);
        return {};
    }

    static FleetSnapshot sampleSnapshot(const QDateTime &now)
    {
        FleetSnapshot s;
        JobMetric home;
        home.node = u"web-01"_s;
        home.job = u"home"_s;
        home.lastSuccess = now.addSecs(-3600);
        home.lastRun = now.addSecs(-3600);
        home.rpoSeconds = 86400;
        home.rpoBreached = false;
        home.lastStatus = protocol::Status::Success;
        home.lastCheck = now.addSecs(-1800);
        home.lastCheckStatus = protocol::Status::Success;
        home.lastDrill = now.addSecs(-600);
        home.lastDrillStatus = protocol::Status::Success;
        home.lastDrillSuccess = now.addSecs(-600);
        JobMetric db;
        db.node = u"db-01"_s;
        db.job = u"postgres"_s;
        db.lastSuccess = now.addDays(-3);
        db.lastRun = now.addSecs(-60);
        db.rpoSeconds = 86400;
        db.rpoBreached = true;
        db.lastStatus = protocol::Status::Failed;
        db.lastDrill = now.addSecs(-300); // drilled, never successfully
        db.lastDrillStatus = protocol::Status::Failed;
        JobMetric fresh; // never ran, no RPO: only the breach flag and no timestamps
        fresh.node = u"db-01"_s;
        fresh.job = u"etc"_s;
        s.jobs = { home, db, fresh };
        s.nodes = { NodeMetric { u"web-01"_s, true, now.addSecs(-5) },
            NodeMetric { u"db-01"_s, false, now.addSecs(-7200) },
            NodeMetric { u"new-01"_s, false, QDateTime() } };
        return s;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_metrics = std::make_unique<FleetMetrics>(u"127.0.0.1:0"_s);
        auto port = m_metrics->start();
        QVERIFY2(port, qPrintable(port ? QString() : port.error().toString()));
        QVERIFY(*port > 0);
        QCOMPARE(m_metrics->port(), *port);
        auto again = m_metrics->start();
        QVERIFY(again);
        QCOMPARE(*again, *port);
        m_port = *port;
    }

    void cleanupTestCase() { m_metrics.reset(); }

    void snapshotIsExposedAndPassesPromtool()
    {
        FleetMetrics &metrics = *m_metrics;
        const std::optional<quint16> port = m_port;

        const QDateTime now = QDateTime::fromMSecsSinceEpoch(
            QDateTime::currentMSecsSinceEpoch() / 1000 * 1000, Qt::UTC);
        metrics.update(sampleSnapshot(now));
        metrics.addIngested(40);
        metrics.addIngested(2);
        metrics.addRejected(u"parse"_s);
        metrics.addRejected(u"spoofed_node"_s);
        metrics.addRejected(u"parse"_s);
        metrics.setIngestLagSeconds(0.25);
        metrics.addCommands(u"issued"_s);
        metrics.addCommands(u"issued"_s);
        metrics.addCommands(u"expired"_s);
        metrics.setExportPending(3);
        metrics.setExportFailed(1);

        const Scrape s = scrape(*port);
        QVERIFY2(s.error.isEmpty(), qPrintable(s.error));
        const QString complaint = promtoolComplaint(s.text);
        QVERIFY2(complaint.isEmpty(), qPrintable(complaint + u"\n"_s + QString::fromUtf8(s.text)));

        const auto v = [&](const QString &series) -> double {
            if (!s.values.contains(series))
                return -12345;
            return s.values.value(series);
        };
        const double t = double(now.toSecsSinceEpoch());
        QCOMPARE(
            v(u"sparky_fleet_backup_last_success_timestamp_seconds{job=\"home\",node=\"web-01\"}"_s),
            t - 3600);
        QCOMPARE(
            v(u"sparky_fleet_backup_last_success_timestamp_seconds{job=\"postgres\",node=\"db-01\"}"_s),
            t - 3 * 86400);
        QCOMPARE(
            v(u"sparky_fleet_backup_last_run_timestamp_seconds{job=\"postgres\",node=\"db-01\"}"_s),
            t - 60);
        QCOMPARE(v(u"sparky_fleet_backup_rpo_seconds{job=\"home\",node=\"web-01\"}"_s), 86400.0);
        QCOMPARE(v(u"sparky_fleet_backup_rpo_breached{job=\"home\",node=\"web-01\"}"_s), 0.0);
        QCOMPARE(v(u"sparky_fleet_backup_rpo_breached{job=\"postgres\",node=\"db-01\"}"_s), 1.0);
        QCOMPARE(v(u"sparky_fleet_backup_rpo_breached{job=\"etc\",node=\"db-01\"}"_s), 0.0);
        QCOMPARE(v(u"sparky_fleet_backup_last_status{job=\"home\",node=\"web-01\"}"_s), 0.0);
        QCOMPARE(v(u"sparky_fleet_backup_last_status{job=\"postgres\",node=\"db-01\"}"_s), 3.0);
        // A job that never ran has no timestamps, no status and (no RPO) no rpo series.
        QVERIFY(!s.values.contains(
            u"sparky_fleet_backup_last_success_timestamp_seconds{job=\"etc\",node=\"db-01\"}"_s));
        QVERIFY(
            !s.values.contains(u"sparky_fleet_backup_last_status{job=\"etc\",node=\"db-01\"}"_s));
        QVERIFY(
            !s.values.contains(u"sparky_fleet_backup_rpo_seconds{job=\"etc\",node=\"db-01\"}"_s));
        QCOMPARE(v(u"sparky_fleet_jobs"_s), 3.0);
        // Checks and restore drills: series only for the jobs that had them.
        QCOMPARE(v(u"sparky_fleet_check_last_status{job=\"home\",node=\"web-01\"}"_s), 0.0);
        QCOMPARE(
            v(u"sparky_fleet_check_last_run_timestamp_seconds{job=\"home\",node=\"web-01\"}"_s),
            t - 1800);
        QCOMPARE(v(u"sparky_fleet_restore_drill_last_success_timestamp_seconds{job=\"home\","
                   "node=\"web-01\"}"_s),
            t - 600);
        QCOMPARE(v(u"sparky_fleet_restore_drill_last_run_timestamp_seconds{job=\"home\","
                   "node=\"web-01\"}"_s),
            t - 600);
        QCOMPARE(v(u"sparky_fleet_restore_drill_last_status{job=\"home\",node=\"web-01\"}"_s), 0.0);
        QCOMPARE(
            v(u"sparky_fleet_restore_drill_last_status{job=\"postgres\",node=\"db-01\"}"_s), 3.0);
        QCOMPARE(v(u"sparky_fleet_restore_drill_last_run_timestamp_seconds{job=\"postgres\","
                   "node=\"db-01\"}"_s),
            t - 300);
        QVERIFY(!s.values.contains(u"sparky_fleet_restore_drill_last_success_timestamp_seconds{"
                                   "job=\"postgres\",node=\"db-01\"}"_s));
        QVERIFY(!s.values.contains(
            u"sparky_fleet_check_last_status{job=\"postgres\",node=\"db-01\"}"_s));
        for (auto it = s.values.cbegin(); it != s.values.cend(); ++it)
            QVERIFY2(!(it.key().contains(u"job=\"etc\""_s)
                         && (it.key().contains(u"drill"_s) || it.key().contains(u"check"_s))),
                qPrintable(it.key()));

        QCOMPARE(v(u"sparky_fleet_nodes_online"_s), 1.0);
        QCOMPARE(v(u"sparky_fleet_nodes"_s), 3.0);
        QCOMPARE(v(u"sparky_fleet_node_online{node=\"web-01\"}"_s), 1.0);
        QCOMPARE(v(u"sparky_fleet_node_online{node=\"db-01\"}"_s), 0.0);
        QCOMPARE(v(u"sparky_fleet_node_online{node=\"new-01\"}"_s), 0.0);
        QCOMPARE(v(u"sparky_fleet_node_last_seen_timestamp_seconds{node=\"db-01\"}"_s), t - 7200);
        QVERIFY(!s.values.contains(
            u"sparky_fleet_node_last_seen_timestamp_seconds{node=\"new-01\"}"_s));
        QVERIFY(v(u"sparky_fleet_snapshot_timestamp_seconds"_s) >= t);

        QCOMPARE(v(u"sparky_orchestrator_events_ingested_total"_s), 42.0);
        QCOMPARE(v(u"sparky_orchestrator_events_rejected_total{reason=\"parse\"}"_s), 2.0);
        QCOMPARE(v(u"sparky_orchestrator_events_rejected_total{reason=\"spoofed_node\"}"_s), 1.0);
        QCOMPARE(v(u"sparky_orchestrator_ingest_lag_seconds"_s), 0.25);
        QCOMPARE(v(u"sparky_orchestrator_commands_total{state=\"issued\"}"_s), 2.0);
        QCOMPARE(v(u"sparky_orchestrator_commands_total{state=\"expired\"}"_s), 1.0);
        QCOMPARE(v(u"sparky_orchestrator_export_pending"_s), 3.0);
        QCOMPARE(v(u"sparky_orchestrator_export_failed"_s), 1.0);
        QCOMPARE(v(u"sparky_orchestrator_build_info{version=\"" SPARKY_VERSION "\"}"_s), 1.0);

        // render() is what the exposer serves (minus the exposer's own metrics).
        const QHash<QString, double> rendered = parseSeries(metrics.render());
        for (auto it = rendered.cbegin(); it != rendered.cend(); ++it)
            QVERIFY2(s.values.value(it.key(), -1) == it.value()
                    || it.key() == u"sparky_fleet_snapshot_timestamp_seconds"_s,
                qPrintable(it.key()));
    }

    void seriesOfRemovedJobsAndNodesDisappear()
    {
        FleetMetrics &metrics = *m_metrics;
        const std::optional<quint16> port = m_port;
        const QDateTime now = QDateTime::currentDateTimeUtc();
        FleetSnapshot snapshot = sampleSnapshot(now);
        metrics.update(snapshot);
        Scrape before = scrape(*port);
        QVERIFY2(before.error.isEmpty(), qPrintable(before.error));
        QVERIFY(before.values.contains(
            u"sparky_fleet_backup_rpo_breached{job=\"postgres\",node=\"db-01\"}"_s));

        // db-01 leaves the fleet: its jobs and node series go, web-01 stays.
        snapshot.jobs.removeIf([](const JobMetric &j) { return j.node == u"db-01"_s; });
        snapshot.nodes.removeIf([](const NodeMetric &n) { return n.node == u"db-01"_s; });
        metrics.update(snapshot);
        const Scrape after = scrape(*port);
        QVERIFY2(after.error.isEmpty(), qPrintable(after.error));
        const QString complaint = promtoolComplaint(after.text);
        QVERIFY2(complaint.isEmpty(), qPrintable(complaint));
        for (auto it = after.values.cbegin(); it != after.values.cend(); ++it)
            QVERIFY2(!it.key().contains(u"db-01"_s), qPrintable(it.key()));
        QVERIFY(after.values.contains(
            u"sparky_fleet_backup_rpo_breached{job=\"home\",node=\"web-01\"}"_s));
        QCOMPARE(after.values.value(u"sparky_fleet_jobs"_s), 1.0);
        QCOMPARE(after.values.value(u"sparky_fleet_nodes"_s), 2.0);

        // An empty fleet: no per-job or per-node series at all, counts at zero.
        metrics.update({});
        const Scrape empty = scrape(*port);
        QVERIFY2(empty.error.isEmpty(), qPrintable(empty.error));
        QVERIFY(promtoolComplaint(empty.text).isEmpty());
        for (auto it = empty.values.cbegin(); it != empty.values.cend(); ++it)
            QVERIFY2(!it.key().contains(u"node=\""_s), qPrintable(it.key()));
        QCOMPARE(empty.values.value(u"sparky_fleet_nodes_online"_s, -1), 0.0);
    }

    void duplicateJobsInASnapshotMakeOneSeries()
    {
        FleetMetrics metrics(u"127.0.0.1:0"_s);
        FleetSnapshot s;
        JobMetric a;
        a.node = u"web-01"_s;
        a.job = u"home"_s;
        a.rpoSeconds = 60;
        a.lastStatus = protocol::Status::Warning;
        JobMetric b = a;
        b.lastStatus = protocol::Status::Failed;
        s.jobs = { a, b };
        metrics.update(s);
        const QByteArray text = metrics.render();
        QVERIFY2(promtoolComplaint(text).isEmpty(), text.constData());
        QCOMPARE(text.count("sparky_fleet_backup_last_status{"), 1);
        QCOMPARE(parseSeries(text).value(
                     u"sparky_fleet_backup_last_status{job=\"home\",node=\"web-01\"}"_s),
            3.0);
    }

    // FleetSnapshot::fromReport reads a report (docs/report.schema.json) field by field;
    // nulls are absent values, and the result passes promtool.
    void snapshotFromAReport()
    {
        const QByteArray json = R"({"nodes": [
          {"node": "web-01", "online": true, "last_seen": "2026-11-25T08:59:30.000Z",
           "version": "0.1.0", "status": "failed", "jobs": [
            {"job": "home", "repository": "/r", "status": "failed", "last_status": "warning",
             "last_run_at": "2026-11-25T02:00:30.000Z", "last_success_at": "2026-11-25T02:00:30.000Z",
             "age_seconds": 25170, "rpo_seconds": 86400, "rpo_breached": false,
             "rpo_due_at": "2026-11-26T02:00:30.000Z", "first_seen_at": "2026-11-01T00:00:00.000Z",
             "failures_since_success": 0,
             "last_check_status": "success", "last_check_at": "2026-11-24T03:00:00.000Z",
             "last_drill_status": "failed", "last_drill_at": "2026-11-25T04:30:00.000Z",
             "last_drill_success_at": "2026-11-18T04:30:00.000Z"},
            {"job": "new", "repository": null, "status": "pending", "last_status": null,
             "last_run_at": null, "last_success_at": null, "age_seconds": null,
             "rpo_seconds": 3600, "rpo_breached": false, "rpo_due_at": "2026-11-25T09:30:00.000Z",
             "first_seen_at": "2026-11-25T08:30:00.000Z", "failures_since_success": 0,
             "last_check_status": null, "last_check_at": null, "last_drill_status": null,
             "last_drill_at": null, "last_drill_success_at": null}]},
          {"node": "new-01", "online": false, "last_seen": null, "version": null,
           "status": "unknown", "jobs": []}]})";
        const FleetSnapshot snap
            = FleetSnapshot::fromReport(QJsonDocument::fromJson(json).object());
        QCOMPARE(snap.nodes.size(), 2);
        QCOMPARE(snap.nodes.at(0).node, u"web-01"_s);
        QVERIFY(snap.nodes.at(0).online);
        QCOMPARE(
            snap.nodes.at(0).lastSeen, QDateTime(QDate(2026, 11, 25), QTime(8, 59, 30), Qt::UTC));
        QVERIFY(!snap.nodes.at(1).lastSeen.isValid());
        QCOMPARE(snap.jobs.size(), 2);
        const JobMetric &home = snap.jobs.at(0);
        QCOMPARE(home.node, u"web-01"_s);
        QCOMPARE(home.job, u"home"_s);
        QVERIFY(home.lastStatus == protocol::Status::Warning);
        QCOMPARE(home.rpoSeconds, qint64(86400));
        QCOMPARE(home.rpoBreached, false);
        QVERIFY(home.lastCheckStatus == protocol::Status::Success);
        QCOMPARE(home.lastCheck.value_or(QDateTime()),
            QDateTime(QDate(2026, 11, 24), QTime(3, 0), Qt::UTC));
        QVERIFY(home.lastDrillStatus == protocol::Status::Failed);
        QCOMPARE(home.lastDrill.value_or(QDateTime()),
            QDateTime(QDate(2026, 11, 25), QTime(4, 30), Qt::UTC));
        QCOMPARE(home.lastDrillSuccess.value_or(QDateTime()),
            QDateTime(QDate(2026, 11, 18), QTime(4, 30), Qt::UTC));
        const JobMetric &fresh = snap.jobs.at(1);
        QCOMPARE(fresh.job, u"new"_s);
        QVERIFY(!fresh.lastStatus && !fresh.lastSuccess && !fresh.lastRun);
        QVERIFY(!fresh.lastCheckStatus && !fresh.lastCheck);
        QVERIFY(!fresh.lastDrillStatus && !fresh.lastDrill && !fresh.lastDrillSuccess);

        FleetMetrics metrics(u"127.0.0.1:0"_s);
        metrics.update(snap);
        const QByteArray text = metrics.render();
        const QString complaint = promtoolComplaint(text);
        QVERIFY2(complaint.isEmpty(), qPrintable(complaint));
        const QHash<QString, double> series = parseSeries(text);
        QCOMPARE(series.value(
                     u"sparky_fleet_restore_drill_last_status{job=\"home\",node=\"web-01\"}"_s, -1),
            3.0);
        QCOMPARE(series.value(u"sparky_fleet_restore_drill_last_success_timestamp_seconds{job="
                              "\"home\",node=\"web-01\"}"_s,
                     -1),
            double(QDateTime(QDate(2026, 11, 18), QTime(4, 30), Qt::UTC).toSecsSinceEpoch()));
        QCOMPARE(
            series.value(u"sparky_fleet_backup_rpo_breached{job=\"new\",node=\"web-01\"}"_s, -1),
            0.0);
        // Only its RPO and the breach flag: no run, no check, no drill yet.
        QCOMPARE(text.count("job=\"new\""), 2);
    }

    void busyAddressIsAClearError()
    {
        const quint16 port = m_port; // in use by m_metrics
        FleetMetrics second(u"127.0.0.1:%1"_s.arg(port));
        auto again = second.start();
        QVERIFY(!again);
        QCOMPARE(again.error().code, ErrorCode::Network);
        QVERIFY2(again.error().message.contains(QString::number(port)),
            qPrintable(again.error().message));
    }
};

QTEST_GUILESS_MAIN(TestFleetMetrics)
#include "tst_fleetmetrics.moc"
