#include "agentdaemon.h"

#include "agentcommands.h"
#include "agentjob.h"
#include "agentmetrics.h"
#include "clock.h"
#include "commandhandler.h"
#include "logcategories.h"
#include "outbox.h"
#include "outboxpublisher.h"
#include "repositorylocks.h"
#include "runmanager.h"
#include "scheduler.h"
#include "statestore.h"

#include "sparky/amqpclient.h"
#include "sparky/signing.h"

#include <QCoreApplication>
#include <QLockFile>

#include <unistd.h>

namespace sparky::agent {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;
using CmdState = proto::CommandUpdate::State;

namespace {

QString seconds(std::chrono::seconds s)
{
    return u"%1 s"_s.arg(s.count());
}

} // namespace

AgentDaemon::AgentDaemon(DaemonOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
{
    if (m_options.clock) {
        m_clock = m_options.clock;
    } else {
        m_ownClock = std::make_unique<SystemClock>();
        m_clock = m_ownClock.get();
    }
    connect(&m_heartbeat, &QTimer::timeout, this, &AgentDaemon::sendHeartbeat);
    m_shutdownTimer.setSingleShot(true);
}

AgentDaemon::~AgentDaemon()
{
    // Destroyed without a shutdown(): no new events; what is in the outbox stays for the next start.
    if (m_runs)
        m_runs->disconnect(this);
    if (m_publisher)
        m_publisher->setClient(nullptr);
    if (m_broker)
        m_broker->stop();
    m_broker.reset();
    m_scheduler.reset();
    m_runs.reset(); // executors (children) go with it; their runs stay "running" → recovered at next start
    if (m_state && m_started)
        (void)m_state->setFact(u"daemon_state"_s, u"stopped"_s);
}

QString AgentDaemon::brokerFingerprint(const AgentConfig &c)
{
    if (!c.broker)
        return {};
    const BrokerSettings &b = *c.broker;
    QStringList parts;
    for (const BrokerEndpoint &e : b.endpoints)
        parts << e.toString();
    parts << b.vhost << b.user << b.tokenFile << b.caFile << b.certFile << b.keyFile
          << QString::number(b.verifyPeer) << QString::number(b.verifyHostname)
          << QString::number(b.heartbeat.count()) << b.connectionName;
    return parts.join(u'\x1f');
}

Result AgentDaemon::start()
{
    if (m_started)
        return {};
    auto loaded = loadAgentConfig(m_options.configPath, m_options.confDir);
    if (!loaded)
        return loaded.error();
    m_config = std::make_shared<const AgentConfig>(std::move(*loaded));
    const AgentConfig &cfg = *m_config;

    auto state = StateStore::open(cfg.stateDir);
    if (!state)
        return state.error();
    m_state = std::move(*state);

    // One daemon per state directory: two would run every backup twice.
    m_lock = std::make_unique<QLockFile>(m_state->stateDir() + u"/daemon.lock"_s);
    m_lock->setStaleLockTime(0); // only a dead holder's lock is stale
    if (!m_lock->tryLock(0)) {
        qint64 pid = 0;
        QString host, app;
        m_lock->getLockInfo(&pid, &host, &app);
        const QString why = m_lock->error() == QLockFile::LockFailedError
                                ? u"another sparky-agent daemon (pid %1) already uses the state directory %2"_s.arg(pid).arg(m_state->stateDir())
                                : u"cannot create the lock file in %1"_s.arg(m_state->stateDir());
        m_lock.reset();
        m_state.reset();
        return unexpected(ErrorCode::Conflict, why);
    }

    m_commands = std::make_unique<CommandHandler>(m_state.get());
    if (auto ok = m_commands->setConfig(cfg); !ok)
        return ok.error();

    m_outbox = std::make_unique<Outbox>(m_state.get(), cfg.outboxMaxMessages);
    if (auto ok = m_outbox->open(); !ok)
        return ok.error();
    m_publisher = std::make_unique<OutboxPublisher>(m_outbox.get(), cfg.node);

    m_scheduler = std::make_unique<Scheduler>(m_state.get(), m_clock);
    if (auto ok = m_scheduler->setConfig(cfg); !ok)
        return ok.error();

    m_metrics = std::make_unique<AgentMetrics>();
    if (auto ok = m_metrics->configure(cfg); !ok)
        // Metrics matter less than backups: log loudly and go on without the exposer.
        qCCritical(lcMetrics).noquote() << ok.error().toString() << "— running without the metrics exposer";
    m_metrics->restore(m_state.get(), cfg);
    m_metrics->setOutboxSize(m_outbox->size(), m_outbox->maxMessages());
    connect(m_outbox.get(), &Outbox::sizeChanged, this, [this](qint64 size) {
        m_metrics->setOutboxSize(size, m_outbox->maxMessages());
    });
    connect(m_outbox.get(), &Outbox::dropped, this, [this](const QString &type, qint64 n) {
        m_metrics->addOutboxDropped(type, n);
    });

    m_locks = std::make_unique<RepositoryLocks>();
    m_runs = std::make_unique<RunManager>(m_state.get(), m_outbox.get(), m_locks.get(), m_clock);
    m_runs->setConfig(m_config);
    connect(m_runs.get(), &RunManager::runStarted, this,
            [this] { m_metrics->setRunningRuns(m_runs->runningCount()); });
    connect(m_runs.get(), &RunManager::runFinished, this, &AgentDaemon::onRunFinished);
    connect(m_runs.get(), &RunManager::idle, this, [this] {
        if (m_stopping && m_jobs.empty())
            finishShutdown();
    });
    connect(m_scheduler.get(), &Scheduler::due, this, &AgentDaemon::onDue);
    connect(m_scheduler.get(), &Scheduler::planChanged, this, &AgentDaemon::updateNextRunMetrics);

    m_startedAt = m_clock->now();
    m_uptime.start();
    m_started = true;
    (void)m_state->setFact(u"node"_s, cfg.node);
    (void)m_state->setFact(u"version"_s, QStringLiteral(SPARKY_VERSION));
    (void)m_state->setFact(u"daemon_pid"_s, QString::number(::getpid()));
    (void)m_state->setFact(u"daemon_state"_s, u"running"_s);
    (void)m_state->setFact(u"daemon_started_at"_s, formatTimestamp(m_startedAt));
    (void)m_state->setFact(u"config_digest"_s, QString::fromLatin1(cfg.digest));
    (void)m_state->setFact(u"config_files"_s, cfg.files.join(u", "_s));
    (void)m_state->setFact(u"config_rejected"_s, QString());
    recordBrokerState(cfg.broker ? u"connecting"_s : u"not configured"_s, {});

    // What a previous process left behind: interrupted runs and commands.
    if (auto recovered = m_runs->recoverInterrupted(); !recovered)
        qCCritical(lcDaemon).noquote() << recovered.error().toString();
    if (auto running = m_commands->running(); running) {
        for (const auto &[id, type] : std::as_const(*running)) {
            Envelope c;
            c.id = id;
            c.type = type;
            (void)m_commands->setState(id, CmdState::Failed, {}, u"agent stopped during the run"_s);
            reportCommand(c, CmdState::Failed,
                          u"agent stopped during the run the command started (see its run.finished)"_s);
        }
    }
    (void)m_commands->prune(m_clock->now());

    emitEvent(proto::type::AgentHello, hello().toJson());
    qCInfo(lcDaemon).noquote() << u"sparky-agent %1 node %2 started; %3 jobs, config %4 (digest %5), state %6"_s
                                      .arg(QStringLiteral(SPARKY_VERSION), cfg.node)
                                      .arg(cfg.jobs.size())
                                      .arg(cfg.files.join(u", "_s), QString::fromLatin1(cfg.digest.left(12)),
                                           m_state->path());

    if (cfg.broker)
        connectBroker();
    else
        qCInfo(lcDaemon) << "no broker configured: running local-only (schedules and metrics, no events)";

    m_heartbeat.start(std::chrono::milliseconds(cfg.heartbeatInterval));
    m_scheduler->start();

    // Commands recorded but never acted on (the agent stopped between recording and acting).
    if (auto pending = m_commands->receivedButNotStarted(); pending) {
        for (const Envelope &c : std::as_const(*pending)) {
            if (c.expires && *c.expires <= m_clock->now()) {
                (void)m_commands->setState(c.id, CmdState::Expired, {}, u"expired while the agent was down"_s);
                reportCommand(c, CmdState::Expired, u"command %1 expired before the agent could act on it"_s.arg(c.id));
                continue;
            }
            qCInfo(lcCommands).noquote() << u"acting on command %1 (%2), received before the agent stopped"_s.arg(c.id, c.type);
            execute(c);
        }
    }
    return {};
}

proto::AgentHello AgentDaemon::hello() const
{
    proto::AgentHello h;
    h.version = QStringLiteral(SPARKY_VERSION);
    h.configDigest = QString::fromLatin1(m_config->digest);
    h.hostname = m_config->hostname;
    h.startedAt = m_startedAt;
    for (const JobConfig &j : m_config->jobs) {
        proto::JobInfo info;
        info.name = j.name;
        const RepositoryConfig *repo = m_config->repository(j.repository);
        info.repository = repo ? repo->displayUrl() : j.repository; // never a password
        info.schedule = j.schedule;
        info.rpoSeconds = j.rpo ? j.rpo->count() : 0;
        h.jobs.append(info);
    }
    return h;
}

void AgentDaemon::emitEvent(QLatin1StringView type, const QJsonObject &body)
{
    if (!m_config->broker)
        return; // local-only: nobody to report to; the state database and metrics keep the record
    Envelope e = Envelope::make(QString(type), m_config->node, body);
    e.ts = m_clock->now();
    if (auto added = m_outbox->add(e); !added)
        qCCritical(lcOutbox).noquote() << "cannot write" << type << "to the outbox:" << added.error().toString();
}

void AgentDaemon::sendHeartbeat()
{
    proto::AgentHeartbeat h;
    h.version = QStringLiteral(SPARKY_VERSION);
    h.configDigest = QString::fromLatin1(m_config->digest);
    h.outboxMessages = m_outbox->size();
    h.runningRuns = m_runs->runningRuns();
    h.uptimeSeconds = m_uptime.elapsed() / 1000;
    emitEvent(proto::type::AgentHeartbeat, h.toJson());
    (void)m_state->setFact(u"heartbeat_at"_s, formatTimestamp(m_clock->now()));
    (void)m_commands->prune(m_clock->now());
}

void AgentDaemon::recordBrokerState(const QString &state, const QString &detail)
{
    (void)m_state->setFact(u"broker_state"_s, state);
    (void)m_state->setFact(u"broker_detail"_s, detail);
    (void)m_state->setFact(u"broker_since"_s, formatTimestamp(QDateTime::currentDateTimeUtc()));
}

void AgentDaemon::connectBroker()
{
    const AgentConfig &cfg = *m_config;
    m_broker = std::make_unique<AmqpClient>(*cfg.broker);
    AmqpClient *client = m_broker.get();
    connect(client, &AmqpClient::connected, this, [this](const QString &endpoint) {
        qCInfo(lcDaemon).noquote() << "connected to the broker at" << endpoint;
        m_brokerUp = true;
        m_brokerTrouble.clear();
        recordBrokerState(u"connected"_s, endpoint);
        m_metrics->setBrokerConnected(true);
    });
    // Reconnect attempts fail again and again while the broker is away: log the change, not
    // every attempt.
    auto trouble = [this](const Error &e, bool permanent) {
        const bool wasUp = std::exchange(m_brokerUp, false);
        const QString text = e.toString();
        if (wasUp)
            qCWarning(lcDaemon).noquote() << "lost the broker:" << text << "— backups go on; events wait in the outbox";
        else if (permanent)
            qCCritical(lcDaemon).noquote() << "the broker refused this agent:" << text
                                           << "— check broker.* in the config; backups go on";
        else if (m_brokerTrouble != text)
            qCWarning(lcDaemon).noquote() << "cannot reach the broker:" << text
                                          << "— retrying; backups go on, events wait in the outbox";
        if (m_brokerTrouble != text || wasUp)
            recordBrokerState(permanent ? u"failed"_s : u"disconnected"_s, text);
        m_brokerTrouble = text;
        m_metrics->setBrokerConnected(false);
    };
    connect(client, &AmqpClient::disconnected, this, [trouble](const Error &e) { trouble(e, false); });
    connect(client, &AmqpClient::failed, this, [trouble](const Error &e) { trouble(e, true); });
    connect(client, &AmqpClient::consumerError, this, [](const QString &queue, const Error &e) {
        qCWarning(lcCommands).noquote() << u"cannot consume commands from %1: %2"_s.arg(queue, e.toString());
    });
    connect(client, &AmqpClient::delivered, this, &AgentDaemon::onDelivery);
    ConsumerOptions consumer;
    consumer.queue = proto::agentQueue(cfg.node);
    consumer.prefetch = 4; // few commands at a time: each is acked at once anyway
    client->consume(consumer);
    m_publisher->setClient(client);
    client->start();
}

void AgentDaemon::disconnectBroker()
{
    if (!m_broker)
        return;
    m_publisher->setClient(nullptr);
    m_broker->disconnect(this);
    m_broker->stop();
    m_broker.reset();
    m_brokerUp = false;
    m_brokerTrouble.clear();
    m_metrics->setBrokerConnected(false);
}

void AgentDaemon::onDelivery(const Delivery &d)
{
    if (m_stopping || !m_broker)
        return; // left unacknowledged: the broker requeues it when the connection closes
    const CommandVerdict v = m_commands->inspect(d.body, m_clock->now());
    const QString id = v.command ? v.command->id : d.properties.messageId;
    QString type = v.command ? v.command->type : u"unknown"_s;
    const QString typeLabel = CommandHandler::implementedTypes().contains(type) ? type : u"other"_s;
    switch (v.action) {
    case CommandVerdict::Action::DeadLetter:
        m_broker->reject(d, false);
        qCWarning(lcCommands).noquote() << "refused a command delivery (dead-lettered to the orchestrator):"
                                        << v.reason;
        m_metrics->countCommand(typeLabel, v.refusal);
        break;
    case CommandVerdict::Action::Drop:
        m_broker->ack(d);
        if (v.refusal == u"duplicate"_s)
            qCInfo(lcCommands).noquote() << v.reason;
        else
            qCWarning(lcCommands).noquote() << u"refused command %1 (%2): %3"_s.arg(id, type, v.reason);
        if (v.report)
            emitEvent(proto::type::CommandUpdate, v.report->toJson());
        m_metrics->countCommand(typeLabel, v.refusal);
        break;
    case CommandVerdict::Action::Execute:
        m_broker->ack(d); // at once: never after a long borg run
        m_metrics->countCommand(typeLabel, u"accepted"_s);
        qCInfo(lcCommands).noquote() << u"command %1 (%2) accepted"_s.arg(id, type);
        execute(*v.command);
        break;
    }
    Q_EMIT commandHandled(id, type, v.action == CommandVerdict::Action::Execute ? u"executed"_s : v.refusal,
                          v.reason);
}

void AgentDaemon::reportCommand(const Envelope &command, CmdState state, const QString &error,
                                const QString &runId, const QJsonObject &result)
{
    proto::CommandUpdate u;
    u.commandId = command.id;
    u.commandType = command.type;
    u.state = state;
    u.error = error;
    u.runId = runId;
    u.result = result;
    emitEvent(proto::type::CommandUpdate, u.toJson());
}

void AgentDaemon::execute(const Envelope &c)
{
    if (c.type == proto::type::BackupRun) {
        const QString job = c.body.value(u"job"_s).toString();
        auto run = m_runs->start(proto::RunKind::Backup, job, u"command"_s, c.id);
        if (!run) {
            (void)m_commands->setState(c.id, CmdState::Rejected, {}, run.error().message);
            qCWarning(lcCommands).noquote() << "command" << c.id << "(backup.run" << job << ") rejected:"
                                            << run.error().message;
            reportCommand(c, CmdState::Rejected, run.error().message);
            return;
        }
        m_commandOfRun.insert(*run, c);
        (void)m_commands->setState(c.id, CmdState::Running, *run);
        reportCommand(c, CmdState::Running, {}, *run);
    } else if (c.type == proto::type::BackupCancel) {
        const QString runId = c.body.value(u"run_id"_s).toString();
        auto ok = m_runs->cancel(runId, u"cancelled by command %1"_s.arg(c.id));
        if (!ok) {
            (void)m_commands->setState(c.id, CmdState::Failed, {}, ok.error().message);
            reportCommand(c, CmdState::Failed, ok.error().message, runId);
            return;
        }
        (void)m_commands->setState(c.id, CmdState::Succeeded, runId);
        reportCommand(c, CmdState::Succeeded, {}, runId, {{u"run_id"_s, runId}});
    } else if (c.type == proto::type::AgentPing) {
        (void)m_commands->setState(c.id, CmdState::Succeeded);
        reportCommand(c, CmdState::Succeeded, {}, {},
                      {{u"version"_s, QStringLiteral(SPARKY_VERSION)},
                       {u"config_digest"_s, QString::fromLatin1(m_config->digest)},
                       {u"time"_s, formatTimestamp(m_clock->now())}});
    } else if (AgentCommands::isRunCommand(c.type)) {
        // restore.extract, drill.run: a run like a backup's, reported by its own events.
        auto request = AgentCommands::runRequest(*m_config, c.type, c.body, c.id, u"command"_s);
        auto run = request ? m_runs->start(std::move(*request)) : Expected<QString>(request.error());
        if (!run) {
            (void)m_commands->setState(c.id, CmdState::Rejected, {}, run.error().message);
            qCWarning(lcCommands).noquote() << u"command %1 (%2) rejected: %3"_s.arg(c.id, c.type, run.error().message);
            reportCommand(c, CmdState::Rejected, run.error().message);
            return;
        }
        m_commandOfRun.insert(*run, c);
        (void)m_commands->setState(c.id, CmdState::Running, *run);
        reportCommand(c, CmdState::Running, {}, *run);
    } else if (AgentCommands::isJobCommand(c.type)) {
        // archives.list, archive.browse, key.authorize, key.revoke: answered with a result.
        auto created = AgentCommands::createJob(*m_config, c.type, c.body);
        if (!created) {
            (void)m_commands->setState(c.id, CmdState::Rejected, {}, created.error().message);
            qCWarning(lcCommands).noquote() << u"command %1 (%2) rejected: %3"_s.arg(c.id, c.type, created.error().message);
            reportCommand(c, CmdState::Rejected, created.error().message);
            return;
        }
        AgentJob *job = created->get();
        m_jobs.emplace(c.id, std::move(*created));
        connect(job, &AgentJob::finished, this, [this, c](AgentJob *j) { onJobFinished(c, j); });
        (void)m_commands->setState(c.id, CmdState::Running);
        reportCommand(c, CmdState::Running);
        job->start();
    } else {
        // CommandHandler::validate refuses these; kept for safety.
        const QString why = u"command type '%1' is not implemented"_s.arg(c.type);
        (void)m_commands->setState(c.id, CmdState::Rejected, {}, why);
        reportCommand(c, CmdState::Rejected, why);
    }
}

void AgentDaemon::onJobFinished(const Envelope &c, AgentJob *job)
{
    const auto it = m_jobs.find(c.id);
    if (it == m_jobs.end() || it->second.get() != job)
        return;
    if (job->hasError()) {
        const QString error = job->error().message;
        qCWarning(lcCommands).noquote() << u"command %1 (%2) failed: %3"_s.arg(c.id, c.type, error);
        (void)m_commands->setState(c.id, CmdState::Failed, {}, error);
        reportCommand(c, CmdState::Failed, error);
    } else {
        qCInfo(lcCommands).noquote() << u"command %1 (%2) done"_s.arg(c.id, c.type);
        (void)m_commands->setState(c.id, CmdState::Succeeded);
        reportCommand(c, CmdState::Succeeded, {}, {}, job->result());
    }
    // Not from inside the job's own signal: it goes once the event loop is back.
    it->second.release()->deleteLater();
    m_jobs.erase(it);
    if (m_stopping && m_jobs.empty() && m_runs->runningCount() == 0)
        finishShutdown();
}

void AgentDaemon::onRunFinished(const proto::RunFinished &r, const QString &repository)
{
    m_metrics->recordRun(r, repository);
    m_metrics->setRunningRuns(m_runs->runningCount());
    const auto it = m_commandOfRun.constFind(r.runId);
    if (it == m_commandOfRun.cend())
        return;
    const Envelope c = *it;
    m_commandOfRun.erase(it);
    const bool good = r.status == proto::Status::Success || r.status == proto::Status::Warning;
    const CmdState state = good ? CmdState::Succeeded : CmdState::Failed;
    const QString error = good ? QString() : (r.error.isEmpty() ? u"run %1"_s.arg(proto::statusName(r.status)) : r.error);
    (void)m_commands->setState(c.id, state, r.runId, error);
    reportCommand(c, state, error, r.runId, {{u"status"_s, proto::statusName(r.status)}});
}

void AgentDaemon::onDue(const QString &job, proto::RunKind kind, const QString &trigger, const QDateTime &slot)
{
    if (m_stopping)
        return;
    auto run = m_runs->start(kind, job, trigger);
    if (!run) {
        if (run.error().code == ErrorCode::Conflict)
            qCWarning(lcScheduler).noquote() << "skipping the" << proto::runKindName(kind) << "of job" << job
                                             << "due at" << formatTimestamp(slot) + u": "_s + run.error().message;
        else
            qCCritical(lcScheduler).noquote() << "cannot start the" << proto::runKindName(kind) << "of job"
                                              << job << "due at" << formatTimestamp(slot) << ":"
                                              << run.error().toString();
    }
}

void AgentDaemon::updateNextRunMetrics()
{
    for (const Scheduler::Entry &e : m_scheduler->entries())
        m_metrics->setNextRun(e.job, e.kind, e.next);
}

void AgentDaemon::reload()
{
    if (!m_started || m_stopping)
        return;
    qCInfo(lcDaemon).noquote() << "reloading the configuration from" << m_options.configPath;
    auto reject = [this](const QString &why) {
        qCCritical(lcDaemon).noquote() << "configuration reload REJECTED; keeping the running configuration"
                                       << u"(digest %1): %2"_s.arg(QString::fromLatin1(m_config->digest.left(12)), why);
        (void)m_state->setFact(u"config_rejected"_s, why);
        (void)m_state->setFact(u"config_rejected_at"_s, formatTimestamp(m_clock->now()));
        emitEvent(proto::type::ConfigRejected, {{u"error"_s, why.left(16000)}});
        Q_EMIT reloaded(false, why);
    };
    auto loaded = loadAgentConfig(m_options.configPath, m_options.confDir);
    if (!loaded)
        return reject(loaded.error().message);
    AgentConfig cfg = std::move(*loaded);
    if (cfg.node != m_config->node)
        return reject(u"node cannot change from '%1' to '%2' on reload: restart the agent"_s.arg(
            m_config->node, cfg.node));
    if (cfg.stateDir != m_config->stateDir)
        return reject(u"state_dir cannot change from %1 to %2 on reload: restart the agent"_s.arg(
            m_config->stateDir, cfg.stateDir));
    if (cfg.digest == m_config->digest) {
        qCInfo(lcDaemon) << "configuration unchanged";
        Q_EMIT reloaded(true, u"unchanged"_s);
        return;
    }
    if (!cfg.commands.orchestratorKey.isEmpty())
        if (auto key = VerifyKey::fromBase64(cfg.commands.orchestratorKey); !key)
            return reject(u"commands.orchestrator_key: "_s + key.error().message);
    if (auto ok = m_scheduler->setConfig(cfg); !ok)
        return reject(ok.error().message);

    const bool brokerChanged = brokerFingerprint(cfg) != brokerFingerprint(*m_config);
    m_config = std::make_shared<const AgentConfig>(std::move(cfg));
    const AgentConfig &c = *m_config;
    (void)m_commands->setConfig(c);
    m_runs->setConfig(m_config);
    m_outbox->setMaxMessages(c.outboxMaxMessages);
    if (auto ok = m_metrics->configure(c); !ok)
        qCCritical(lcMetrics).noquote() << ok.error().toString();
    updateNextRunMetrics();
    m_heartbeat.start(std::chrono::milliseconds(c.heartbeatInterval));
    if (brokerChanged) {
        qCInfo(lcDaemon) << "broker settings changed: reconnecting";
        disconnectBroker();
        if (c.broker)
            connectBroker();
        else
            recordBrokerState(u"not configured"_s, {});
    }
    (void)m_state->setFact(u"config_digest"_s, QString::fromLatin1(c.digest));
    (void)m_state->setFact(u"config_files"_s, c.files.join(u", "_s));
    (void)m_state->setFact(u"config_applied_at"_s, formatTimestamp(m_clock->now()));
    (void)m_state->setFact(u"config_rejected"_s, QString());
    emitEvent(proto::type::ConfigApplied, hello().toJson());
    const QString message = u"configuration reloaded: digest %1, %2 jobs"_s.arg(
        QString::fromLatin1(c.digest.left(12))).arg(c.jobs.size());
    qCInfo(lcDaemon).noquote() << message;
    Q_EMIT reloaded(true, message);
}

void AgentDaemon::shutdown(const QString &reason)
{
    ++m_terminateRequests;
    if (!m_started) {
        QTimer::singleShot(0, this, [this] { Q_EMIT stopped(0); });
        return;
    }
    if (m_stopping) {
        if (!m_cancelled && m_runs->runningCount() > 0) {
            qCWarning(lcDaemon) << "asked to stop again: cancelling running runs now";
            m_cancelled = true;
            m_runs->cancelAll(u"interrupted: the agent was asked to stop twice (%1)"_s.arg(reason));
            m_shutdownTimer.start(std::chrono::milliseconds(m_options.cancelTimeout));
        }
        return;
    }
    m_stopping = true;
    qCInfo(lcDaemon).noquote() << "shutting down:" << reason;
    m_scheduler->stop();
    m_heartbeat.stop();
    (void)m_state->setFact(u"daemon_state"_s, u"stopping"_s);
    // Listings and key edits are short and nobody waits for them past a stop: cancel them now;
    // each reports its command failed with the reason (onJobFinished).
    for (const auto &[id, job] : m_jobs)
        job->cancel(u"the agent is stopping (%1)"_s.arg(reason));

    if (m_runs->runningCount() == 0 && m_jobs.empty()) {
        finishShutdown();
        return;
    }
    qCInfo(lcDaemon).noquote() << "waiting up to" << seconds(m_options.shutdownGrace) << "for"
                               << m_runs->runningCount() << "running run(s) to finish ("
                               << m_runs->runningRuns().join(u", "_s) << "); then they are cancelled";
    connect(&m_shutdownTimer, &QTimer::timeout, this, [this, reason] {
        if (!m_cancelled && m_runs->runningCount() > 0) {
            m_cancelled = true;
            const QString why = u"interrupted: the agent is stopping (%1) and the run did not finish within "
                                "the shutdown grace period of %2"_s.arg(reason, seconds(m_options.shutdownGrace));
            qCWarning(lcDaemon).noquote() << why << "— cancelling" << m_runs->runningRuns().join(u", "_s);
            m_runs->cancelAll(why);
            m_shutdownTimer.start(std::chrono::milliseconds(m_options.cancelTimeout));
            return;
        }
        qCCritical(lcDaemon).noquote()
            << "runs" << m_runs->runningRuns().join(u", "_s) << "did not end after being cancelled; stopping"
            << "anyway (the next start reports them as interrupted)";
        finishShutdown();
    });
    m_shutdownTimer.start(std::chrono::milliseconds(m_options.shutdownGrace));
}

void AgentDaemon::finishShutdown()
{
    if (m_flushing)
        return;
    m_flushing = true;
    m_shutdownTimer.stop();
    m_shutdownTimer.disconnect(this);
    if (m_broker && m_broker->isConnected() && !m_publisher->isDrained()) {
        qCInfo(lcDaemon) << "flushing" << m_outbox->size() << "events to the broker (up to"
                         << m_options.flushTimeout.count() << "ms)";
        connect(m_publisher.get(), &OutboxPublisher::drained, this, &AgentDaemon::continueShutdown);
        connect(&m_shutdownTimer, &QTimer::timeout, this, &AgentDaemon::continueShutdown);
        m_shutdownTimer.start(m_options.flushTimeout);
        return;
    }
    continueShutdown();
}

void AgentDaemon::continueShutdown()
{
    if (!m_started)
        return;
    m_shutdownTimer.stop();
    m_publisher->disconnect(this);
    disconnectBroker();
    if (m_outbox->size() > 0)
        qCInfo(lcDaemon) << m_outbox->size() << "events stay in the outbox for the next start";
    (void)m_state->setFact(u"daemon_state"_s, u"stopped"_s);
    (void)m_state->setFact(u"daemon_stopped_at"_s, formatTimestamp(QDateTime::currentDateTimeUtc()));
    recordBrokerState(u"disconnected"_s, u"agent stopped"_s);
    if (auto ok = m_metrics->writeTextfile(); !ok)
        qCWarning(lcMetrics).noquote() << ok.error().toString();
    m_started = false;
    m_lock.reset();
    qCInfo(lcDaemon) << "stopped";
    Q_EMIT stopped(0);
}

} // namespace sparky::agent
