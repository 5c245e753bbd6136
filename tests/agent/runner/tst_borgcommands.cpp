// Command lines built from the config: retention → prune arguments, archive names and
// their prune globs, borg environment and BORG_RSH, and the extra-option allow-lists.
#include "archivename.h"
#include "borgcommands.h"
#include "optionpolicy.h"

#include <QRegularExpression>
#include <QTest>

using namespace sparky::agent;
using namespace Qt::StringLiterals;

namespace {
// borg's --glob-archives uses shell patterns; QRegularExpression::wildcardToRegularExpression
// gives the same semantics for * ? [..].
bool globMatches(const QString &glob, const QString &name)
{
    const QRegularExpression re(QRegularExpression::wildcardToRegularExpression(
                                    glob, QRegularExpression::UnanchoredWildcardConversion),
        QRegularExpression::NoPatternOption);
    return QRegularExpression(u"\\A(?:"_s + re.pattern() + u")\\z"_s).match(name).hasMatch();
}
} // namespace

class TestBorgCommands : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void retention_data()
    {
        QTest::addColumn<int>("within");
        QTest::addColumn<QList<int>>("keeps"); // hourly daily weekly monthly yearly
        QTest::addColumn<QStringList>("expected");
        QTest::newRow("daily only")
            << 0 << QList<int> { 0, 7, 0, 0, 0 } << QStringList { u"--keep-daily"_s, u"7"_s };
        QTest::newRow("typical") << 0 << QList<int> { 0, 7, 4, 6, 1 }
                                 << QStringList { u"--keep-daily"_s, u"7"_s, u"--keep-weekly"_s,
                                        u"4"_s, u"--keep-monthly"_s, u"6"_s, u"--keep-yearly"_s,
                                        u"1"_s };
        QTest::newRow("within and hourly")
            << 48 << QList<int> { 24, 0, 0, 0, 0 }
            << QStringList { u"--keep-within"_s, u"48H"_s, u"--keep-hourly"_s, u"24"_s };
        QTest::newRow("nothing") << 0 << QList<int> { 0, 0, 0, 0, 0 } << QStringList {};
    }

    void retention()
    {
        QFETCH(int, within);
        QFETCH(QList<int>, keeps);
        QFETCH(QStringList, expected);
        RetentionConfig r;
        r.keepWithin = within;
        r.keepHourly = keeps[0];
        r.keepDaily = keeps[1];
        r.keepWeekly = keeps[2];
        r.keepMonthly = keeps[3];
        r.keepYearly = keeps[4];
        QCOMPARE(BorgCommands::retentionArguments(r), expected);
        RepositoryConfig repo;
        repo.url = u"/srv/repo"_s;
        repo.lockWait = std::chrono::seconds(30);
        const QStringList prune = BorgCommands::pruneArguments(r, repo, u"web-etc-*"_s);
        QCOMPARE(prune.mid(0, 4),
            (QStringList { u"prune"_s, u"--log-json"_s, u"--lock-wait"_s, u"30"_s }));
        QVERIFY(prune.contains(u"--glob-archives"_s));
        QCOMPARE(prune.at(prune.indexOf(u"--glob-archives"_s) + 1), u"web-etc-*"_s);
        QCOMPARE(prune.mid(prune.size() - 2), (QStringList { u"--"_s, u"/srv/repo"_s }));
        for (const QString &a : expected)
            QVERIFY(prune.contains(a));
    }

    void archiveNames_data()
    {
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<QString>("series");
        QTest::addColumn<QString>("expected");
        QTest::newRow("default") << u"{hostname}-{job}-{now:%Y-%m-%dT%H:%M:%S}"_s << u"etc"_s
                                 << u"web1-etc-2026-03-29T02:30:05"_s;
        QTest::newRow("default now")
            << u"{hostname}-{job}-{now}"_s << u"etc"_s << u"web1-etc-2026-03-29T02:30:05"_s;
        QTest::newRow("dump series") << u"{node}_{job}_{now:%F_%T}"_s << u"etc.pg-app"_s
                                     << u"web-01_etc.pg-app_2026-03-29_02:30:05"_s;
        QTest::newRow("micro") << u"{job}-{now:%Y%m%d%H%M%S.%f}"_s << u"etc"_s
                               << u"etc-20260329023005.042000"_s;
        QTest::newRow("day of year") << u"{job}-{now:%y%j}"_s << u"etc"_s << u"etc-26088"_s;
    }

    void archiveNames()
    {
        QFETCH(QString, pattern);
        QFETCH(QString, series);
        QFETCH(QString, expected);
        QVERIFY(ArchiveName::validatePattern(pattern).hasValue());
        ArchiveNameContext ctx { u"web1"_s, u"web-01"_s, series, u"root"_s };
        const QDateTime now(
            QDate(2026, 3, 29), QTime(2, 30, 5, 42), Qt::LocalTime); // TZ=UTC in tests
        const QString name = ArchiveName::expand(pattern, ctx, now);
        QCOMPARE(name, expected);
        const QString glob = ArchiveName::glob(pattern, ctx);
        QVERIFY2(globMatches(glob, name), qPrintable(glob));
        // The glob keeps series apart: another job whose name extends this one, and the
        // dump series of this job, are not matched.
        ArchiveNameContext other = ctx;
        other.series = series + u"-old"_s;
        QVERIFY(!globMatches(glob, ArchiveName::expand(pattern, other, now)));
        other.series = series + u".pg-db"_s;
        QVERIFY(!globMatches(glob, ArchiveName::expand(pattern, other, now)));
    }

    void badPatterns_data()
    {
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<QString>("message");
        QTest::newRow("no job") << u"{hostname}-{now}"_s << u"must contain {job}"_s;
        QTest::newRow("unknown") << u"{job}-{fqdn}"_s << u"unknown placeholder {fqdn}"_s;
        QTest::newRow("slash") << u"{job}/x"_s << u"may not contain"_s;
        QTest::newRow("double colon") << u"{job}::x"_s << u"may not contain"_s;
        QTest::newRow("unmatched") << u"{job"_s << u"unmatched"_s;
        QTest::newRow("bad format") << u"{job}-{now:%Q}"_s << u"unsupported time format"_s;
    }

    void badPatterns()
    {
        QFETCH(QString, pattern);
        QFETCH(QString, message);
        auto r = ArchiveName::validatePattern(pattern);
        QVERIFY(!r.hasValue());
        QVERIFY2(r.error().message.contains(message), qPrintable(r.error().message));
    }

    void createCommand()
    {
        JobConfig job;
        job.name = u"etc"_s;
        job.sources = { u"/etc"_s, u"/-weird"_s };
        job.excludes = { u"*.tmp"_s };
        job.extraCreateArgs = { u"--one-file-system"_s };
        RepositoryConfig repo;
        repo.url = u"ssh://borg@backup:2222/./web"_s;
        const QStringList a = BorgCommands::createArguments(job, repo, u"web-etc-1"_s);
        QCOMPARE(a.first(), u"create"_s);
        for (const char *f : { "--log-json", "--json", "--progress", "--one-file-system" })
            QVERIFY(a.contains(QString::fromLatin1(f)));
        QCOMPARE(a.at(a.indexOf(u"--exclude"_s) + 1), u"*.tmp"_s);
        QCOMPARE(a.at(a.indexOf(u"--compression"_s) + 1), u"zstd,3"_s);
        // `--` comes before the archive and paths, so a path can never be taken as an option.
        const qsizetype dd = a.indexOf(u"--"_s);
        QCOMPARE(a.mid(dd + 1),
            (QStringList {
                u"ssh://borg@backup:2222/./web::web-etc-1"_s, u"/etc"_s, u"/-weird"_s }));
    }

    void dumpCommand()
    {
        AgentConfig cfg;
        cfg.postgresBinDir = u"/usr/lib/postgresql/15/bin"_s;
        JobConfig job;
        job.name = u"db"_s;
        RepositoryConfig repo;
        repo.url = u"/srv/repo"_s;
        PostgresDumpConfig db;
        db.database = u"app"_s;
        db.host = u"127.0.0.1"_s;
        db.port = 5433;
        db.user = u"backup"_s;
        db.extraArgs = { u"--no-owner"_s };
        const QStringList a = BorgCommands::dumpArguments(cfg, job, repo, db, u"x-db.pg-app-1"_s);
        const qsizetype cfc = a.indexOf(u"--content-from-command"_s);
        QVERIFY(cfc > 0);
        QCOMPARE(a.at(a.indexOf(u"--stdin-name"_s) + 1), u"app.dump"_s);
        const qsizetype dd = a.indexOf(u"--"_s);
        QCOMPARE(a.at(dd - 1), u"/srv/repo::x-db.pg-app-1"_s);
        QCOMPARE(a.mid(dd + 1),
            (QStringList { u"/usr/lib/postgresql/15/bin/pg_dump"_s, u"--format=custom"_s,
                u"--no-password"_s, u"--host"_s, u"127.0.0.1"_s, u"--port"_s, u"5433"_s,
                u"--username"_s, u"backup"_s, u"--no-owner"_s, u"app"_s }));
    }

    void environment()
    {
        AgentConfig cfg;
        cfg.node = u"web-01"_s;
        cfg.stateDir = u"/var/lib/sparky"_s;
        RepositoryConfig repo;
        repo.url = u"ssh://borg@backup/./web"_s;
        repo.sshKey = u"/etc/sparky/id ed25519"_s;
        repo.sshOptions
            = { u"StrictHostKeyChecking=yes"_s, u"UserKnownHostsFile=/etc/sparky/known_hosts"_s };
        repo.passcommand = u"cat /run/secret"_s;
        QProcessEnvironment base;
        base.insert(u"PATH"_s, u"/usr/bin"_s);
        base.insert(u"BORG_PASSPHRASE"_s, u"leaked"_s);
        base.insert(u"BORG_RSH"_s, u"evil"_s);
        base.insert(u"PGPASSWORD"_s, u"leaked"_s);
        const QProcessEnvironment env = BorgCommands::environment(cfg, repo, base);
        QVERIFY(!env.contains(u"BORG_PASSPHRASE"_s));
        QVERIFY(!env.contains(u"PGPASSWORD"_s));
        QCOMPARE(env.value(u"PATH"_s), u"/usr/bin"_s);
        QCOMPARE(env.value(u"BORG_BASE_DIR"_s), u"/var/lib/sparky/borg"_s);
        QCOMPARE(env.value(u"BORG_HOST_ID"_s), u"web-01@sparky-agent"_s);
        QCOMPARE(env.value(u"BORG_RELOCATED_REPO_ACCESS_IS_OK"_s), u"no"_s);
        QCOMPARE(env.value(u"BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"_s), u"no"_s);
        QCOMPARE(env.value(u"BORG_PASSCOMMAND"_s), u"cat /run/secret"_s);
        QCOMPARE(env.value(u"BORG_RSH"_s),
            u"ssh -o BatchMode=yes -i '/etc/sparky/id ed25519' -o IdentitiesOnly=yes -o "
            u"StrictHostKeyChecking=yes "
            "-o UserKnownHostsFile=/etc/sparky/known_hosts"_s);
        // With a log file, ssh's own messages go there (SshLog reads them after borg exits).
        QVERIFY(BorgCommands::borgRsh(repo, u"/var/lib/sparky/ssh/borg 1.log"_s)
                    .endsWith(u" -E '/var/lib/sparky/ssh/borg 1.log'"_s));
        repo.url = u"/local/repo"_s;
        QVERIFY(!BorgCommands::environment(cfg, repo, base).contains(u"BORG_RSH"_s));
    }

    void allowList_data()
    {
        QTest::addColumn<QString>("program");
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<bool>("allowed");
        QTest::newRow("borg flags")
            << u"borg"_s << QStringList { u"--one-file-system"_s, u"--exclude-caches"_s } << true;
        QTest::newRow("borg value separate")
            << u"borg"_s << QStringList { u"--exclude-if-present"_s, u".nobackup"_s } << true;
        QTest::newRow("borg value joined")
            << u"borg"_s << QStringList { u"--files-cache=ctime,size"_s } << true;
        QTest::newRow("borg rsh") << u"borg"_s << QStringList { u"--rsh"_s, u"sh -c evil"_s }
                                  << false;
        QTest::newRow("borg rsh joined") << u"borg"_s << QStringList { u"--rsh=evil"_s } << false;
        QTest::newRow("borg remote path")
            << u"borg"_s << QStringList { u"--remote-path=/tmp/x"_s } << false;
        QTest::newRow("borg content-from-command")
            << u"borg"_s << QStringList { u"--content-from-command"_s } << false;
        QTest::newRow("borg paths-from-command")
            << u"borg"_s << QStringList { u"--paths-from-command"_s } << false;
        QTest::newRow("borg paths-from-stdin")
            << u"borg"_s << QStringList { u"--paths-from-stdin"_s } << false;
        QTest::newRow("borg bare path") << u"borg"_s << QStringList { u"/etc/shadow"_s } << false;
        QTest::newRow("borg flag with value")
            << u"borg"_s << QStringList { u"--one-file-system=yes"_s } << false;
        QTest::newRow("borg missing value") << u"borg"_s << QStringList { u"--comment"_s } << false;
        QTest::newRow("borg lock-wait is ours")
            << u"borg"_s << QStringList { u"--lock-wait"_s, u"1"_s } << false;
        QTest::newRow("pg_dump schema")
            << u"pg_dump"_s << QStringList { u"--schema"_s, u"public"_s, u"--no-owner"_s } << true;
        QTest::newRow("pg_dump file")
            << u"pg_dump"_s << QStringList { u"--file=/tmp/x"_s } << false;
        QTest::newRow("pg_dump -f")
            << u"pg_dump"_s << QStringList { u"-f"_s, u"/tmp/x"_s } << false;
        QTest::newRow("pg_dump format")
            << u"pg_dump"_s << QStringList { u"--format=plain"_s } << false;
        QTest::newRow("pg_dump dbname")
            << u"pg_dump"_s << QStringList { u"--dbname=postgresql://x"_s } << false;
        QTest::newRow("pg_dump host")
            << u"pg_dump"_s << QStringList { u"-h"_s, u"evil"_s } << false;
        QTest::newRow("ssh ok") << u"ssh"_s
                                << QStringList { u"StrictHostKeyChecking=yes"_s,
                                       u"ConnectTimeout=5"_s }
                                << true;
        QTest::newRow("ssh proxycommand")
            << u"ssh"_s << QStringList { u"ProxyCommand=nc evil 22"_s } << false;
        QTest::newRow("ssh localcommand")
            << u"ssh"_s << QStringList { u"LocalCommand=touch /tmp/x"_s } << false;
        QTest::newRow("ssh no value") << u"ssh"_s << QStringList { u"BatchMode"_s } << false;
    }

    void allowList()
    {
        QFETCH(QString, program);
        QFETCH(QStringList, args);
        QFETCH(bool, allowed);
        const sparky::Result r = program == u"borg"_s ? OptionPolicy::checkBorgCreateArgs(args)
            : program == u"pg_dump"_s                 ? OptionPolicy::checkPgDumpArgs(args)
                                                      : OptionPolicy::checkSshOptions(args);
        QCOMPARE(r.hasValue(), allowed);
        if (!allowed)
            QVERIFY(!r.error().message.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestBorgCommands)
#include "tst_borgcommands.moc"
