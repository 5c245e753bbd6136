#pragma once

// Command lines and environments for borg and pg_dump, built from the config. Pure
// functions (unit-tested); RunExecutor runs what they return. Every borg command gets
// --log-json and --lock-wait; paths always follow `--`; the repository never comes from
// anything but the config.

#include "agentconfig.h"

#include <QProcessEnvironment>
#include <QStringList>

namespace sparky::agent {

class BorgCommands final
{
public:
    // Archive series: "<job>" for files, "<job>.pg-<db>" per database, "<job>.pg-globals".
    static QString filesSeries(const JobConfig &job);
    static QString databaseSeries(const JobConfig &job, const QString &database);
    static QString globalsSeries(const JobConfig &job);

    static QStringList retentionArguments(const RetentionConfig &retention);

    static QStringList probeArguments(const RepositoryConfig &repo); // borg list --json --last 1
    static QStringList initArguments(const RepositoryConfig &repo);
    static QStringList createArguments(
        const JobConfig &job, const RepositoryConfig &repo, const QString &archiveName);
    // borg create --content-from-command … -- pg_dump …
    static QStringList dumpArguments(const AgentConfig &config, const JobConfig &job,
        const RepositoryConfig &repo, const PostgresDumpConfig &db, const QString &archiveName);
    static QStringList globalsArguments(const AgentConfig &config, const JobConfig &job,
        const RepositoryConfig &repo, const QString &archiveName);
    static QStringList pruneArguments(
        const RetentionConfig &retention, const RepositoryConfig &repo, const QString &glob);
    static QStringList compactArguments(const RepositoryConfig &repo);
    static QStringList checkArguments(const CheckConfig &check, const RepositoryConfig &repo);

    // Reading archives (catalogue, browse, restore, drill). `patterns` are borg include
    // patterns given after the archive (ArchivePath::prefixPattern: "pp:<path>");
    // `patternFile` a --patterns-from file (ArchivePath::patternFile) instead.
    static QStringList listArchivesArguments(const RepositoryConfig &repo);
    static QStringList infoArguments(const RepositoryConfig &repo, const QString &glob, int last);
    static QStringList listItemsArguments(const RepositoryConfig &repo, const QString &archive,
        const QStringList &patterns, const QString &patternFile, bool withSha256);
    static QStringList extractArguments(const RepositoryConfig &repo, const QString &archive,
        const QStringList &patterns, const QString &patternFile, int stripComponents);
    // One member to stdout (a database dump into pg_restore/psql).
    static QStringList extractToStdoutArguments(
        const RepositoryConfig &repo, const QString &archive, const QString &member);

    // ssh command line for BORG_RSH (empty for local repositories): BatchMode=yes always.
    // `ssh -o BatchMode=yes …` for BORG_RSH; with `logFile`, ssh logs there (-E) instead of stderr.
    static QString borgRsh(const RepositoryConfig &repo, const QString &logFile = {});
    // `base` minus any BORG_*/PGPASSWORD it carried, plus the pinned borg settings
    // (BORG_BASE_DIR under the state dir, BORG_HOST_ID, relocation/unencrypted refusals,
    // BORG_RSH, BORG_PASSCOMMAND). The passphrase file is NOT read here.
    static QProcessEnvironment environment(
        const AgentConfig &config, const RepositoryConfig &repo, const QProcessEnvironment &base);
    // PGPASSFILE etc. for a dump (added to the borg environment; pg_dump inherits it).
    static void addPostgresEnvironment(QProcessEnvironment &env, const PostgresDumpConfig &db);

    static QString shellQuote(const QString &word);
};

} // namespace sparky::agent
