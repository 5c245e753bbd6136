#pragma once

// An asynchronous piece of command work that answers with a result object rather than a
// run (archives.list, archive.browse, key.authorize, key.revoke) — the KJob shape: start(),
// then exactly one finished() (always from the event loop, never inside start()), then
// error() or result(). cancel() stops any borg it runs and finishes with
// ErrorCode::Cancelled. Lives on the thread that created it; the creator owns it and may
// delete it once finished() arrived (deleteLater() from the slot).

#include "sparky/error.h"

#include <QJsonObject>
#include <QObject>
#include <optional>

namespace sparky::agent {

class AgentJob : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AgentJob)

public:
    ~AgentJob() override;

    void start();
    void cancel(const QString &reason);

    QString type() const { return m_type; } // the command type, e.g. "archives.list"
    bool isFinished() const { return m_finished; }
    bool hasError() const { return m_error.has_value(); }
    Error error() const { return m_error.value_or(Error(ErrorCode::None, QString())); }
    QJsonObject result() const { return m_result; }

Q_SIGNALS:
    void finished(sparky::agent::AgentJob *job);

protected:
    AgentJob(QString type, QObject *parent);

    virtual void run() = 0;
    // Stop whatever is running; call fail()/succeed() (or let run()'s callbacks do it).
    virtual void abort(const QString &reason);

    void succeed(QJsonObject result);
    void fail(Error error);
    bool isDone() const { return m_done; }

private:
    void emitLater();

    QString m_type;
    std::optional<Error> m_error;
    QJsonObject m_result;
    bool m_started = false;
    bool m_done = false; // result decided
    bool m_finished = false; // finished() emitted
};

} // namespace sparky::agent
