#pragma once

// archive.browse: one page of one directory of one archive of a job, parsed while
// `borg list --json-lines REPO::ARCHIVE [pp:PATH]` streams (DirectoryListing), so neither
// the archive's item list nor a huge directory is ever held or sent whole.
//
// Result (docs/protocol.md, "archive.browse"): DirectoryListing::page() plus "job" and
// "archive": {"job", "archive", "path", "entries": […], "total", "offset", "page_size",
// "next_cursor"?}. Errors: the archive is not one of the job's (Validation), the archive or
// the path does not exist (NotFound), the path is a file (Validation).

#include "agentconfig.h"
#include "agentjob.h"
#include "directorylisting.h"

#include <memory>

namespace sparky::agent {

class BorgCall;

class ArchiveBrowseJob final : public AgentJob
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ArchiveBrowseJob)

public:
    // `path` normalised (ArchivePath); `cursor` checked (DirectoryListing::checkCursor).
    ArchiveBrowseJob(const AgentConfig &config, QString job, QString archive, QString path,
        int pageSize, QString cursor, int page = 0, QObject *parent = nullptr);
    ~ArchiveBrowseJob() override;

    qint64 itemsSeen() const { return m_listing.itemsSeen(); }

private:
    void run() override;
    void abort(const QString &reason) override;
    void onListed();

    AgentConfig m_config;
    QString m_jobName;
    QString m_archive;
    QString m_path;
    DirectoryListing m_listing;
    const RepositoryConfig *m_repo = nullptr;
    std::unique_ptr<BorgCall> m_call;
};

} // namespace sparky::agent
