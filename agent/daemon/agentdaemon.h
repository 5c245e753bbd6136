#pragma once

// `sparky-agent daemon`: everything the agent does while it runs, wired together.
//
//   config ──► Scheduler ──due──► RunManager ──events──► Outbox ──► OutboxPublisher ──► broker
//   broker ──► CommandHandler (verdict, ack at once) ──► RunManager / ping / cancel
//   RunManager, Outbox, AmqpClient ──► AgentMetrics (exposer, textfile, push)
//
// Start-up: load and validate the config (an invalid one is fatal, file:line), open the
// state database, report runs a killed agent left "running" as failed, restore metrics,
// queue agent.hello, connect to the broker (if configured: its absence or an outage never
// stops backups), catch up missed runs, then follow the schedule. Without a `broker:`
// section the agent is local-only and writes no events (nobody would read them).
//
// reload() (SIGHUP): loads the config again; an invalid one is rejected with the reason in
// the log and a config.rejected event, and the running config is kept. node and state_dir
// cannot change without a restart. Runs already going finish with the config they had.
//
// shutdown() (SIGTERM): stops the schedule and command intake (deliveries after that are
// left unacknowledged; the broker requeues them when the connection closes), gives running
// runs `shutdownGrace` to finish, then cancels them (borg's process group is killed) and
// reports them cancelled with the reason; flushes the outbox for up to `flushTimeout` while
// connected, closes the broker connection and emits stopped(0). A second shutdown() cancels
// running runs at once.
//
// Threading: the main thread; owns everything it creates.

#include "agentconfig.h"

#include "sparky/envelope.h"
#include "sparky/error.h"
#include "sparky/protocol.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QTimer>

#include <chrono>
#include <map>
#include <memory>

class QLockFile;

namespace sparky {
class AmqpClient;
struct Delivery;
} // namespace sparky

namespace sparky::agent {

class AgentJob;
class AgentMetrics;
class Clock;
class CommandHandler;
class Outbox;
class OutboxPublisher;
class RepositoryLocks;
class RunManager;
class Scheduler;
class StateStore;

struct DaemonOptions
{
    QString configPath = QStringLiteral("/etc/sparky/agent.yaml");
    QString confDir;                              // default: <dir of configPath>/conf.d
    std::chrono::seconds shutdownGrace{60};       // running runs may finish within this
    std::chrono::milliseconds flushTimeout{5000};  // waiting for confirms at shutdown
    std::chrono::seconds cancelTimeout{30};       // after cancel, how long to wait for runs to end
    Clock *clock = nullptr;                       // not owned; a SystemClock when null (tests inject)
};

class AgentDaemon final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AgentDaemon)

public:
    explicit AgentDaemon(DaemonOptions options, QObject *parent = nullptr);
    ~AgentDaemon() override;

    // Loads the config and starts every service. An error is fatal at start-up.
    Result start();
    void reload();
    void shutdown(const QString &reason);

    bool isRunning() const { return m_started && !m_stopping; }
    std::shared_ptr<const AgentConfig> config() const { return m_config; }

    // The parts, for tests and the CLI. Valid after a successful start().
    StateStore *state() const { return m_state.get(); }
    Outbox *outbox() const { return m_outbox.get(); }
    OutboxPublisher *publisher() const { return m_publisher.get(); }
    RunManager *runs() const { return m_runs.get(); }
    Scheduler *scheduler() const { return m_scheduler.get(); }
    AgentMetrics *metrics() const { return m_metrics.get(); }
    AmqpClient *broker() const { return m_broker.get(); }
    const Clock *clock() const { return m_clock; }

Q_SIGNALS:
    void stopped(int exitCode);
    void reloaded(bool applied, const QString &message);
    // A command delivery was dealt with: outcome is "executed" or the refusal word.
    void commandHandled(const QString &commandId, const QString &type, const QString &outcome,
                        const QString &reason);

private:
    void emitEvent(QLatin1StringView type, const QJsonObject &body);
    protocol::AgentHello hello() const;
    void sendHeartbeat();
    void connectBroker();
    void disconnectBroker();
    void onDelivery(const Delivery &delivery);
    void execute(const Envelope &command);
    void reportCommand(const Envelope &command, protocol::CommandUpdate::State state,
                       const QString &error = {}, const QString &runId = {},
                       const QJsonObject &result = {});
    void onRunFinished(const protocol::RunFinished &result, const QString &repository);
    void onJobFinished(const Envelope &command, AgentJob *job);
    void onDue(const QString &job, protocol::RunKind kind, const QString &trigger, const QDateTime &slot);
    void recordBrokerState(const QString &state, const QString &detail);
    void updateNextRunMetrics();
    void finishShutdown();
    void continueShutdown();
    static QString brokerFingerprint(const AgentConfig &config);

    DaemonOptions m_options;
    std::unique_ptr<Clock> m_ownClock;
    Clock *m_clock = nullptr;
    std::shared_ptr<const AgentConfig> m_config;
    std::unique_ptr<StateStore> m_state;
    std::unique_ptr<QLockFile> m_lock; // <state_dir>/daemon.lock while running
    std::unique_ptr<Outbox> m_outbox;
    std::unique_ptr<OutboxPublisher> m_publisher;
    std::unique_ptr<AgentMetrics> m_metrics;
    std::unique_ptr<RepositoryLocks> m_locks;
    std::unique_ptr<RunManager> m_runs;
    std::unique_ptr<Scheduler> m_scheduler;
    std::unique_ptr<CommandHandler> m_commands;
    std::unique_ptr<AmqpClient> m_broker;
    QHash<QString, Envelope> m_commandOfRun; // run id → the command that started it
    std::map<QString, std::unique_ptr<AgentJob>> m_jobs; // command id → its job, while it runs
    QTimer m_heartbeat;
    QTimer m_shutdownTimer;
    QDateTime m_startedAt;
    QElapsedTimer m_uptime;
    bool m_brokerUp = false;
    QString m_brokerTrouble; // the last connection error logged
    bool m_started = false;
    bool m_stopping = false;
    bool m_cancelled = false;
    bool m_flushing = false;
    int m_terminateRequests = 0;
};

} // namespace sparky::agent
