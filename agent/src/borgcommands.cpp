#include "borgcommands.h"

#include <QDir>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

QStringList common(const QString &command, const RepositoryConfig &repo)
{
    return { command, u"--log-json"_s, u"--lock-wait"_s, QString::number(repo.lockWait.count()) };
}

QStringList pgConnection(const PostgresDumpConfig &db)
{
    QStringList a { u"--no-password"_s };
    if (!db.host.isEmpty())
        a << u"--host"_s << db.host;
    a << u"--port"_s << QString::number(db.port);
    if (!db.user.isEmpty())
        a << u"--username"_s << db.user;
    return a;
}

} // namespace

QString BorgCommands::filesSeries(const JobConfig &job)
{
    return job.name;
}

QString BorgCommands::databaseSeries(const JobConfig &job, const QString &database)
{
    return job.name + u".pg-"_s + database;
}

QString BorgCommands::globalsSeries(const JobConfig &job)
{
    return job.name + u".pg-globals"_s;
}

QStringList BorgCommands::retentionArguments(const RetentionConfig &r)
{
    QStringList a;
    if (r.keepWithin > 0)
        a << u"--keep-within"_s << u"%1H"_s.arg(r.keepWithin);
    const std::pair<const char *, int> keeps[] = { { "--keep-hourly", r.keepHourly },
        { "--keep-daily", r.keepDaily }, { "--keep-weekly", r.keepWeekly },
        { "--keep-monthly", r.keepMonthly }, { "--keep-yearly", r.keepYearly } };
    for (const auto &[flag, n] : keeps)
        if (n > 0)
            a << QString::fromLatin1(flag) << QString::number(n);
    return a;
}

QStringList BorgCommands::probeArguments(const RepositoryConfig &repo)
{
    return common(u"list"_s, repo) << u"--json"_s << u"--last"_s << u"1"_s << u"--"_s << repo.url;
}

QStringList BorgCommands::initArguments(const RepositoryConfig &repo)
{
    QStringList a = common(u"init"_s, repo);
    a << u"--encryption"_s << repo.encryption << u"--make-parent-dirs"_s;
    if (repo.appendOnly)
        a << u"--append-only"_s;
    a << u"--"_s << repo.url;
    return a;
}

QStringList BorgCommands::createArguments(
    const JobConfig &job, const RepositoryConfig &repo, const QString &archiveName)
{
    QStringList a = common(u"create"_s, repo);
    a << u"--json"_s << u"--progress"_s << u"--compression"_s << job.compression;
    for (const QString &e : job.excludes)
        a << u"--exclude"_s << e;
    a << job.extraCreateArgs;
    a << u"--"_s << repo.url + u"::"_s + archiveName;
    a << job.sources;
    return a;
}

QStringList BorgCommands::dumpArguments(const AgentConfig &config, const JobConfig &job,
    const RepositoryConfig &repo, const PostgresDumpConfig &db, const QString &archiveName)
{
    const bool plain = db.format == "plain"_L1;
    QStringList a = common(u"create"_s, repo);
    a << u"--json"_s << u"--progress"_s << u"--compression"_s << job.compression
      << u"--content-from-command"_s << u"--stdin-name"_s
      << db.database + (plain ? u".sql"_s : u".dump"_s) << repo.url + u"::"_s + archiveName
      << u"--"_s << config.postgresProgram(u"pg_dump"_s)
      << (plain ? u"--format=plain"_s : u"--format=custom"_s) << pgConnection(db) << db.extraArgs
      << db.database;
    return a;
}

QStringList BorgCommands::globalsArguments(const AgentConfig &config, const JobConfig &job,
    const RepositoryConfig &repo, const QString &archiveName)
{
    QStringList a = common(u"create"_s, repo);
    a << u"--json"_s << u"--progress"_s << u"--compression"_s << job.compression
      << u"--content-from-command"_s << u"--stdin-name"_s << u"globals.sql"_s
      << repo.url + u"::"_s + archiveName << u"--"_s << config.postgresProgram(u"pg_dumpall"_s)
      << u"--globals-only"_s << pgConnection(job.postgresDefaults);
    return a;
}

QStringList BorgCommands::pruneArguments(
    const RetentionConfig &retention, const RepositoryConfig &repo, const QString &glob)
{
    QStringList a = common(u"prune"_s, repo);
    a << u"--list"_s << u"--glob-archives"_s << glob << retentionArguments(retention) << u"--"_s
      << repo.url;
    return a;
}

QStringList BorgCommands::compactArguments(const RepositoryConfig &repo)
{
    return common(u"compact"_s, repo) << u"--"_s << repo.url;
}

QStringList BorgCommands::checkArguments(const CheckConfig &check, const RepositoryConfig &repo)
{
    QStringList a = common(u"check"_s, repo);
    if (check.repositoryOnly)
        a << u"--repository-only"_s;
    if (check.archivesOnly)
        a << u"--archives-only"_s;
    if (check.verifyData)
        a << u"--verify-data"_s;
    a << u"--"_s << repo.url;
    return a;
}

QStringList BorgCommands::listArchivesArguments(const RepositoryConfig &repo)
{
    return common(u"list"_s, repo) << u"--json"_s << u"--"_s << repo.url;
}

QStringList BorgCommands::infoArguments(const RepositoryConfig &repo, const QString &glob, int last)
{
    QStringList a = common(u"info"_s, repo);
    a << u"--json"_s << u"--glob-archives"_s << glob;
    if (last > 0)
        a << u"--last"_s << QString::number(last);
    a << u"--"_s << repo.url;
    return a;
}

QStringList BorgCommands::listItemsArguments(const RepositoryConfig &repo, const QString &archive,
    const QStringList &patterns, const QString &patternFile, bool withSha256)
{
    QStringList a = common(u"list"_s, repo);
    a << u"--json-lines"_s;
    if (withSha256) // with --json-lines the keys of --format are added to each item
        a << u"--format"_s << u"{size}{sha256}"_s;
    if (!patternFile.isEmpty())
        a << u"--patterns-from"_s << patternFile;
    a << u"--"_s << repo.url + u"::"_s + archive << patterns;
    return a;
}

QStringList BorgCommands::extractArguments(const RepositoryConfig &repo, const QString &archive,
    const QStringList &patterns, const QString &patternFile, int stripComponents)
{
    QStringList a = common(u"extract"_s, repo);
    a << u"--list"_s << u"--progress"_s;
    if (stripComponents > 0)
        a << u"--strip-components"_s << QString::number(stripComponents);
    if (!patternFile.isEmpty())
        a << u"--patterns-from"_s << patternFile;
    a << u"--"_s << repo.url + u"::"_s + archive << patterns;
    return a;
}

QStringList BorgCommands::extractToStdoutArguments(
    const RepositoryConfig &repo, const QString &archive, const QString &member)
{
    return common(u"extract"_s, repo) << u"--progress"_s << u"--stdout"_s << u"--"_s
                                      << repo.url + u"::"_s + archive << u"pp:"_s + member;
}

QString BorgCommands::shellQuote(const QString &word)
{
    static const QString safe
        = u"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_"_s;
    bool plain = !word.isEmpty();
    for (const QChar c : word)
        plain = plain && safe.contains(c);
    if (plain)
        return word;
    QString w = word;
    w.replace(u'\'', u"'\"'\"'"_s);
    return u'\'' + w + u'\'';
}

QString BorgCommands::borgRsh(const RepositoryConfig &repo, const QString &logFile)
{
    if (!repo.isRemote())
        return {};
    QStringList parts { u"ssh"_s, u"-o"_s, u"BatchMode=yes"_s };
    if (!repo.sshKey.isEmpty())
        parts << u"-i"_s << shellQuote(repo.sshKey) << u"-o"_s << u"IdentitiesOnly=yes"_s;
    for (const QString &o : repo.sshOptions)
        parts << u"-o"_s << shellQuote(o);
    if (!logFile.isEmpty())
        parts << u"-E"_s << shellQuote(logFile);
    return parts.join(u' ');
}

QProcessEnvironment BorgCommands::environment(
    const AgentConfig &config, const RepositoryConfig &repo, const QProcessEnvironment &base)
{
    QProcessEnvironment env = base;
    const QStringList keys = env.keys();
    for (const QString &k : keys)
        if (k.startsWith("BORG_"_L1) || k == "PGPASSWORD"_L1)
            env.remove(k);
    env.insert(u"BORG_BASE_DIR"_s, QDir(config.stateDir).filePath(u"borg"_s));
    env.insert(u"BORG_HOST_ID"_s, config.node + u"@sparky-agent"_s);
    env.insert(u"BORG_RELOCATED_REPO_ACCESS_IS_OK"_s, u"no"_s);
    env.insert(u"BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"_s, u"no"_s);
    env.insert(u"BORG_CHECK_I_KNOW_WHAT_I_AM_DOING"_s, u"NO"_s);
    env.insert(u"BORG_DELETE_I_KNOW_WHAT_I_AM_DOING"_s, u"NO"_s);
    env.insert(u"BORG_DISPLAY_PASSPHRASE"_s, u"no"_s);
    env.insert(u"BORG_HOSTNAME_IS_UNIQUE"_s, u"yes"_s);
    if (repo.isRemote())
        env.insert(u"BORG_RSH"_s, borgRsh(repo));
    if (!repo.passcommand.isEmpty())
        env.insert(u"BORG_PASSCOMMAND"_s, repo.passcommand);
    if (!env.contains(u"LANG"_s))
        env.insert(u"LANG"_s, u"C.UTF-8"_s);
    return env;
}

void BorgCommands::addPostgresEnvironment(QProcessEnvironment &env, const PostgresDumpConfig &db)
{
    if (!db.passfile.isEmpty())
        env.insert(u"PGPASSFILE"_s, db.passfile);
    env.insert(u"PGAPPNAME"_s, u"sparky-agent"_s);
    if (!env.contains(u"PGCONNECT_TIMEOUT"_s))
        env.insert(u"PGCONNECT_TIMEOUT"_s, u"30"_s);
}

} // namespace sparky::agent
