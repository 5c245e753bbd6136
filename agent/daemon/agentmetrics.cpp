#include "agentmetrics.h"

#include "logcategories.h"
#include "statestore.h"

#include "sparky/envelope.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSaveFile>
#include <QSqlQuery>
#include <QUrl>

#include <sstream>

namespace sparky::agent {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;

namespace {

std::string s(const QString &q)
{
    return q.toStdString();
}

Family<Gauge> &gauge(prometheus::Registry &r, const char *name, const char *help)
{
    return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

Family<Counter> &counter(prometheus::Registry &r, const char *name, const char *help)
{
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

double epochSeconds(const QDateTime &t)
{
    return t.isValid() ? double(t.toMSecsSinceEpoch()) / 1000.0 : 0.0;
}

const QStringList &resultNames()
{
    static const QStringList names{u"success"_s, u"warning"_s, u"cancelled"_s, u"failed"_s};
    return names;
}

} // namespace

struct AgentMetrics::Families
{
    explicit Families(prometheus::Registry &r)
        : backupLastSuccess(gauge(r, "sparky_backup_last_success_timestamp_seconds",
                                  "When the last backup run that succeeded (status success or warning) "
                                  "finished, Unix time; 0 = never"))
        , backupLastRun(gauge(r, "sparky_backup_last_run_timestamp_seconds",
                              "When the last backup run finished, Unix time"))
        , backupLastStatus(gauge(r, "sparky_backup_last_status",
                                 "Status of the last backup run as its severity: 0 success, 1 warning, "
                                 "2 cancelled, 3 failed"))
        , backupDuration(gauge(r, "sparky_backup_duration_seconds", "Duration of the last backup run"))
        , backupOriginal(gauge(r, "sparky_backup_original_bytes",
                               "Original size of the last archive created"))
        , backupCompressed(gauge(r, "sparky_backup_compressed_bytes",
                                 "Compressed size of the last archive created"))
        , backupDeduplicated(gauge(r, "sparky_backup_deduplicated_bytes",
                                   "Deduplicated size (new data) of the last archive created"))
        , backupFiles(gauge(r, "sparky_backup_files", "Number of files in the last archive created"))
        , backupNextRun(gauge(r, "sparky_backup_next_run_timestamp_seconds",
                              "When the next scheduled backup run is due, Unix time"))
        , backupRuns(counter(r, "sparky_backup_runs_total", "Backup runs finished since the agent started, by result"))
        , checkLastSuccess(gauge(r, "sparky_check_last_success_timestamp_seconds",
                                 "When the last borg check that succeeded finished, Unix time; 0 = never"))
        , checkLastRun(gauge(r, "sparky_check_last_run_timestamp_seconds",
                             "When the last borg check finished, Unix time"))
        , checkLastStatus(gauge(r, "sparky_check_last_status",
                                "Status of the last borg check as its severity: 0 success, 1 warning, "
                                "2 cancelled, 3 failed"))
        , checkNextRun(gauge(r, "sparky_check_next_run_timestamp_seconds",
                             "When the next scheduled borg check is due, Unix time"))
        , checkRuns(counter(r, "sparky_check_runs_total", "Borg checks finished since the agent started, by result"))
        , drillLastSuccess(gauge(r, "sparky_restore_drill_last_success_timestamp_seconds",
                                 "When the last restore drill that succeeded finished, Unix time; 0 = never"))
        , drillLastRun(gauge(r, "sparky_restore_drill_last_run_timestamp_seconds",
                             "When the last restore drill finished, Unix time"))
        , drillLastStatus(gauge(r, "sparky_restore_drill_last_status",
                                "Status of the last restore drill as its severity: 0 success, 1 warning, "
                                "2 cancelled, 3 failed"))
        , drillNextRun(gauge(r, "sparky_restore_drill_next_run_timestamp_seconds",
                             "When the next scheduled restore drill is due, Unix time"))
        , drillRuns(counter(r, "sparky_restore_drill_runs_total",
                            "Restore drills finished since the agent started, by result"))
        , outboxMessages(gauge(r, "sparky_agent_outbox_messages",
                               "Events in the outbox waiting for a broker confirm"))
        , outboxMax(gauge(r, "sparky_agent_outbox_max_messages", "The outbox bound (outbox_max_messages)"))
        , outboxDropped(counter(r, "sparky_agent_outbox_dropped_total",
                                "Events dropped because the outbox was full (progress and heartbeats only)"))
        , brokerConnected(gauge(r, "sparky_agent_broker_connected", "1 when the agent is connected to the broker"))
        , runningRuns(gauge(r, "sparky_agent_running_runs", "Runs going on now"))
        , commands(counter(r, "sparky_agent_commands_total", "Commands received, by type and outcome"))
        , info(gauge(r, "sparky_agent_info", "Agent version and node; always 1"))
        , startTime(gauge(r, "sparky_agent_start_time_seconds", "When the agent started, Unix time"))
    {
    }

    Family<Gauge> &backupLastSuccess, &backupLastRun, &backupLastStatus, &backupDuration,
        &backupOriginal, &backupCompressed, &backupDeduplicated, &backupFiles, &backupNextRun;
    Family<Counter> &backupRuns;
    Family<Gauge> &checkLastSuccess, &checkLastRun, &checkLastStatus, &checkNextRun;
    Family<Counter> &checkRuns;
    Family<Gauge> &drillLastSuccess, &drillLastRun, &drillLastStatus, &drillNextRun;
    Family<Counter> &drillRuns;
    Family<Gauge> &outboxMessages, &outboxMax;
    Family<Counter> &outboxDropped;
    Family<Gauge> &brokerConnected, &runningRuns;
    Family<Counter> &commands;
    Family<Gauge> &info, &startTime;

    QList<Family<Gauge> *> jobGauges()
    {
        return {&backupLastSuccess, &backupLastRun, &backupLastStatus, &backupDuration, &backupOriginal,
                &backupCompressed, &backupDeduplicated, &backupFiles, &backupNextRun, &checkLastSuccess,
                &checkLastRun, &checkLastStatus, &checkNextRun, &drillLastSuccess, &drillLastRun,
                &drillLastStatus, &drillNextRun};
    }
};

AgentMetrics::AgentMetrics(QObject *parent)
    : QObject(parent)
    , m_registry(std::make_shared<prometheus::Registry>())
    , m_f(std::make_unique<Families>(*m_registry))
{
    m_f->outboxMessages.Add({}).Set(0);
    m_f->brokerConnected.Add({}).Set(0);
    m_f->runningRuns.Add({}).Set(0);
    m_f->startTime.Add({}).Set(epochSeconds(QDateTime::currentDateTimeUtc()));
    m_textfileTimer.setSingleShot(true);
    m_textfileTimer.setInterval(1000);
    connect(&m_textfileTimer, &QTimer::timeout, this, [this] {
        if (auto ok = writeTextfile(); !ok)
            qCWarning(lcMetrics).noquote() << ok.error().toString();
    });
    m_textfileRefresh.setInterval(60000);
    connect(&m_textfileRefresh, &QTimer::timeout, this, &AgentMetrics::scheduleTextfile);
}

AgentMetrics::~AgentMetrics()
{
    if (m_pushReply)
        m_pushReply->abort();
    m_exposer.reset();
}

Result AgentMetrics::configure(const AgentConfig &config)
{
    m_node = config.node;
    m_f->info.Add({{"version", SPARKY_VERSION}, {"node", s(config.node)}}).Set(1);
    m_f->outboxMax.Add({}).Set(double(config.outboxMaxMessages));

    // Jobs: create the series of new jobs, drop those of jobs that went away or changed
    // repository (their labels would be wrong).
    QHash<QString, QString> wanted;
    for (const JobConfig &j : config.jobs)
        wanted.insert(j.name, j.repository);
    for (auto it = m_jobRepository.cbegin(); it != m_jobRepository.cend(); ++it)
        if (wanted.value(it.key()) != it.value() || !wanted.contains(it.key()))
            removeJobSeries(it.key(), it.value());
    for (const JobConfig &j : config.jobs) {
        const prometheus::Labels labels{{"job", s(j.name)}, {"repository", s(j.repository)}};
        // "Never" is 0, so an alert on age fires for a job that has never succeeded.
        m_f->backupLastSuccess.Add(labels);
        if (!j.check.schedule.isEmpty())
            m_f->checkLastSuccess.Add(labels);
        if (!j.drill.schedule.isEmpty())
            m_f->drillLastSuccess.Add(labels);
    }
    m_jobRepository = wanted;

    // Exposer: restart only when the address changed.
    if (config.metrics.listen != m_listen || (!m_exposer && !config.metrics.listen.isEmpty())) {
        m_exposer.reset();
        m_port = 0;
        m_listen = config.metrics.listen;
        if (!m_listen.isEmpty()) {
            try {
                auto exposer = std::make_unique<prometheus::Exposer>(s(m_listen), 2);
                exposer->RegisterCollectable(m_registry);
                const auto ports = exposer->GetListeningPorts();
                m_port = ports.empty() ? 0 : quint16(ports.front());
                m_exposer = std::move(exposer);
                qCInfo(lcMetrics).noquote() << u"metrics on http://%1:%2/metrics"_s.arg(m_listen.section(u':', 0, -2)).arg(m_port);
            } catch (const std::exception &e) {
                m_listen.clear();
                return unexpected(ErrorCode::Io, u"metrics.listen %1: cannot listen there: %2"_s.arg(
                                                     config.metrics.listen, QString::fromLocal8Bit(e.what())));
            }
        }
    }

    m_textfilePath = config.metrics.textfilePath;
    if (m_textfilePath.isEmpty())
        m_textfileRefresh.stop();
    else if (!m_textfileRefresh.isActive())
        m_textfileRefresh.start();

    m_pushUrl = config.metrics.pushgatewayUrl;
    if (!m_pushUrl.isEmpty() && !m_network)
        m_network = new QNetworkAccessManager(this);
    scheduleTextfile();
    return {};
}

void AgentMetrics::removeJobSeries(const QString &job, const QString &repository)
{
    const prometheus::Labels labels{{"job", s(job)}, {"repository", s(repository)}};
    for (Family<Gauge> *f : m_f->jobGauges())
        if (f->Has(labels))
            f->Remove(&f->Add(labels));
    for (Family<Counter> *f : {&m_f->backupRuns, &m_f->checkRuns, &m_f->drillRuns})
        for (const QString &result : resultNames()) {
            prometheus::Labels l = labels;
            l.emplace("result", s(result));
            if (f->Has(l))
                f->Remove(&f->Add(l));
        }
}

void AgentMetrics::applyRun(const proto::RunFinished &r, const QString &repository, bool countIt)
{
    const prometheus::Labels labels{{"job", s(r.job)}, {"repository", s(repository)}};
    const bool good = r.status == proto::Status::Success || r.status == proto::Status::Warning;
    if (r.kind == proto::RunKind::Backup) {
        m_f->backupLastRun.Add(labels).Set(epochSeconds(r.finishedAt));
        m_f->backupLastStatus.Add(labels).Set(proto::severity(r.status));
        double duration = r.startedAt.isValid() && r.finishedAt.isValid()
                              ? double(r.startedAt.msecsTo(r.finishedAt)) / 1000.0 : 0.0;
        if (r.stats) {
            if (duration <= 0 && r.stats->durationSeconds > 0)
                duration = r.stats->durationSeconds;
            m_f->backupOriginal.Add(labels).Set(double(r.stats->originalSize));
            m_f->backupCompressed.Add(labels).Set(double(r.stats->compressedSize));
            m_f->backupDeduplicated.Add(labels).Set(double(r.stats->deduplicatedSize));
            m_f->backupFiles.Add(labels).Set(double(r.stats->files));
        }
        m_f->backupDuration.Add(labels).Set(duration);
        if (good)
            m_f->backupLastSuccess.Add(labels).Set(epochSeconds(r.finishedAt));
        if (countIt) {
            prometheus::Labels l = labels;
            l.emplace("result", s(proto::statusName(r.status)));
            m_f->backupRuns.Add(l).Increment();
        }
    } else if (r.kind == proto::RunKind::Check || r.kind == proto::RunKind::Drill) {
        const bool check = r.kind == proto::RunKind::Check;
        (check ? m_f->checkLastRun : m_f->drillLastRun).Add(labels).Set(epochSeconds(r.finishedAt));
        (check ? m_f->checkLastStatus : m_f->drillLastStatus).Add(labels).Set(proto::severity(r.status));
        if (good)
            (check ? m_f->checkLastSuccess : m_f->drillLastSuccess).Add(labels).Set(epochSeconds(r.finishedAt));
        if (countIt) {
            prometheus::Labels l = labels;
            l.emplace("result", s(proto::statusName(r.status)));
            (check ? m_f->checkRuns : m_f->drillRuns).Add(l).Increment();
        }
    }
}

void AgentMetrics::restore(StateStore *store, const AgentConfig &config)
{
    for (const JobConfig &j : config.jobs) {
        for (proto::RunKind kind : {proto::RunKind::Backup, proto::RunKind::Check, proto::RunKind::Drill}) {
            // The last finished run: status, time, stats.
            QSqlQuery q(store->database());
            q.prepare(u"SELECT status, started_at, finished_at, stats FROM runs WHERE job = ? AND kind = ? "
                      "AND state = 'finished' ORDER BY finished_at DESC LIMIT 1"_s);
            q.addBindValue(j.name);
            q.addBindValue(proto::runKindName(kind));
            if (!q.exec() || !q.next())
                continue;
            proto::RunFinished r;
            r.job = j.name;
            r.kind = kind;
            r.status = proto::statusFromName(q.value(0).toString()).value_or(proto::Status::Failed);
            r.startedAt = parseTimestamp(q.value(1).toString()).value_or(QDateTime());
            r.finishedAt = parseTimestamp(q.value(2).toString()).value_or(QDateTime());
            const QByteArray stats = q.value(3).toString().toUtf8();
            if (!stats.isEmpty())
                if (auto st = proto::RunStats::fromJson(QJsonDocument::fromJson(stats).object()); st)
                    r.stats = *st;
            applyRun(r, j.repository, false);

            // The last good one (it may be older than the last run).
            QSqlQuery g(store->database());
            g.prepare(u"SELECT MAX(finished_at) FROM runs WHERE job = ? AND kind = ? AND status IN "
                      "('success', 'warning')"_s);
            g.addBindValue(j.name);
            g.addBindValue(proto::runKindName(kind));
            if (g.exec() && g.next() && !g.value(0).isNull()) {
                const auto t = parseTimestamp(g.value(0).toString());
                const prometheus::Labels labels{{"job", s(j.name)}, {"repository", s(j.repository)}};
                auto &family = kind == proto::RunKind::Backup ? m_f->backupLastSuccess
                               : kind == proto::RunKind::Check  ? m_f->checkLastSuccess
                                                                : m_f->drillLastSuccess;
                if (t)
                    family.Add(labels).Set(epochSeconds(*t));
            }
        }
    }
    scheduleTextfile();
}

void AgentMetrics::recordRun(const proto::RunFinished &result, const QString &repository)
{
    applyRun(result, repository, true);
    scheduleTextfile();
    if (!m_pushUrl.isEmpty())
        push();
}

void AgentMetrics::setNextRun(const QString &job, proto::RunKind kind, const QDateTime &next)
{
    const auto it = m_jobRepository.constFind(job);
    if (it == m_jobRepository.cend())
        return;
    const prometheus::Labels labels{{"job", s(job)}, {"repository", s(*it)}};
    if (kind != proto::RunKind::Backup && kind != proto::RunKind::Check && kind != proto::RunKind::Drill)
        return;
    auto &family = kind == proto::RunKind::Check   ? m_f->checkNextRun
                   : kind == proto::RunKind::Drill ? m_f->drillNextRun
                                                   : m_f->backupNextRun;
    if (next.isValid())
        family.Add(labels).Set(epochSeconds(next));
    else if (family.Has(labels))
        family.Remove(&family.Add(labels));
}

void AgentMetrics::setOutboxSize(qint64 size, qint64 max)
{
    m_f->outboxMessages.Add({}).Set(double(size));
    m_f->outboxMax.Add({}).Set(double(max));
    scheduleTextfile();
}

void AgentMetrics::addOutboxDropped(const QString &type, qint64 count)
{
    m_f->outboxDropped.Add({{"type", s(type)}}).Increment(double(count));
}

void AgentMetrics::setBrokerConnected(bool connected)
{
    m_f->brokerConnected.Add({}).Set(connected ? 1 : 0);
    scheduleTextfile();
}

void AgentMetrics::setRunningRuns(int count)
{
    m_f->runningRuns.Add({}).Set(count);
    scheduleTextfile();
}

void AgentMetrics::countCommand(const QString &type, const QString &result)
{
    m_f->commands.Add({{"type", s(type)}, {"result", s(result)}}).Increment();
}

QByteArray AgentMetrics::render() const
{
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, m_registry->Collect());
    return QByteArray::fromStdString(out.str());
}

void AgentMetrics::scheduleTextfile()
{
    if (!m_textfilePath.isEmpty() && !m_textfileTimer.isActive())
        m_textfileTimer.start();
}

Result AgentMetrics::writeTextfile()
{
    if (m_textfilePath.isEmpty())
        return {};
    // QSaveFile writes a temporary file next to the target and renames it over the target,
    // so node_exporter never reads half a file.
    QSaveFile f(m_textfilePath);
    if (!f.open(QIODevice::WriteOnly))
        return unexpected(ErrorCode::Io, u"metrics.textfile_path %1: %2"_s.arg(m_textfilePath, f.errorString()));
    f.write(render());
    if (!f.commit())
        return unexpected(ErrorCode::Io, u"metrics.textfile_path %1: %2"_s.arg(m_textfilePath, f.errorString()));
    return {};
}

void AgentMetrics::push()
{
    if (!m_network || m_pushUrl.isEmpty())
        return;
    if (m_pushReply) {
        m_pushAgain = true; // one push at a time; the latest values go out next
        return;
    }
    // The Pushgateway's grouping key `job` overrides a `job` label in the pushed series, so
    // every backup job is its own group: /metrics/job/<job>/instance/<node>, holding only
    // that job's series. Scraped with honor_labels, the series look as they do on /metrics.
    std::vector<prometheus::MetricFamily> all = m_registry->Collect();
    QHash<QString, std::vector<prometheus::MetricFamily>> byJob;
    for (const prometheus::MetricFamily &family : all) {
        for (const prometheus::ClientMetric &m : family.metric) {
            for (const auto &label : m.label) {
                if (label.name != "job")
                    continue;
                auto &families = byJob[QString::fromStdString(label.value)];
                if (families.empty() || families.back().name != family.name) {
                    prometheus::MetricFamily copy = family;
                    copy.metric.clear();
                    families.push_back(std::move(copy));
                }
                prometheus::ClientMetric withoutJob = m;
                std::erase_if(withoutJob.label, [](const auto &l) { return l.name == "job"; });
                families.back().metric.push_back(std::move(withoutJob));
            }
        }
    }
    QStringList jobs = byJob.keys();
    jobs.sort();
    QString base = m_pushUrl;
    while (base.endsWith(u'/'))
        base.chop(1);
    for (const QString &job : std::as_const(jobs)) {
        std::ostringstream out;
        prometheus::TextSerializer().Serialize(out, byJob.value(job));
        const QUrl url(base + u"/metrics/job/"_s + QString::fromLatin1(QUrl::toPercentEncoding(job))
                       + u"/instance/"_s + QString::fromLatin1(QUrl::toPercentEncoding(m_node)));
        m_pushQueue.append({url, QByteArray::fromStdString(out.str())});
    }
    pushNext();
}

void AgentMetrics::pushNext()
{
    if (m_pushQueue.isEmpty()) {
        m_pushReply = nullptr;
        if (std::exchange(m_pushAgain, false))
            push();
        return;
    }
    const auto [url, body] = m_pushQueue.takeFirst();
    QNetworkRequest request(url);
    request.setHeader(QNetworkRequest::ContentTypeHeader, u"text/plain; version=0.0.4"_s);
    request.setTransferTimeout(10000);
    QNetworkReply *reply = m_network->put(request, body);
    m_pushReply = reply;
    connect(reply, &QNetworkReply::finished, this, [this, reply, url] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (reply->error() != QNetworkReply::NoError || status / 100 != 2) {
            const QString why = u"pushing metrics to %1 failed: %2 (HTTP %3)"_s.arg(
                url.toDisplayString(QUrl::RemoveUserInfo), reply->errorString()).arg(status);
            qCWarning(lcMetrics).noquote() << why;
            Q_EMIT pushFinished(false, why);
        } else {
            Q_EMIT pushFinished(true, url.toDisplayString(QUrl::RemoveUserInfo));
        }
        pushNext();
    });
}

} // namespace sparky::agent
