#include "exiomaexporter.h"

#include "edgelogging.h"
#include "httpsclient_p.h"
#include "sparky/envelope.h"
#include "sparky/secrets.h"

#include <QJsonDocument>
#include <QLocale>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPointer>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTimer>
#include <algorithm>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;
using namespace std::chrono;

namespace {

qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

Error sqlError(const QSqlQuery &q, const QString &what)
{
    return Error(ErrorCode::Io, u"export outbox: %1: %2"_s.arg(what, q.lastError().text()));
}

// Retry-After: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
std::optional<milliseconds> parseRetryAfter(const QByteArray &value)
{
    const QByteArray v = value.trimmed();
    if (v.isEmpty())
        return std::nullopt;
    bool ok = false;
    const qint64 seconds = v.toLongLong(&ok);
    if (ok)
        return seconds >= 0 ? std::optional(milliseconds(seconds * 1000)) : std::nullopt;
    const QDateTime at = QLocale::c().toDateTime(
        QString::fromLatin1(v).chopped(4), u"ddd, dd MMM yyyy HH:mm:ss"_s);
    if (!at.isValid())
        return std::nullopt;
    QDateTime utc = at;
    utc.setTimeSpec(Qt::UTC);
    return milliseconds(std::max<qint64>(0, utc.toMSecsSinceEpoch() - nowMs()));
}

} // namespace

Result ExiomaSettings::validate() const
{
    if (!url.isValid() || url.scheme() != "https"_L1 || url.host().isEmpty())
        return unexpected(ErrorCode::Config,
            u"exioma.url must be an https:// URL with a host, got '%1'"_s.arg(
                url.toDisplayString(QUrl::RemoveUserInfo)));
    if (!url.userInfo().isEmpty())
        return unexpected(
            ErrorCode::Config, u"exioma.url must not carry credentials; use exioma.token_file"_s);
    if (tokenFile.isEmpty())
        return unexpected(ErrorCode::Config, u"exioma.token_file is required"_s);
    if (interval.count() <= 0)
        return unexpected(ErrorCode::Config, u"exioma.interval must be positive"_s);
    if (timeout.count() <= 0)
        return unexpected(ErrorCode::Config, u"exioma.timeout must be positive"_s);
    if (retryMin.count() <= 0 || retryMax < retryMin)
        return unexpected(
            ErrorCode::Config, u"exioma retry bounds must satisfy 0 < retry_min <= retry_max"_s);
    return {};
}

class ExiomaExporter::Private
{
public:
    QNetworkAccessManager *network = nullptr;
    QTimer *intervalTimer = nullptr;
    QTimer *wakeTimer = nullptr;
    QTimer *requestTimer = nullptr;
    QPointer<QNetworkReply> reply;
    QList<QSslError> sslErrors;
    bool timedOut = false;
};

struct ExiomaExporter::Head
{
    QString id;
    QByteArray payload;
    int attempts = 0;
};

ExiomaExporter::ExiomaExporter(ExiomaSettings settings, QString sqlConnectionName, QObject *parent)
    : QObject(parent)
    , m_settings(std::move(settings))
    , m_connectionName(std::move(sqlConnectionName))
    , d(std::make_unique<Private>())
{
    d->network = new QNetworkAccessManager(this);
    d->intervalTimer = new QTimer(this);
    d->wakeTimer = new QTimer(this);
    d->wakeTimer->setSingleShot(true);
    d->requestTimer = new QTimer(this);
    d->requestTimer->setSingleShot(true);
    connect(d->intervalTimer, &QTimer::timeout, this, [this] {
        Q_EMIT reportDue();
        deliverNext();
    });
    connect(d->wakeTimer, &QTimer::timeout, this, &ExiomaExporter::deliverNext);
    connect(d->requestTimer, &QTimer::timeout, this, [this] {
        if (d->reply) {
            d->timedOut = true;
            d->reply->abort();
        }
    });
}

ExiomaExporter::~ExiomaExporter()
{
    stop();
}

Result ExiomaExporter::ensureSchema()
{
    QSqlDatabase db = QSqlDatabase::database(m_connectionName, false);
    if (!db.isValid() || !db.isOpen())
        return unexpected(ErrorCode::Unavailable,
            u"export outbox: SQL connection '%1' is not open"_s.arg(m_connectionName));
    // Checked first: PostgreSQL answers CREATE … IF NOT EXISTS on an existing table with a
    // NOTICE that libpq prints to stderr.
    if (db.tables(QSql::Tables).contains(u"export_outbox"_s, Qt::CaseInsensitive))
        return {};
    // created_at: microseconds since the epoch, strictly increasing per exporter (the
    // delivery order); next_attempt_at and failed_at: milliseconds since the epoch.
    const QStringList statements {
        u"CREATE TABLE IF NOT EXISTS export_outbox ("
        "id TEXT PRIMARY KEY, "
        "created_at BIGINT NOT NULL, "
        "payload TEXT NOT NULL, "
        "attempts INTEGER NOT NULL DEFAULT 0, "
        "next_attempt_at BIGINT, "
        "last_error TEXT, "
        "failed_at BIGINT)"_s,
        u"CREATE INDEX IF NOT EXISTS export_outbox_order ON export_outbox (created_at, id)"_s,
    };
    if (!db.transaction())
        return unexpected(ErrorCode::Io,
            u"export outbox: cannot begin a transaction: %1"_s.arg(db.lastError().text()));
    for (const QString &sql : statements) {
        QSqlQuery q(db);
        if (!q.exec(sql)) {
            const Error e = sqlError(q, u"creating the schema"_s);
            db.rollback();
            return e;
        }
    }
    if (!db.commit())
        return unexpected(ErrorCode::Io,
            u"export outbox: committing the schema: %1"_s.arg(db.lastError().text()));
    return {};
}

qint64 ExiomaExporter::nextCreatedAt()
{
    if (m_lastCreatedAt == 0) {
        // After a restart keep the order even if the clock went back.
        QSqlQuery q(QSqlDatabase::database(m_connectionName, false));
        if (q.exec(u"SELECT MAX(created_at) FROM export_outbox"_s) && q.next())
            m_lastCreatedAt = q.value(0).toLongLong();
    }
    const qint64 now = QDateTime::currentMSecsSinceEpoch() * 1000;
    m_lastCreatedAt = std::max(now, m_lastCreatedAt + 1);
    return m_lastCreatedAt;
}

QJsonObject ExiomaExporter::exportBody(
    const QString &exportId, const QDateTime &generatedAt, const QJsonObject &report)
{
    return QJsonObject {
        { u"export_id"_s, exportId },
        { u"generated_at"_s, formatTimestamp(generatedAt) },
        { u"report"_s, report },
    };
}

Expected<QString> ExiomaExporter::enqueue(const QJsonObject &report)
{
    const QString id = newMessageId();
    const QByteArray payload
        = QJsonDocument(exportBody(id, QDateTime::currentDateTimeUtc(), report))
              .toJson(QJsonDocument::Compact);
    QSqlQuery q(QSqlDatabase::database(m_connectionName, false));
    q.prepare(u"INSERT INTO export_outbox (id, created_at, payload, attempts, next_attempt_at, "
              "last_error, failed_at) VALUES (?, ?, ?, 0, ?, NULL, NULL)"_s);
    q.addBindValue(id);
    q.addBindValue(nextCreatedAt());
    q.addBindValue(QString::fromUtf8(payload));
    q.addBindValue(nowMs());
    if (!q.exec())
        return sqlError(q, u"storing export %1"_s.arg(id));
    qCInfo(lcExport).noquote() << u"export %1 queued (%2 bytes)"_s.arg(id).arg(payload.size());
    notifyBacklog();
    if (m_running && !d->reply)
        schedule(milliseconds(0));
    return id;
}

Result ExiomaExporter::start()
{
    if (auto ok = m_settings.validate(); !ok)
        return ok;
    if (m_running)
        return {};
    m_running = true;
    d->intervalTimer->start(duration_cast<milliseconds>(m_settings.interval));
    qCInfo(lcExport).noquote() << u"exporting to %1 every %2 s; %3 export(s) pending, %4 parked"_s
                                      .arg(m_settings.url.toDisplayString(QUrl::RemoveUserInfo))
                                      .arg(m_settings.interval.count())
                                      .arg(pending())
                                      .arg(failedCount());
    schedule(milliseconds(0));
    return {};
}

void ExiomaExporter::stop()
{
    if (!m_running)
        return;
    m_running = false;
    d->intervalTimer->stop();
    d->wakeTimer->stop();
    d->requestTimer->stop();
    if (d->reply) {
        QNetworkReply *r = d->reply;
        d->reply = nullptr;
        r->disconnect(this);
        r->abort();
        r->deleteLater();
    }
}

void ExiomaExporter::schedule(milliseconds delay)
{
    if (!m_running)
        return;
    d->wakeTimer->start(std::max(delay, milliseconds(0)));
}

void ExiomaExporter::deliverNext()
{
    if (!m_running || d->reply)
        return;
    QSqlQuery q(QSqlDatabase::database(m_connectionName, false));
    q.setForwardOnly(true);
    if (!q.exec(u"SELECT id, payload, attempts, next_attempt_at FROM export_outbox "
                "WHERE failed_at IS NULL ORDER BY created_at, id LIMIT 1"_s)) {
        qCCritical(lcExport).noquote()
            << sqlError(q, u"reading the next export"_s).message << "— trying again";
        schedule(std::max(m_settings.retryMin, milliseconds(1000)));
        return;
    }
    if (!q.next())
        return; // idle until enqueue() or the interval timer
    Head head;
    head.id = q.value(0).toString();
    head.payload = q.value(1).toString().toUtf8();
    head.attempts = q.value(2).toInt();
    const qint64 due = q.value(3).isNull() ? 0 : q.value(3).toLongLong();
    q.finish();
    const qint64 wait = due - nowMs();
    if (wait > 0) {
        schedule(milliseconds(wait));
        return;
    }
    send(head);
}

void ExiomaExporter::send(const Head &head)
{
    const int attempt = head.attempts + 1;
    auto token = readSecretFile(m_settings.tokenFile);
    if (!token) {
        finishAttempt(head.id, attempt, std::nullopt, token.error().wrapped(u"Exioma token file"_s),
            std::nullopt);
        return;
    }
    if (token->isEmpty()) {
        finishAttempt(head.id, attempt, std::nullopt,
            Error(ErrorCode::Config, u"Exioma token file %1 is empty"_s.arg(m_settings.tokenFile)),
            std::nullopt);
        return;
    }
    auto tls = detail::clientTlsConfiguration(m_settings.caFile);
    if (!tls) {
        finishAttempt(head.id, attempt, std::nullopt, tls.error(), std::nullopt);
        return;
    }

    QNetworkRequest request(m_settings.url);
    request.setSslConfiguration(*tls);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
    request.setHeader(
        QNetworkRequest::UserAgentHeader, QByteArray("sparky-orchestrator/" SPARKY_VERSION));
    request.setRawHeader("Authorization", "Bearer " + *token);
    request.setRawHeader("Idempotency-Key", head.id.toLatin1());
    request.setRawHeader("Accept", "application/json");
    // A redirect would carry the bearer token somewhere not configured: never follow one.
    request.setAttribute(
        QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    request.setAttribute(
        QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);

    d->sslErrors.clear();
    d->timedOut = false;
    QNetworkReply *reply = d->network->post(request, head.payload);
    d->reply = reply;
    d->requestTimer->start(duration_cast<milliseconds>(m_settings.timeout));
    connect(reply, &QNetworkReply::sslErrors, this,
        [this](const QList<QSslError> &errors) { d->sslErrors += errors; });
    const QString id = head.id;
    connect(reply, &QNetworkReply::finished, this, [this, reply, id, attempt] {
        d->requestTimer->stop();
        d->reply = nullptr;
        reply->deleteLater();
        const QVariant statusAttr = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
        const QString what = u"Exioma console %1"_s.arg(
            m_settings.url.toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery));
        if (statusAttr.isValid() && statusAttr.toInt() > 0 && !d->timedOut) {
            const int status = statusAttr.toInt();
            const QByteArray body = reply->readAll();
            QString message = u"%1 answered HTTP %2"_s.arg(what).arg(status);
            if (status >= 300 && status < 400)
                message += u" (redirect to '%1'; configure the final URL)"_s.arg(
                    QString::fromUtf8(reply->rawHeader("Location")));
            else if (!body.isEmpty())
                message += u": "_s + detail::bodyExcerpt(body);
            ErrorCode code = ErrorCode::Rejected;
            if (status == 401 || status == 403)
                code = ErrorCode::Auth;
            else if (status == 408)
                code = ErrorCode::Timeout;
            else if (status >= 500)
                code = ErrorCode::Unavailable;
            else if (status >= 300 && status < 400)
                code = ErrorCode::Config;
            finishAttempt(id, attempt, status, Error(code, message),
                parseRetryAfter(reply->rawHeader("Retry-After")));
            return;
        }
        finishAttempt(id, attempt, std::nullopt,
            detail::transportError(*reply, d->sslErrors, what, d->timedOut), std::nullopt);
    });
}

void ExiomaExporter::finishAttempt(const QString &id, int attempt, std::optional<int> status,
    const Error &error, std::optional<milliseconds> retryAfter)
{
    if (status && *status >= 200 && *status < 300) {
        QSqlQuery q(QSqlDatabase::database(m_connectionName, false));
        q.prepare(u"DELETE FROM export_outbox WHERE id = ?"_s);
        q.addBindValue(id);
        if (!q.exec()) {
            // Delivered but still stored: it is sent again later with the same
            // Idempotency-Key, which the console deduplicates.
            qCCritical(lcExport).noquote()
                << sqlError(q, u"removing delivered export %1"_s.arg(id)).message;
            schedule(backoff(attempt));
            return;
        }
        qCInfo(lcExport).noquote()
            << u"export %1 delivered (HTTP %2, attempt %3)"_s.arg(id).arg(*status).arg(attempt);
        Q_EMIT delivered(id);
        notifyBacklog();
        schedule(milliseconds(0));
        return;
    }
    const bool retryable = !status || *status == 408 || *status == 429 || *status >= 500;
    if (!retryable) {
        recordPermanent(id, attempt, error);
        return;
    }
    milliseconds delay = backoff(attempt);
    if (retryAfter)
        delay = std::min(std::max(delay, *retryAfter), m_settings.retryMax);
    recordRetry(id, attempt, error, delay);
}

void ExiomaExporter::recordRetry(
    const QString &id, int attempt, const Error &error, milliseconds delay)
{
    QSqlQuery q(QSqlDatabase::database(m_connectionName, false));
    q.prepare(u"UPDATE export_outbox SET attempts = ?, next_attempt_at = ?, last_error = ? "
              "WHERE id = ?"_s);
    q.addBindValue(attempt);
    q.addBindValue(nowMs() + delay.count());
    q.addBindValue(error.toString());
    q.addBindValue(id);
    if (!q.exec())
        qCCritical(lcExport).noquote()
            << sqlError(q, u"recording attempt %1 of export %2"_s.arg(attempt).arg(id)).message;
    qCWarning(lcExport).noquote() << u"export %1 attempt %2 failed: %3; retrying in %4 ms"_s.arg(id)
                                         .arg(attempt)
                                         .arg(error.toString())
                                         .arg(delay.count());
    Q_EMIT deliveryFailed(id, error, attempt);
    schedule(delay);
}

void ExiomaExporter::recordPermanent(const QString &id, int attempt, const Error &error)
{
    QSqlQuery q(QSqlDatabase::database(m_connectionName, false));
    q.prepare(u"UPDATE export_outbox SET attempts = ?, next_attempt_at = NULL, last_error = ?, "
              "failed_at = ? WHERE id = ?"_s);
    q.addBindValue(attempt);
    q.addBindValue(error.toString());
    q.addBindValue(nowMs());
    q.addBindValue(id);
    if (!q.exec()) {
        qCCritical(lcExport).noquote() << sqlError(q, u"parking export %1"_s.arg(id)).message;
        Q_EMIT deliveryFailed(id, error, attempt);
        schedule(backoff(attempt)); // not parked: it is tried again, never dropped
        return;
    }
    qCCritical(lcExport).noquote()
        << u"export %1 REFUSED by the console and parked: %2 — fix the configuration, then "
           "retry the parked exports (sparky-orchestrator export retry)"_s.arg(
               id, error.toString());
    Q_EMIT deliveryFailed(id, error, attempt);
    Q_EMIT failedPermanently(id, error);
    notifyBacklog();
    schedule(milliseconds(0));
}

milliseconds ExiomaExporter::backoff(int attempt) const
{
    // Exponential, capped, with "equal jitter": uniform in [base/2, base].
    const qint64 min = m_settings.retryMin.count();
    const qint64 max = m_settings.retryMax.count();
    qint64 base = min;
    for (int i = 1; i < attempt && base < max; ++i)
        base *= 2;
    base = std::clamp<qint64>(base, 1, std::max<qint64>(max, 1));
    const qint64 lo = base / 2;
    return milliseconds(lo + QRandomGenerator::global()->bounded(base - lo + 1));
}

void ExiomaExporter::notifyBacklog()
{
    Q_EMIT backlogChanged(pending(), failedCount());
}

qint64 ExiomaExporter::pending() const
{
    QSqlQuery q(QSqlDatabase::database(m_connectionName, false));
    if (!q.exec(u"SELECT COUNT(*) FROM export_outbox WHERE failed_at IS NULL"_s) || !q.next()) {
        qCWarning(lcExport).noquote() << sqlError(q, u"counting pending exports"_s).message;
        return -1;
    }
    return q.value(0).toLongLong();
}

qint64 ExiomaExporter::failedCount() const
{
    QSqlQuery q(QSqlDatabase::database(m_connectionName, false));
    if (!q.exec(u"SELECT COUNT(*) FROM export_outbox WHERE failed_at IS NOT NULL"_s) || !q.next()) {
        qCWarning(lcExport).noquote() << sqlError(q, u"counting parked exports"_s).message;
        return -1;
    }
    return q.value(0).toLongLong();
}

Expected<QList<ExportOutboxEntry>> ExiomaExporter::entries() const
{
    QSqlQuery q(QSqlDatabase::database(m_connectionName, false));
    q.setForwardOnly(true);
    if (!q.exec(u"SELECT id, created_at, attempts, next_attempt_at, last_error, failed_at "
                "FROM export_outbox ORDER BY created_at, id"_s))
        return sqlError(q, u"listing exports"_s);
    QList<ExportOutboxEntry> out;
    while (q.next()) {
        ExportOutboxEntry e;
        e.id = q.value(0).toString();
        e.createdAt = QDateTime::fromMSecsSinceEpoch(q.value(1).toLongLong() / 1000, Qt::UTC);
        e.attempts = q.value(2).toInt();
        if (!q.value(3).isNull())
            e.nextAttemptAt = QDateTime::fromMSecsSinceEpoch(q.value(3).toLongLong(), Qt::UTC);
        e.lastError = q.value(4).toString();
        e.failed = !q.value(5).isNull();
        out.append(e);
    }
    return out;
}

Expected<int> ExiomaExporter::retryFailed(const QString &id)
{
    QSqlQuery q(QSqlDatabase::database(m_connectionName, false));
    QString sql = u"UPDATE export_outbox SET failed_at = NULL, next_attempt_at = ?, attempts = 0 "
                  "WHERE failed_at IS NOT NULL"_s;
    if (!id.isEmpty())
        sql += u" AND id = ?"_s;
    q.prepare(sql);
    q.addBindValue(nowMs());
    if (!id.isEmpty())
        q.addBindValue(id);
    if (!q.exec())
        return sqlError(q, u"retrying parked exports"_s);
    const int n = q.numRowsAffected();
    qCInfo(lcExport).noquote() << u"%1 parked export(s) put back in line"_s.arg(n);
    notifyBacklog();
    if (m_running && !d->reply)
        schedule(milliseconds(0));
    return n;
}

} // namespace sparky::orchestrator
