#include "archivelistjob.h"

#include "borgcall.h"
#include "borgcommands.h"
#include "borgoutput.h"
#include "sparky/envelope.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimeZone>

namespace sparky::agent {

using namespace Qt::StringLiterals;

ArchiveListJob::ArchiveListJob(
    const AgentConfig &config, QString job, bool withStats, int last, QObject *parent)
    : AgentJob(u"archives.list"_s, parent)
    , m_config(config)
    , m_jobName(std::move(job))
    , m_withStats(withStats)
    , m_last(last)
{ }

ArchiveListJob::~ArchiveListJob() = default;

void ArchiveListJob::abort(const QString &reason)
{
    if (m_call)
        m_call->terminate(reason);
    fail(Error(ErrorCode::Cancelled, reason));
}

void ArchiveListJob::run()
{
    m_job = m_config.job(m_jobName);
    m_repo = m_job ? m_config.repository(m_job->repository) : nullptr;
    if (!m_job || !m_repo) {
        fail(Error(ErrorCode::NotFound,
            u"no job named '%1' in this node's configuration"_s.arg(m_jobName)));
        return;
    }
    m_series = ArchiveSeries::forJob(m_config, *m_job);
    auto pass = BorgCall::readPassphrase(*m_repo);
    if (!pass) {
        fail(pass.error());
        return;
    }
    m_passphrase = *pass;
    const RepositoryConfig repo = BorgCall::interactive(*m_repo);
    m_call = std::make_unique<BorgCall>(
        m_config, repo, BorgCommands::listArchivesArguments(repo), m_passphrase);
    connect(m_call.get(), &BorgCall::finished, this, [this] { onListed(); });
    m_call->start();
}

void ArchiveListJob::onListed()
{
    if (isDone())
        return;
    if (m_call->status() == protocol::Status::Failed) {
        fail(Error(ErrorCode::Unavailable,
            u"borg list of repository %1 failed: %2"_s.arg(
                m_repo->displayUrl(), m_call->errorText())));
        return;
    }
    const QJsonDocument doc = QJsonDocument::fromJson(m_call->standardOutput());
    const QJsonArray all = doc.object().value("archives"_L1).toArray();
    if (!doc.isObject()) {
        fail(Error(ErrorCode::Parse, u"borg list --json printed no JSON object"_s));
        return;
    }
    QJsonArray matched;
    for (const QJsonValue &v : all) {
        const QJsonObject a = v.toObject();
        const QString name = a.value("name"_L1).toString();
        const ArchiveSeries *s = ArchiveSeries::find(m_series, name);
        if (!s)
            continue;
        QJsonObject o { { u"name"_s, name }, { u"id"_s, a.value("id"_L1).toString() },
            { u"start"_s, BorgOutput::isoUtc(a.value("start"_L1).toString()) }, { u"series"_s, s->series },
            { u"kind"_s, s->kindName() } };
        if (s->kind == ArchiveSeries::Kind::Database) {
            o.insert(u"database"_s, s->database);
            o.insert(u"format"_s, s->format);
        }
        matched.append(o);
    }
    m_total = matched.size();
    const qsizetype keep = std::min<qsizetype>(
        m_last > 0 ? std::min(m_last, kMaxArchives) : kMaxArchives, matched.size());
    for (qsizetype i = matched.size() - keep; i < matched.size(); ++i) {
        const QJsonObject o = matched.at(i).toObject();
        m_index.insert(o.value("name"_L1).toString(), m_archives.size());
        m_archives.append(o);
        m_perSeries[o.value("series"_L1).toString()] += 1;
    }
    if (!m_withStats || m_archives.isEmpty()) {
        finishList();
        return;
    }
    for (const ArchiveSeries &s : std::as_const(m_series))
        if (m_perSeries.value(s.series) > 0)
            m_pendingSeries.append(s.series);
    nextInfo();
}

void ArchiveListJob::nextInfo()
{
    if (isDone())
        return;
    if (m_pendingSeries.isEmpty()) {
        finishList();
        return;
    }
    const QString series = m_pendingSeries.takeFirst();
    const ArchiveSeries *s = nullptr;
    for (const ArchiveSeries &c : std::as_const(m_series))
        if (c.series == series)
            s = &c;
    const RepositoryConfig repo = BorgCall::interactive(*m_repo);
    BorgCall::dispose(m_call);
    m_call = std::make_unique<BorgCall>(m_config, repo,
        BorgCommands::infoArguments(repo, s->glob, int(m_perSeries.value(series))), m_passphrase);
    connect(m_call.get(), &BorgCall::finished, this, [this, series] {
        if (isDone())
            return;
        if (m_call->status() == protocol::Status::Failed) {
            fail(Error(ErrorCode::Unavailable,
                u"borg info for series %1 failed: %2"_s.arg(series, m_call->errorText())));
            return;
        }
        const QJsonArray infos = QJsonDocument::fromJson(m_call->standardOutput())
                                     .object()
                                     .value("archives"_L1)
                                     .toArray();
        for (const QJsonValue &v : infos) {
            const QJsonObject info = v.toObject();
            const auto at = m_index.constFind(info.value("name"_L1).toString());
            if (at == m_index.constEnd())
                continue;
            QJsonObject o = m_archives.at(*at).toObject();
            const QJsonObject st = info.value("stats"_L1).toObject();
            o.insert(u"stats"_s,
                QJsonObject { { u"original_size"_s, st.value("original_size"_L1) },
                    { u"compressed_size"_s, st.value("compressed_size"_L1) },
                    { u"deduplicated_size"_s, st.value("deduplicated_size"_L1) },
                    { u"files"_s, st.value("nfiles"_L1) } });
            if (const QString end = BorgOutput::isoUtc(info.value("end"_L1).toString()); !end.isEmpty())
                o.insert(u"end"_s, end);
            o.insert(u"duration_seconds"_s, info.value("duration"_L1).toDouble());
            m_archives.replace(*at, o);
        }
        nextInfo();
    });
    m_call->start();
}

void ArchiveListJob::finishList()
{
    succeed(QJsonObject { { u"job"_s, m_jobName }, { u"repository"_s, m_repo->displayUrl() },
        { u"total"_s, m_total }, { u"truncated"_s, m_archives.size() < m_total },
        { u"archives"_s, m_archives } });
}

} // namespace sparky::agent
