#pragma once

// Exports fleet reports to the Exioma console by HTTPS POST, from a durable outbox.
//
// enqueue() writes the report into the table `export_outbox` first (one row per export,
// the row id is the export id) and only then tries to deliver it, so a console outage, a
// crash or a restart loses nothing: rows stay until the console answers 2xx. Delivery is
// in order (oldest row first; a row that waits for a retry holds back the rows behind it),
// one request at a time. docs/exioma-export.md documents the request and the body:
//
//   POST <url>
//   Authorization: Bearer <token>          (read from the 0600 token file on every attempt)
//   Idempotency-Key: <export id>           (the same on every retry of one export)
//   Content-Type: application/json
//   {"export_id": "<id>", "generated_at": "2026-11-25T15:20:31.123Z", "report": {…}}
//
// Outcomes: 2xx → delivered (row deleted, delivered()). 408, 429, 5xx, a timeout, a network
// or TLS failure → retried with exponential backoff and jitter (retryMin … retryMax; a 429
// or 503 Retry-After is honoured up to retryMax), deliveryFailed() each time. Any other
// answer (3xx, 4xx: the console refuses the token or the payload) is a permanent failure:
// the row is kept and parked with its error, logged as critical, and reported through
// deliveryFailed() and failedPermanently(); retryFailed() puts parked rows back in line
// after the configuration is fixed. TLS verification is always on (system CAs plus the
// optional caFile); the token never reaches a log line, an error or the store.
//
// Threading and ownership: an ExiomaExporter lives in the thread that created it; all calls
// must come from that thread, and its signals are emitted there. It uses the Qt Sql
// connection named `sqlConnectionName`, which must belong to the same thread (QSqlDatabase
// rule). Give the exporter a connection of its own (same database, other name): its
// statements autocommit and must not land inside someone else's open transaction. On
// SQLite set a busy timeout on that connection (QSQLITE_BUSY_TIMEOUT). With several
// orchestrator replicas run one exporter at a time (the singleton lock): two exporters on
// one outbox would each send the head row (the console deduplicates by Idempotency-Key,
// but it is wasted work). The exporter owns its QNetworkAccessManager and timers.

#include "sparky/error.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>
#include <QUrl>
#include <chrono>
#include <memory>
#include <optional>

namespace sparky::orchestrator {

struct ExiomaSettings
{
    QUrl url; // https only; the token never travels in clear
    QString tokenFile; // bearer token, mode 0600 (sparky::readSecretFile)
    QString caFile; // optional extra CA (PEM) on top of the system store
    std::chrono::seconds interval { 300 }; // reportDue() cadence and outbox rescan
    std::chrono::seconds timeout { 30 }; // per request, connect to last byte
    std::chrono::milliseconds retryMin { 1000 };
    std::chrono::milliseconds retryMax { std::chrono::minutes(10) };

    // Static checks: https URL with a host, token file named, sane durations. Names what
    // is wrong (the token file itself is read per attempt, so it may appear later).
    Result validate() const;
};

// One row of the outbox, for status displays (the payload is left out).
struct ExportOutboxEntry
{
    QString id;
    QDateTime createdAt; // UTC
    int attempts = 0;
    std::optional<QDateTime> nextAttemptAt; // UTC; empty when parked (failed)
    QString lastError;
    bool failed = false; // parked after a permanent failure
};

class ExiomaExporter final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ExiomaExporter)

public:
    ExiomaExporter(ExiomaSettings settings, QString sqlConnectionName, QObject *parent = nullptr);
    ~ExiomaExporter() override; // stop(): an in-flight request is aborted, its row kept

    // Creates export_outbox and its index if missing (portable SQL: SQLite and PostgreSQL).
    Result ensureSchema();

    // Persists the report (wrapped in the export body) and returns its export id; then, if
    // started, delivery begins. The row is durable when this returns.
    Expected<QString> enqueue(const QJsonObject &report);

    // Starts delivering from the outbox (rows left by an earlier run first) and the
    // reportDue() timer. Fails if the settings are invalid.
    Result start();
    // Stops timers and aborts an in-flight request (its row stays and is sent again later
    // with the same Idempotency-Key).
    void stop();
    bool isRunning() const { return m_running; }

    // Rows waiting for delivery (not parked), or -1 if the store cannot be read.
    qint64 pending() const;
    // Rows parked after a permanent failure, or -1 if the store cannot be read.
    qint64 failedCount() const;
    // Every row in delivery order.
    Expected<QList<ExportOutboxEntry>> entries() const;
    // Puts parked rows (all, or the one with `id`) back in line for delivery now; returns
    // how many. Use it after fixing the token, URL or CA.
    Expected<int> retryFailed(const QString &id = {});

    // The body POSTed for one export (also what `report export --format json` can write).
    static QJsonObject exportBody(
        const QString &exportId, const QDateTime &generatedAt, const QJsonObject &report);

    const ExiomaSettings &settings() const { return m_settings; }

Q_SIGNALS:
    void delivered(const QString &id);
    // Every failed attempt; `attempt` counts from 1. Followed by failedPermanently() when
    // the row was parked.
    void deliveryFailed(const QString &id, const sparky::Error &error, int attempt);
    void failedPermanently(const QString &id, const sparky::Error &error);
    // The outbox changed: rows pending and parked (feed FleetMetrics::setExportPending).
    void backlogChanged(qint64 pending, qint64 failed);
    // Emitted every `interval` while running: time to enqueue a fresh report.
    void reportDue();

private:
    struct Head;
    void schedule(std::chrono::milliseconds delay);
    void deliverNext();
    void send(const Head &head);
    void finishAttempt(const QString &id, int attempt, std::optional<int> status,
        const Error &error, std::optional<std::chrono::milliseconds> retryAfter);
    void recordRetry(
        const QString &id, int attempt, const Error &error, std::chrono::milliseconds delay);
    void recordPermanent(const QString &id, int attempt, const Error &error);
    void notifyBacklog();
    std::chrono::milliseconds backoff(int attempt) const;
    qint64 nextCreatedAt();

    class Private;
    ExiomaSettings m_settings;
    QString m_connectionName;
    std::unique_ptr<Private> d;
    bool m_running = false;
    qint64 m_lastCreatedAt = 0;
};

} // namespace sparky::orchestrator
