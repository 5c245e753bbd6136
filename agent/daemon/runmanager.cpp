#include "runmanager.h"

#include "clock.h"
#include "logcategories.h"
#include "outbox.h"
#include "runexecutor.h"
#include "statestore.h"

#include "sparky/config.h"
#include "sparky/envelope.h"

#include <QJsonDocument>
#include <QSqlQuery>

namespace sparky::agent {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

// How many finished runs per job and kind the state database keeps for `status`.
constexpr int kKeptRuns = 100;

} // namespace

RunManager::RunManager(StateStore *store, Outbox *outbox, RepositoryLocks *locks,
                       const Clock *clock, QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_outbox(outbox)
    , m_locks(locks)
    , m_clock(clock)
{
}

RunManager::~RunManager()
{
    // Executors (children) go first, while everything they use still exists; none may report
    // into a half-destroyed manager. Their runs stay "running" in the state database and are
    // reported as interrupted at the next start.
    const QList<RunExecutor *> executors = findChildren<RunExecutor *>(Qt::FindDirectChildrenOnly);
    for (RunExecutor *e : executors) {
        e->disconnect(this);
        delete e;
    }
}

void RunManager::setConfig(std::shared_ptr<const AgentConfig> config)
{
    m_config = std::move(config);
}

QString RunManager::repositoryNameOf(const AgentConfig &config, const QString &job)
{
    const JobConfig *j = config.job(job);
    return j ? j->repository : QString();
}

QStringList RunManager::runningRuns() const
{
    QStringList ids;
    for (const auto &[id, run] : m_runs)
        ids << id;
    ids.sort();
    return ids;
}

bool RunManager::isRunning(const QString &job, proto::RunKind kind) const
{
    for (const auto &[id, run] : m_runs)
        if (run->job == job && run->kind == kind)
            return true;
    return false;
}

Expected<QString> RunManager::start(proto::RunKind kind, const QString &job, const QString &trigger,
                                    const QString &commandId)
{
    RunRequest request;
    request.kind = kind;
    request.job = job;
    request.trigger = trigger;
    request.commandId = commandId;
    return start(std::move(request));
}

Expected<QString> RunManager::start(RunRequest request)
{
    if (!m_config)
        return unexpected(ErrorCode::Unavailable, u"no configuration loaded"_s);
    const proto::RunKind kind = request.kind;
    const QString job = request.job;
    const QString trigger = request.trigger;
    const QString commandId = request.commandId;
    const JobConfig *j = m_config->job(job);
    if (!j)
        return unexpected(ErrorCode::NotFound, u"no job named '%1' in the configuration"_s.arg(job));
    for (const auto &[id, run] : m_runs)
        if (run->job == job && run->kind == kind)
            return unexpected(ErrorCode::Conflict,
                              u"a %1 run of job '%2' is already going (run %3)"_s.arg(
                                  proto::runKindName(kind), job, id));

    if (request.runId.isEmpty())
        request.runId = newMessageId();
    const QString runId = request.runId;

    auto run = std::make_unique<Running>();
    run->config = m_config;
    run->job = job;
    run->kind = kind;
    run->repositoryName = j->repository;
    run->trigger = trigger;
    run->commandId = commandId;
    auto *executor = new RunExecutor(*run->config, request, m_locks, this);
    run->executor = executor;
    // The executor keeps a reference into the config: keep the config alive until the
    // executor itself is gone (it is deleted later than the run record).
    connect(executor, &QObject::destroyed, executor, [keep = run->config] { Q_UNUSED(keep); });

    connect(executor, &RunExecutor::started, this,
            [this, runId](const proto::RunStarted &s) { onStarted(runId, s); });
    connect(executor, &RunExecutor::progress, this,
            [this, runId](const proto::RunProgress &p) { onProgress(runId, p); });
    connect(executor, &RunExecutor::finished, this,
            [this, runId](const proto::RunFinished &r) { onFinished(runId, r); });

    const std::chrono::seconds maxRunTime = j->maxRunTime;
    if (maxRunTime.count() > 0) {
        run->maxRunTimer = std::make_unique<QTimer>();
        run->maxRunTimer->setSingleShot(true);
        connect(run->maxRunTimer.get(), &QTimer::timeout, this, [this, runId, maxRunTime] {
            auto it = m_runs.find(runId);
            if (it == m_runs.end() || !it->second->executor)
                return;
            const QString why = u"the run exceeded the job's max_run_time of %1 and was stopped"_s.arg(
                config::formatDuration(maxRunTime));
            qCWarning(lcRuns).noquote() << u"run %1 of job %2: %3"_s.arg(runId, it->second->job, why);
            it->second->forcedFailure = why;
            it->second->executor->cancel(why);
        });
        // QTimer counts in int milliseconds: cap at ~24 days (max_run_time beyond is "no limit").
        const qint64 ms = std::min<qint64>(qint64(maxRunTime.count()) * 1000, qint64(INT_MAX));
        run->maxRunTimer->start(std::chrono::milliseconds(ms));
    }
    m_runs.emplace(runId, std::move(run));
    qCInfo(lcRuns).noquote() << "starting" << proto::runKindName(kind) << "run" << runId << "of job"
                             << job << "(trigger:" << trigger
                             << (commandId.isEmpty() ? u")"_s : u", command %1)"_s.arg(commandId));
    executor->start();
    return runId;
}

Result RunManager::cancel(const QString &runId, const QString &reason)
{
    auto it = m_runs.find(runId);
    if (it == m_runs.end() || !it->second->executor)
        return unexpected(ErrorCode::NotFound, u"no run with id %1 is going on this agent"_s.arg(runId));
    qCInfo(lcRuns).noquote() << u"cancelling run %1 of job %2: %3"_s.arg(runId, it->second->job, reason);
    it->second->executor->cancel(reason);
    return {};
}

void RunManager::cancelAll(const QString &reason)
{
    const QStringList ids = runningRuns();
    for (const QString &id : ids)
        (void)cancel(id, reason);
}

void RunManager::emitEvent(QLatin1StringView type, const QJsonObject &body)
{
    if (!m_config || !m_config->broker)
        return; // local-only: nobody to report to (the runs table keeps the record)
    Envelope e = Envelope::make(QString(type), m_config->node, body);
    if (auto added = m_outbox->add(e); !added)
        qCCritical(lcRuns).noquote() << "cannot write" << type << "to the outbox:" << added.error().toString();
}

void RunManager::onStarted(const QString &runId, const proto::RunStarted &startedIn)
{
    auto it = m_runs.find(runId);
    if (it == m_runs.end())
        return;
    Running &run = *it->second;
    run.started = true;
    proto::RunStarted s = startedIn;
    s.runId = runId; // we chose it; never trust a mismatch
    if (!s.startedAt.isValid())
        s.startedAt = m_clock->now();

    QSqlQuery q(m_store->database());
    q.prepare(u"INSERT OR REPLACE INTO runs(run_id, job, kind, repository, trigger, command_id, state, "
              "started_at, started_event) VALUES(?, ?, ?, ?, ?, ?, 'running', ?, ?)"_s);
    q.addBindValue(runId);
    q.addBindValue(run.job);
    q.addBindValue(proto::runKindName(run.kind));
    q.addBindValue(run.repositoryName);
    q.addBindValue(run.trigger);
    q.addBindValue(run.commandId.isEmpty() ? QVariant() : QVariant(run.commandId));
    q.addBindValue(formatTimestamp(s.startedAt));
    q.addBindValue(QString::fromUtf8(QJsonDocument(s.toJson()).toJson(QJsonDocument::Compact)));
    if (auto ok = StateStore::exec(q, u"recording run %1"_s.arg(runId)); !ok)
        qCCritical(lcRuns).noquote() << ok.error().toString();

    emitEvent(proto::type::RunStarted, s.toJson());
    Q_EMIT runStarted(s);
}

void RunManager::onProgress(const QString &runId, const proto::RunProgress &progress)
{
    proto::RunProgress p = progress;
    p.runId = runId;
    emitEvent(proto::type::RunProgress, p.toJson());
}

void RunManager::onFinished(const QString &runId, proto::RunFinished r)
{
    auto it = m_runs.find(runId);
    if (it == m_runs.end())
        return;
    std::unique_ptr<Running> run = std::move(it->second);
    m_runs.erase(it);
    if (run->maxRunTimer)
        run->maxRunTimer->stop();

    r.runId = runId;
    if (!r.finishedAt.isValid())
        r.finishedAt = m_clock->now();
    if (!run->forcedFailure.isEmpty()) {
        r.status = proto::worst(r.status, proto::Status::Failed);
        r.error = r.error.isEmpty() ? run->forcedFailure : run->forcedFailure + u": "_s + r.error;
    }
    if (!run->started) {
        // It never got as far as started (e.g. cancelled while waiting for the repository):
        // report a started event first so the orchestrator sees a complete run.
        proto::RunStarted s;
        s.runId = runId;
        s.job = r.job.isEmpty() ? run->job : r.job;
        s.kind = run->kind;
        s.repository = r.repository;
        s.trigger = run->trigger;
        s.commandId = run->commandId;
        s.startedAt = r.startedAt.isValid() ? r.startedAt : r.finishedAt;
        onStarted(runId, s);
    }

    QSqlQuery q(m_store->database());
    q.prepare(u"UPDATE runs SET state = 'finished', status = ?, finished_at = ?, failed_step = ?, error = ?, "
              "stats = ? WHERE run_id = ?"_s);
    q.addBindValue(proto::statusName(r.status));
    q.addBindValue(formatTimestamp(r.finishedAt));
    q.addBindValue(r.failedStep);
    q.addBindValue(r.error);
    q.addBindValue(r.stats ? QString::fromUtf8(QJsonDocument(r.stats->toJson()).toJson(QJsonDocument::Compact))
                           : QString());
    q.addBindValue(runId);
    if (auto ok = StateStore::exec(q, u"recording the end of run %1"_s.arg(runId)); !ok)
        qCCritical(lcRuns).noquote() << ok.error().toString();

    emitEvent(proto::type::RunFinished, r.toJson());
    if (r.status == proto::Status::Success || r.status == proto::Status::Warning)
        qCInfo(lcRuns).noquote() << proto::runKindName(run->kind) << "run" << runId << "of job" << run->job
                                 << "finished:" << proto::statusName(r.status);
    else
        qCWarning(lcRuns).noquote() << proto::runKindName(run->kind) << "run" << runId << "of job"
                                    << run->job << "finished:" << proto::statusName(r.status)
                                    << (r.failedStep.isEmpty() ? QString() : u"in step "_s + r.failedStep)
                                    << "—" << r.error;
    pruneHistory(run->job, run->kind);
    if (run->executor)
        run->executor->deleteLater();
    Q_EMIT runFinished(r, run->repositoryName);
    if (m_runs.empty())
        Q_EMIT idle();
}

void RunManager::pruneHistory(const QString &job, proto::RunKind kind)
{
    // Keep the newest kKeptRuns finished runs, and always the newest good one (last success
    // must survive restarts for the metrics).
    QSqlQuery q(m_store->database());
    q.prepare(u"DELETE FROM runs WHERE job = :job AND kind = :kind AND state = 'finished' AND run_id NOT IN ("
              " SELECT run_id FROM runs WHERE job = :job AND kind = :kind ORDER BY started_at DESC LIMIT :keep)"
              " AND run_id NOT IN (SELECT run_id FROM runs WHERE job = :job AND kind = :kind"
              " AND status IN ('success', 'warning') ORDER BY finished_at DESC LIMIT 1)"_s);
    q.bindValue(u":job"_s, job);
    q.bindValue(u":kind"_s, proto::runKindName(kind));
    q.bindValue(u":keep"_s, kKeptRuns);
    if (auto ok = StateStore::exec(q, u"pruning the run history of job %1"_s.arg(job)); !ok)
        qCWarning(lcRuns).noquote() << ok.error().toString();
}

Expected<QList<proto::RunFinished>> RunManager::recoverInterrupted()
{
    QSqlQuery q(m_store->database());
    q.prepare(u"SELECT run_id, job, kind, repository, trigger, command_id, started_at, started_event "
              "FROM runs WHERE state = 'running' ORDER BY started_at"_s);
    if (auto ok = StateStore::exec(q, u"looking for interrupted runs"_s); !ok)
        return ok.error();
    QList<proto::RunFinished> recovered;
    QList<QString> repositories;
    while (q.next()) {
        proto::RunFinished r;
        r.runId = q.value(0).toString();
        r.job = q.value(1).toString();
        r.kind = proto::runKindFromName(q.value(2).toString()).value_or(proto::RunKind::Backup);
        r.trigger = q.value(4).toString();
        r.commandId = q.value(5).toString();
        r.startedAt = parseTimestamp(q.value(6).toString()).value_or(QDateTime());
        const auto doc = QJsonDocument::fromJson(q.value(7).toString().toUtf8());
        if (auto s = proto::RunStarted::fromJson(doc.object()); s)
            r.repository = s->repository;
        r.status = proto::Status::Failed;
        r.finishedAt = m_clock->now();
        r.failedStep = u"agent"_s;
        r.error = u"agent stopped during the run: the sparky-agent process that ran it ended "
                  "without reporting a result (killed, crashed, or the machine went down). Borg may "
                  "have left a checkpoint archive and a stale lock (removed after lock_wait)."_s;
        recovered << r;
        repositories << q.value(3).toString();
    }
    q.finish();
    for (qsizetype i = 0; i < recovered.size(); ++i) {
        const proto::RunFinished &r = recovered.at(i);
        QSqlQuery u(m_store->database());
        u.prepare(u"UPDATE runs SET state = 'finished', status = ?, finished_at = ?, failed_step = ?, "
                  "error = ? WHERE run_id = ?"_s);
        u.addBindValue(proto::statusName(r.status));
        u.addBindValue(formatTimestamp(r.finishedAt));
        u.addBindValue(r.failedStep);
        u.addBindValue(r.error);
        u.addBindValue(r.runId);
        if (auto ok = StateStore::exec(u, u"finishing interrupted run %1"_s.arg(r.runId)); !ok)
            return ok.error();
        qCWarning(lcRuns).noquote() << proto::runKindName(r.kind) << "run" << r.runId << "of job" << r.job
                                    << "was interrupted by an agent stop; reported as failed";
        emitEvent(proto::type::RunFinished, r.toJson());
        Q_EMIT runFinished(r, repositories.at(i));
    }
    return recovered;
}

} // namespace sparky::agent
