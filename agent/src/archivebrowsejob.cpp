#include "archivebrowsejob.h"

#include "archivepath.h"
#include "archiveseries.h"
#include "borgcall.h"
#include "borgcommands.h"

namespace sparky::agent {

using namespace Qt::StringLiterals;

ArchiveBrowseJob::ArchiveBrowseJob(const AgentConfig &config, QString job, QString archive,
    QString path, int pageSize, QString cursor, int page, QObject *parent)
    : AgentJob(u"archive.browse"_s, parent)
    , m_config(config)
    , m_jobName(std::move(job))
    , m_archive(std::move(archive))
    , m_path(path)
    , m_listing(std::move(path), pageSize, std::move(cursor), page)
{ }

ArchiveBrowseJob::~ArchiveBrowseJob() = default;

void ArchiveBrowseJob::abort(const QString &reason)
{
    if (m_call)
        m_call->terminate(reason);
    fail(Error(ErrorCode::Cancelled, reason));
}

void ArchiveBrowseJob::run()
{
    const JobConfig *job = m_config.job(m_jobName);
    m_repo = job ? m_config.repository(job->repository) : nullptr;
    if (!job || !m_repo) {
        fail(Error(ErrorCode::NotFound,
            u"no job named '%1' in this node's configuration"_s.arg(m_jobName)));
        return;
    }
    if (!ArchiveSeries::find(ArchiveSeries::forJob(m_config, *job), m_archive)) {
        fail(Error(ErrorCode::Validation,
            u"archive '%1' is not an archive of job '%2'"_s.arg(m_archive, m_jobName)));
        return;
    }
    auto pass = BorgCall::readPassphrase(*m_repo);
    if (!pass) {
        fail(pass.error());
        return;
    }
    const RepositoryConfig repo = BorgCall::interactive(*m_repo);
    const QStringList patterns
        = m_path.isEmpty() ? QStringList() : QStringList { ArchivePath::prefixPattern(m_path) };
    m_call = std::make_unique<BorgCall>(m_config, repo,
        BorgCommands::listItemsArguments(repo, m_archive, patterns, QString(), false), *pass);
    m_call->setStdoutLineHandler([this](const QByteArray &line) { m_listing.addLine(line); });
    connect(m_call.get(), &BorgCall::finished, this, [this] { onListed(); });
    m_call->start();
}

void ArchiveBrowseJob::onListed()
{
    if (isDone())
        return;
    if (m_call->status() == protocol::Status::Failed) {
        const QString text = m_call->errorText();
        const bool missing = text.contains("does not exist"_L1);
        fail(Error(missing ? ErrorCode::NotFound : ErrorCode::Unavailable,
            u"borg list of %1 failed: %2"_s.arg(m_archive, text)));
        return;
    }
    if (!m_listing.found()) {
        fail(Error(ErrorCode::NotFound, u"'%1' is not in archive %2"_s.arg(m_path, m_archive)));
        return;
    }
    if (m_listing.isFile()) {
        fail(Error(ErrorCode::Validation,
            u"'%1' in archive %2 is a file, not a directory"_s.arg(m_path, m_archive)));
        return;
    }
    QJsonObject page = m_listing.page();
    page.insert(u"job"_s, m_jobName);
    page.insert(u"archive"_s, m_archive);
    succeed(page);
}

} // namespace sparky::agent
