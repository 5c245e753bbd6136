#pragma once

// The archive series of a job, and which series an archive name belongs to. A job writes
// one series for its files ("<job>"), one per PostgreSQL database ("<job>.pg-<db>") and one
// for the globals ("<job>.pg-globals"); each is matched by the same exact --glob-archives
// pattern the runner prunes with (ArchiveName::glob), so another job's archives in a shared
// repository never count as this job's. Value type; thread-safe for const use.

#include "agentconfig.h"

#include <QList>
#include <QRegularExpression>
#include <QString>

namespace sparky::agent {

struct ArchiveSeries
{
    enum class Kind { Files, Database, Globals };

    Kind kind = Kind::Files;
    QString series; // the value {job} expands to
    QString database; // Kind::Database: the database name
    QString format; // Kind::Database: "custom" | "plain" as configured now
    QString glob; // borg shell pattern matching exactly this series' archive names

    QString kindName() const; // "files" | "database" | "globals"
    bool matches(const QString &archiveName) const;

    // Every series of the job, files first, then databases in config order, then globals.
    static QList<ArchiveSeries> forJob(const AgentConfig &config, const JobConfig &job);
    // The series `archiveName` belongs to, or nullptr.
    static const ArchiveSeries *find(
        const QList<ArchiveSeries> &series, const QString &archiveName);

private:
    QRegularExpression m_regex;
};

} // namespace sparky::agent
