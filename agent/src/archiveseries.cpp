#include "archiveseries.h"

#include "archivename.h"
#include "borgcommands.h"

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

// The globs ArchiveName::glob makes use literals, "[c]" escapes and "[0-9]" classes only;
// QRegularExpression's wildcard conversion reads those the way borg's sh: patterns do.
QRegularExpression globRegex(const QString &glob)
{
    return QRegularExpression(QRegularExpression::wildcardToRegularExpression(glob));
}

ArchiveSeries make(const AgentConfig &config, ArchiveSeries::Kind kind, const QString &series,
    const JobConfig &job)
{
    ArchiveSeries s;
    s.kind = kind;
    s.series = series;
    ArchiveNameContext ctx;
    ctx.hostname = config.hostname;
    ctx.node = config.node;
    ctx.user = qEnvironmentVariable("USER", u"root"_s); // as the runner's prune step
    ctx.series = series;
    s.glob = ArchiveName::glob(job.archiveName, ctx);
    return s;
}

} // namespace

QString ArchiveSeries::kindName() const
{
    switch (kind) {
    case Kind::Files:
        return u"files"_s;
    case Kind::Database:
        return u"database"_s;
    case Kind::Globals:
        return u"globals"_s;
    }
    return u"files"_s;
}

bool ArchiveSeries::matches(const QString &archiveName) const
{
    if (!m_regex.isValid() || m_regex.pattern().isEmpty())
        return false;
    return m_regex.match(archiveName).hasMatch();
}

QList<ArchiveSeries> ArchiveSeries::forJob(const AgentConfig &config, const JobConfig &job)
{
    QList<ArchiveSeries> out;
    if (!job.sources.isEmpty())
        out.append(make(config, Kind::Files, BorgCommands::filesSeries(job), job));
    for (const PostgresDumpConfig &db : job.postgres) {
        ArchiveSeries s
            = make(config, Kind::Database, BorgCommands::databaseSeries(job, db.database), job);
        s.database = db.database;
        s.format = db.format;
        out.append(s);
    }
    if (job.postgresGlobals)
        out.append(make(config, Kind::Globals, BorgCommands::globalsSeries(job), job));
    for (ArchiveSeries &s : out)
        s.m_regex = globRegex(s.glob);
    return out;
}

const ArchiveSeries *ArchiveSeries::find(
    const QList<ArchiveSeries> &series, const QString &archiveName)
{
    for (const ArchiveSeries &s : series)
        if (s.matches(archiveName))
            return &s;
    return nullptr;
}

} // namespace sparky::agent
