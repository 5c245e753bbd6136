#pragma once

// RunKind::Drill: proves that the job's latest archives can be restored.
//
//   latest        `borg list --json`: the newest archive of the files series and of each
//                 database series (ArchiveSeries)
//   sample        which regular files to check — the configured drill.paths (and what is
//                 below them), or drill.random_files picked uniformly at random while the
//                 archive's item list streams (reservoir sampling, memory O(N)) — and what
//                 borg recorded for each: size, and SHA-256 computed by borg from the
//                 archive's chunks (`borg list --json-lines --format {sha256}`)
//   extract       `borg extract` of exactly those files into a scratch directory under the
//                 state dir (<state_dir>/drill/<run id>)
//   verify        each extracted file: present, regular, same size, same SHA-256 (hashed a
//                 slice per event-loop turn, FileHasher)
//   restore-db:<db>  for dump jobs with drill.restore_dumps: the newest dump restored into a
//                 scratch database (createdb sparky_drill_<id>, DumpRestore)
//   sanity:<db>   tables and exact row count of the scratch database
//   cleanup       always: scratch databases dropped, the scratch directory removed (a
//                 directory an earlier drill of the job left behind — the agent was killed —
//                 is removed at the start of the next one, once older than drill.timeout)
//
// Failures say exactly what: "2 of 10 sampled files differ from archive …: etc/a: content
// differs (sha256 …)", "repository corrupted: Data integrity error: …" (borg's own words when
// reading the archive fails), "restore of database app failed: pg_restore failed …".
//
// RunFinished.details: {"archive"?, "sample": "paths"|"random", "files_checked",
//   "bytes_checked", "mismatches": [{"path", "problem", "expected_size"?, "actual_size"?,
//   "expected_sha256"?, "actual_sha256"?}], "databases": [{"database", "archive",
//   "scratch_database", "format", "tables"?, "rows"?, "status", "error"?}]}

#include "archiveseries.h"
#include "runbase.h"

#include <QHash>
#include <QJsonArray>

namespace sparky::agent {

class DrillExecutor final : public RunBase
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DrillExecutor)

public:
    static constexpr int kMaxSampleFiles = 10000;
    static constexpr int kMaxMismatchesReported = 100;

    DrillExecutor(const AgentConfig &config, RunRequest request, RepositoryLocks *locks,
        QObject *parent = nullptr);
    ~DrillExecutor() override;

    // Where the scratch directory of a drill run lives: <state_dir>/drill/<job>-<run id>.
    static QString scratchDirectory(
        const AgentConfig &config, const QString &job, const QString &runId);

private:
    struct Recorded
    {
        qint64 size = 0;
        QString sha256;
        bool healthy = true;
    };
    struct DatabaseDrill
    {
        QString database;
        QString archive;
        QString scratch;
        QString member;
        bool created = false;
        QJsonObject report;
    };

    Result validate() override;
    std::chrono::seconds maxRunTime() const override { return job().drill.timeout; }
    void begin() override;
    void cleanup(std::function<void()> done) override;

    void sweepLeftovers();
    void findLatest();
    void selectSample();
    void recordExpected();
    void extractSample();
    void verifySample();
    void nextDatabase();
    void inspectDump(qsizetype index);
    void createScratch(qsizetype index);
    void restoreScratch(qsizetype index);
    void sanityCheck(qsizetype index);
    void dropNext(qsizetype index, std::function<void()> done);
    void failStep(const QString &error, std::optional<int> exitCode = std::nullopt);
    void addMismatch(const QString &path, const QString &problem, const QJsonObject &extra = {});
    void writeDetails();
    QString patternFilePath() const;
    bool writePatternFile(const QStringList &paths);

    QList<ArchiveSeries> m_series;
    QString m_filesArchive;
    QList<DatabaseDrill> m_databases;
    qsizetype m_nextDatabase = 0;
    QString m_scratch;
    QStringList m_sample; // archive paths of the regular files to check
    QHash<QString, Recorded> m_expected;
    QStringList m_missingPatterns; // configured paths borg never matched
    qint64 m_seenFiles = 0; // regular files seen while sampling
    qint64 m_filesChecked = 0;
    qint64 m_bytesChecked = 0;
    QJsonArray m_mismatches;
    qint64 m_mismatchCount = 0;
    QStringList m_mismatchSummary;
    QStringList m_cleanupProblems;
    bool m_scratchMade = false;
};

} // namespace sparky::agent
