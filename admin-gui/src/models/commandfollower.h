#pragma once

// Starts a command that makes a run (backup.start, restore.start, drill.start) and follows
// it to its end: polls command.get (the command's state and, once the agent started it,
// its run with the last run.progress, and its details once it reported them: where a
// restore went, what a drill checked) until the run is final or the command failed,
// was rejected or expired. Progress: bytes and files so far; a percentage when the size to
// expect is known (the job's last good backup).
//
// cancel() sends backup.cancel for the run once the agent has started it.
//
// Threading: GUI thread.

#include "rpcinvoker.h"

#include <QJsonObject>
#include <QPointer>
#include <QTimer>

namespace sparky::admin {

class CommandFollower final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CommandFollower)

public:
    enum class Phase {
        Idle,
        Starting, // the start call is in flight
        Queued, // the command waits for the agent
        Running, // the agent runs it
        Finished, // the run ended (see runStatus())
        Failed, // refused, expired, failed, or the start call failed
    };
    Q_ENUM(Phase)

    explicit CommandFollower(RpcInvoker *invoker, QObject *parent = nullptr);
    ~CommandFollower() override;

    // method: backup.start | restore.start | drill.start (params as docs/protocol.md).
    void start(const QString &method, const QJsonObject &params);
    // Follows a command issued elsewhere.
    void follow(const QString &node, const QString &commandId);
    void cancel();
    void reset();

    void setPollInterval(std::chrono::milliseconds interval) { m_interval = interval; }
    // The original size the run should reach (a percentage needs it); 0 = unknown.
    void setExpectedBytes(qint64 bytes) { m_expectedBytes = bytes; }

    Phase phase() const { return m_phase; }
    bool isActive() const;
    QString commandId() const { return m_commandId; }
    QString commandState() const { return m_command.value(QStringLiteral("state")).toString(); }
    QString runId() const { return m_runId; }
    QJsonObject run() const { return m_run; } // command.get's run: summary, progress, details
    QJsonObject progress() const { return m_run.value(QStringLiteral("progress")).toObject(); }
    QString runStatus() const { return m_run.value(QStringLiteral("status")).toString(); }
    int percent() const; // -1: unknown
    qint64 bytesDone() const;
    QString statusText() const { return m_text; }
    QString warning() const { return m_warning; } // e.g. the node is offline
    bool cancelRequested() const { return m_cancelRequested; }

Q_SIGNALS:
    void changed();
    void finished(bool ok, const QString &text);
    void errorOccurred(const QString &message);

private:
    void poll();
    void onCommand(const QJsonObject &command);
    void setPhase(Phase phase, const QString &text);
    void finish(bool ok, const QString &text);
    void lookUpExpectedBytes(const QString &node, const QString &job);

    QPointer<RpcInvoker> m_invoker;
    QTimer m_timer;
    std::chrono::milliseconds m_interval { 1000 };
    Phase m_phase = Phase::Idle;
    QString m_method;
    QString m_node;
    QString m_commandId;
    QString m_runId;
    QJsonObject m_command;
    QJsonObject m_run;
    QString m_text;
    QString m_warning;
    qint64 m_expectedBytes = 0;
    quint64 m_generation = 0;
    bool m_cancelRequested = false;
};

} // namespace sparky::admin
