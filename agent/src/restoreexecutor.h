#pragma once

// RunKind::Restore: puts files from one of a job's archives back, or a database dump into
// a named database.
//
// Files:     target (resolve + create under the restore roots, RestoreTarget) → extract
//            (`borg extract --list --progress [--strip-components N]` in the target).
// Database:  inspect (the archive's one member: <db>.dump or <db>.sql) → createdb (when asked;
//            the database must not exist) → restore-db:<db> (DumpRestore: borg extract
//            --stdout | pg_restore/psql, one transaction). A database this run created is
//            dropped again when the restore fails, so a retry starts clean.
//
// RunFinished.details:
//   files:    {"archive", "target", "paths", "strip_components", "entries", "files",
//              "bytes", "errors": [...]}
//   database: {"archive", "database", "source_database", "format", "created_database",
//              "bytes"}
// Progress: RunProgress with step "extract"/"restore-db:<db>", original_size = bytes
// restored so far, files = entries so far.

#include "archiveseries.h"
#include "runbase.h"

namespace sparky::agent {

class RestoreExecutor final : public RunBase
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RestoreExecutor)

public:
    RestoreExecutor(const AgentConfig &config, RunRequest request, RepositoryLocks *locks,
        QObject *parent = nullptr);
    ~RestoreExecutor() override;

    // Everything about a restore request that can be decided without the repository: the job,
    // the archive belongs to it, database vs. files, paths, and the target against the
    // restore roots. The error says what is wrong.
    static Result check(const AgentConfig &config, const RunRequest &request);
    // The directory under the first root a restore without a target goes to.
    static QString defaultTargetName(const RunRequest &request);

private:
    Result validate() override;
    std::chrono::seconds maxRunTime() const override { return job().maxRunTime; }
    void begin() override;
    void cleanup(std::function<void()> done) override;

    void extractFiles();
    void countListed();
    void inspectDump();
    void createDatabase();
    void restoreDatabase();

    std::optional<ArchiveSeries> m_series;
    QStringList m_paths;
    QString m_target;
    QString m_member;
    QString m_lastListed;
    qint64 m_entries = 0;
    qint64 m_files = 0;
    qint64 m_bytes = 0;
    qint64 m_total = 0;
    bool m_created = false;
    bool m_restored = false;
};

} // namespace sparky::agent
