#pragma once

// Streams one database dump out of an archive into a database, without a temporary copy:
//
//   borg extract --stdout REPO::ARCHIVE <member>  |  pg_restore --single-transaction -d DB
//                                                    (psql --single-transaction for plain)
//
// through a pipe the agent makes (both programs in their own process groups, the pipe's
// ends handed over as their stdout/stdin). The restore is all or nothing. When either side
// fails the whole thing fails and errorText() names the side that failed first in its own
// words ("pg_restore failed (exit 1): …", "borg extract failed: …"); a reader that stops
// early makes borg see a broken pipe, which is reported as the consequence it is.
//
// Asynchronous; finished() once both programs have ended. Lives on the thread that created it.

#include "agentconfig.h"

#include <QObject>
#include <QStringList>
#include <memory>
#include <optional>

namespace sparky::agent {

class BorgCall;
class StepProcess;

class DumpRestore final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DumpRestore)

public:
    // `member` is the dump's path in the archive ("<db>.dump" custom, "<db>.sql" plain).
    DumpRestore(const AgentConfig &config, const RepositoryConfig &repo,
        const std::optional<QByteArray> &passphrase, QString archive, QString member,
        PostgresDumpConfig connection, QString database, QObject *parent = nullptr);
    ~DumpRestore() override;

    static bool isPlainMember(const QString &member)
    {
        return member.endsWith(QStringLiteral(".sql"));
    }

    void start();
    void terminate(const QString &reason);

    bool succeeded() const { return m_succeeded; }
    QString errorText() const { return m_error; }
    bool repositoryCorrupted() const { return !m_corruption.isEmpty(); }
    QString corruption() const { return m_corruption; }
    qint64 bytes() const { return m_bytes; }
    qint64 borgPid() const;
    QString restoreProgram() const { return m_restoreProgram; }

Q_SIGNALS:
    void progress(qint64 bytes, qint64 total);
    void logLine(const QString &line);
    void finished();

private:
    void onEnded();

    const AgentConfig &m_config;
    RepositoryConfig m_repo;
    std::optional<QByteArray> m_passphrase;
    QString m_archive;
    QString m_member;
    PostgresDumpConfig m_connection;
    QString m_database;
    QString m_restoreProgram; // pg_restore | psql

    std::unique_ptr<BorgCall> m_borg;
    std::unique_ptr<StepProcess> m_restore;
    QStringList m_restoreErrors; // last stderr lines of pg_restore/psql
    int m_restoreOutcome = -1; // StepProcess::Outcome once ended
    int m_restoreExit = -1;
    QString m_restoreProcessError;
    bool m_borgEnded = false;
    bool m_restoreEnded = false;
    bool m_started = false;
    bool m_done = false;
    bool m_succeeded = false;
    QString m_error;
    QString m_corruption;
    qint64 m_bytes = 0;
};

} // namespace sparky::agent
