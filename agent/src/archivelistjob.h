#pragma once

// archives.list: the archives of one job, oldest first — every series of the job (files,
// each database dump, globals; ArchiveSeries), each archive with its name, id, start/end
// time (UTC), series and kind, and for database dumps the database and format; with
// `stats`, borg's statistics (original/compressed/deduplicated size, files) from one
// `borg info --json --glob-archives <series>` per series.
//
// Result (docs/protocol.md, "archives.list"):
//   {"job", "repository", "total", "truncated", "archives": [
//      {"name", "id", "start", "end"?, "duration_seconds"?, "series", "kind":
//      files|database|globals,
//       "database"?, "format"?, "stats"?: {"original_size", "compressed_size",
//       "deduplicated_size", "files"}}]}
// At most kMaxArchives (the newest) so the answer fits one message.

#include "agentconfig.h"
#include "agentjob.h"
#include "archiveseries.h"

#include <QHash>
#include <QJsonArray>
#include <memory>
#include <optional>

namespace sparky::agent {

class BorgCall;

class ArchiveListJob final : public AgentJob
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ArchiveListJob)

public:
    static constexpr int kMaxArchives = 1000;

    // `last` > 0: only the newest `last` archives.
    ArchiveListJob(const AgentConfig &config, QString job, bool withStats, int last,
        QObject *parent = nullptr);
    ~ArchiveListJob() override;

private:
    void run() override;
    void abort(const QString &reason) override;
    void onListed();
    void nextInfo();
    void finishList();

    AgentConfig m_config;
    QString m_jobName;
    bool m_withStats = true;
    int m_last = 0;
    const JobConfig *m_job = nullptr;
    const RepositoryConfig *m_repo = nullptr;
    QList<ArchiveSeries> m_series;
    std::optional<QByteArray> m_passphrase;
    std::unique_ptr<BorgCall> m_call;
    QJsonArray m_archives; // matched, oldest first
    qint64 m_total = 0;
    QHash<QString, qsizetype> m_index; // archive name → position in m_archives
    QHash<QString, qint64> m_perSeries; // series → archives wanted
    QStringList m_pendingSeries;
};

} // namespace sparky::agent
