// agent.yaml + conf.d loading: every key, defaults, and errors that name file:line:field.
#include "agentconfig.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::agent;
using namespace Qt::StringLiterals;

class TestAgentConfig : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;

    QString path(const QString &name) const { return m_dir.filePath(name); }

    void write(const QString &name, QByteArray text,
        QFile::Permissions perms = QFile::ReadOwner | QFile::WriteOwner)
    {
        text.replace("@DIR@", m_dir.path().toUtf8());
        QDir().mkpath(QFileInfo(path(name)).path());
        QFile f(path(name));
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(text);
        f.close();
        QVERIFY(f.setPermissions(perms));
    }

    static QByteArray base()
    {
        return "node: web-01\n"
               "state_dir: @DIR@/state\n"
               "repositories:\n"
               "  main:\n"
               "    url: /srv/borg/web-01\n"
               "    passphrase_file: @DIR@/pass\n";
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        write(u"pass"_s, "secret-passphrase\n");
        write(u"loose"_s, "secret\n",
            QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther);
    }

    void fullConfig()
    {
        write(u"full/agent.yaml"_s,
            "node: web-01\n"
            "hostname: web-01.example.net\n"
            "state_dir: @DIR@/state\n"
            "borg_binary: /usr/bin/borg\n"
            "postgres_bin_dir: /usr/lib/postgresql/15/bin\n"
            "heartbeat_interval: 30s\n"
            "outbox_max_messages: 5000\n"
            "metrics: {listen: '127.0.0.1:9999', textfile: /var/lib/node_exporter/sparky.prom}\n"
            "commands: {allowed: [backup.run, agent.ping], max_clock_skew: 2m}\n"
            "restore: {roots: [/srv/restore], allow_in_place: true}\n"
            "repositories:\n"
            "  main:\n"
            "    url: ssh://borg@backup.example.net:2222/./web-01\n"
            "    passphrase_file: @DIR@/pass\n"
            "    encryption: keyfile-blake2\n"
            "    ssh_options: [StrictHostKeyChecking=yes]\n"
            "    lock_wait: 5m\n"
            "jobs:\n"
            "  etc:\n"
            "    repository: main\n"
            "    sources: [/etc, /home]\n"
            "    excludes: ['*.cache']\n"
            "    compression: lz4\n"
            "    extra_create_args: [--one-file-system, --exclude-if-present, .nobackup]\n"
            "    retention: {keep_within: 2d, keep_daily: 7, keep_weekly: 4}\n"
            "    schedule: '30 2 * * *'\n"
            "    time_zone: Europe/Berlin\n"
            "    jitter: 30m\n"
            "    catch_up: false\n"
            "    max_run_time: 4h\n"
            "    rpo: 26h\n"
            "    hooks:\n"
            "      before: ['echo start', {name: flush, command: [/bin/sync], timeout: 1m}]\n"
            "      on_error: [{name: page, command: 'logger backup failed'}]\n"
            "    postgres:\n"
            "      host: 127.0.0.1\n"
            "      user: backup\n"
            "      globals: true\n"
            "      databases: [app, {name: billing, format: plain, port: 5433}]\n"
            "    check: {schedule: '@weekly', verify_data: true}\n");
        write(u"full/conf.d/10-more.yaml"_s,
            "jobs:\n"
            "  home:\n"
            "    repository: main\n"
            "    sources: /home\n");
        auto cfg = loadAgentConfig(path(u"full/agent.yaml"_s));
        QVERIFY2(cfg.hasValue(), qPrintable(cfg.hasValue() ? QString() : cfg.error().message));
        QCOMPARE(cfg->node, u"web-01"_s);
        QCOMPARE(cfg->hostname, u"web-01.example.net"_s);
        QCOMPARE(cfg->postgresProgram(u"pg_dump"_s), u"/usr/lib/postgresql/15/bin/pg_dump"_s);
        QCOMPARE(cfg->heartbeatInterval.count(), 30);
        QCOMPARE(cfg->outboxMaxMessages, 5000);
        QCOMPARE(cfg->metrics.listen, u"127.0.0.1:9999"_s);
        QCOMPARE(cfg->commands.allowed, (QStringList { u"backup.run"_s, u"agent.ping"_s }));
        QCOMPARE(cfg->commands.maxClockSkew.count(), 120);
        QVERIFY(cfg->restore.allowInPlace);
        QVERIFY(!cfg->broker);
        QCOMPARE(cfg->files.size(), 2);
        const RepositoryConfig *repo = cfg->repository(u"main"_s);
        QVERIFY(repo);
        QVERIFY(repo->isRemote());
        QCOMPARE(repo->encryption, u"keyfile-blake2"_s);
        QCOMPARE(repo->lockWait.count(), 300);
        const JobConfig *etc = cfg->job(u"etc"_s);
        QVERIFY(etc);
        QCOMPARE(etc->sources, (QStringList { u"/etc"_s, u"/home"_s }));
        QCOMPARE(etc->compression, u"lz4"_s);
        QCOMPARE(etc->retention.keepWithin, 48);
        QCOMPARE(etc->retention.keepDaily, 7);
        QCOMPARE(etc->timeZone.id(), QByteArray("Europe/Berlin"));
        QCOMPARE(etc->jitter.count(), 1800);
        QVERIFY(!etc->catchUp);
        QCOMPARE(etc->maxRunTime.count(), 4 * 3600);
        QCOMPARE(etc->rpo->count(), 26 * 3600);
        QCOMPARE(etc->beforeHooks.size(), 2);
        QCOMPARE(etc->beforeHooks.at(0).command,
            (QStringList { u"/bin/sh"_s, u"-c"_s, u"echo start"_s }));
        QCOMPARE(etc->beforeHooks.at(1).name, u"flush"_s);
        QCOMPARE(etc->beforeHooks.at(1).timeout.count(), 60);
        QCOMPARE(etc->onErrorHooks.at(0).name, u"page"_s);
        QCOMPARE(etc->postgres.size(), 2);
        QCOMPARE(etc->postgres.at(0).database, u"app"_s);
        QCOMPARE(etc->postgres.at(0).host, u"127.0.0.1"_s);
        QCOMPARE(etc->postgres.at(0).user, u"backup"_s);
        QCOMPARE(etc->postgres.at(1).format, u"plain"_s);
        QCOMPARE(etc->postgres.at(1).port, 5433);
        QVERIFY(etc->postgresGlobals);
        QVERIFY(etc->check.verifyData);
        QVERIFY(cfg->checkSchedule(*etc).isValid());
        const CronSchedule s = cfg->backupSchedule(*etc);
        QVERIFY(s.isValid());
        QCOMPARE(s.offset(),
            CronSchedule::jitterOffset(u"web-01"_s, u"etc"_s, std::chrono::seconds(1800)));
        const JobConfig *home = cfg->job(u"home"_s);
        QVERIFY(home);
        QCOMPARE(home->sources, QStringList { u"/home"_s });
        QVERIFY(!cfg->backupSchedule(*home).isValid()); // manual only
        QCOMPARE(cfg->digest.size(), 64);
    }

    void defaults()
    {
        write(u"min/agent.yaml"_s,
            base() + "jobs:\n  etc:\n    repository: main\n    sources: [/etc]\n");
        auto cfg = loadAgentConfig(path(u"min/agent.yaml"_s));
        QVERIFY2(cfg.hasValue(), qPrintable(cfg.hasValue() ? QString() : cfg.error().message));
        const JobConfig &j = cfg->jobs.first();
        QCOMPARE(j.compression, u"zstd,3"_s);
        QCOMPARE(j.archiveName, u"{hostname}-{job}-{now:%Y-%m-%dT%H:%M:%S}"_s);
        QVERIFY(j.catchUp);
        QVERIFY(j.compact);
        QVERIFY(j.retention.isEmpty());
        QCOMPARE(j.maxRunTime.count(), 12 * 3600);
        QCOMPARE(cfg->repositories.first().encryption, u"repokey-blake2"_s);
        QCOMPARE(cfg->repositories.first().lockWait.count(), 600);
        QCOMPARE(cfg->metrics.listen, u"127.0.0.1:9465"_s);
        QCOMPARE(cfg->borgBinary, u"borg"_s);
        QCOMPARE(cfg->heartbeatInterval.count(), 60);
        QCOMPARE(cfg->commands.allowed.size(), 3);
    }

    // The broker user is the node id unless given (and then it must be the node id).
    void brokerUserDefaultsToTheNode()
    {
        write(u"tok"_s, "token\n");
        write(u"ca.pem"_s, "not read by the parser\n");
        const QByteArray broker = "broker:\n  hosts: ['mq:5671']\n  token_file: @DIR@/tok\n"
                                  "  tls: {ca_file: @DIR@/ca.pem}\n"
                                  "commands: {orchestrator_key: MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=}\n";
        write(u"bu/agent.yaml"_s, base() + broker + "jobs: {}\n");
        auto cfg = loadAgentConfig(path(u"bu/agent.yaml"_s));
        QVERIFY2(cfg.hasValue(), qPrintable(cfg.hasValue() ? QString() : cfg.error().message));
        QVERIFY(cfg->broker);
        QCOMPARE(cfg->broker->user, u"web-01"_s);

        QByteArray other = base() + broker + "jobs: {}\n";
        other.replace("token_file:", "user: web-02\n  token_file:");
        write(u"bu2/agent.yaml"_s, other);
        auto bad = loadAgentConfig(path(u"bu2/agent.yaml"_s));
        QVERIFY(!bad.hasValue());
        QVERIFY2(bad.error().message.contains(u"broker.user"_s)
                && bad.error().message.contains(u"must be the node id"_s),
            qPrintable(bad.error().message));
    }

    void digestIgnoresFormatting()
    {
        write(u"d1/agent.yaml"_s,
            base() + "jobs:\n  etc:\n    repository: main\n    sources: [/etc]\n");
        write(u"d2/agent.yaml"_s,
            "# comment\n" + base()
                + "jobs:\n  etc:\n    sources:\n      - /etc\n    repository: main\n");
        write(u"d3/agent.yaml"_s,
            base() + "jobs:\n  etc:\n    repository: main\n    sources: [/etc, /srv]\n");
        auto a = loadAgentConfig(path(u"d1/agent.yaml"_s));
        auto b = loadAgentConfig(path(u"d2/agent.yaml"_s));
        auto c = loadAgentConfig(path(u"d3/agent.yaml"_s));
        QVERIFY(a.hasValue() && b.hasValue() && c.hasValue());
        QCOMPARE(a->digest, b->digest);
        QVERIFY(a->digest != c->digest);
    }

    void errors_data()
    {
        QTest::addColumn<QByteArray>("yaml");
        QTest::addColumn<QString>("expected"); // "LINE:COL: field: message" (after the file name)
        const QByteArray job
            = "jobs:\n  etc:\n    repository: main\n    sources: [/etc]\n"; // lines 7-10
        QTest::newRow("unknown top key") << base() + "colour: blue\n"
                                         << u":7:1: colour: unknown key"_s;
        QTest::newRow("unknown job key") << base() + job + "    sorces: [/x]\n"
                                         << u":11:5: jobs.etc.sorces: unknown key"_s;
        QTest::newRow("unknown repository")
            << base() + "jobs:\n  etc:\n    repository: other\n    sources: [/etc]\n"
            << u":9:17: jobs.etc.repository: unknown repository 'other' (defined: main)"_s;
        QTest::newRow("bad cron")
            << base() + job + "    schedule: '61 * * * *'\n"
            << u":11:15: jobs.etc.schedule: invalid cron expression \"61 * * * *\": minute: 61 is out of range 0-59"_s;
        QTest::newRow("bad job name")
            << base() + "jobs:\n  Etc!:\n    repository: main\n    sources: [/etc]\n"
            << u":9:5: jobs.Etc!: 'Etc!' is not a valid job name"_s;
        QTest::newRow("loose passphrase file")
            << QByteArray("node: web-01\nrepositories:\n  main:\n    url: /srv/r\n    "
                          "passphrase_file: @DIR@/loose\n")
                + job
            << u":5:22: repositories.main.passphrase_file: "_s;
        QTest::newRow("both passphrase options")
            << base() + "    passcommand: cat /x\n" + job
            << u":7:18: repositories.main.passcommand: give either passphrase_file or passcommand, not both"_s;
        QTest::newRow("no passphrase")
            << QByteArray("node: web-01\nrepositories:\n  main:\n    url: /srv/r\n") + job
            << u":4:5: repositories.main: encryption repokey-blake2 needs a passphrase"_s;
        QTest::newRow("rsh smuggled")
            << base() + job + "    extra_create_args: [--rsh, 'sh -c x']\n"
            << u":11:24: jobs.etc.extra_create_args: option '--rsh' is not allowed for borg create"_s;
        QTest::newRow("pg_dump output")
            << base() + job + "    postgres: {databases: [app], extra_args: [-f, /tmp/x]}\n"
            << u"jobs.etc.postgres.extra_args: option '-f' is not allowed for pg_dump"_s;
        QTest::newRow("ssh proxy")
            << base() + "    ssh_options: ['ProxyCommand=nc x 22']\n" + job
            << u":7:18: repositories.main.ssh_options: ssh option 'ProxyCommand=nc x 22' is not allowed"_s;
        QTest::newRow("bad zone")
            << base() + job + "    time_zone: Mars/Olympus\n"
            << u":11:16: jobs.etc.time_zone: 'Mars/Olympus' is not a known time zone"_s;
        QTest::newRow("relative source")
            << base() + "jobs:\n  etc:\n    repository: main\n    sources: [etc]\n"
            << u":10:14: jobs.etc.sources: 'etc' must be an absolute path"_s;
        QTest::newRow("nothing to back up") << base() + "jobs:\n  etc:\n    repository: main\n"
                                            << u":9:5: jobs.etc: job has nothing to back up"_s;
        QTest::newRow("hook without command")
            << base() + job + "    hooks: {before: [{name: x}]}\n"
            << u"jobs.etc.hooks.before[0].command: required key is missing"_s;
        QTest::newRow("bad retention")
            << base() + job + "    retention: {keep_daily: many}\n"
            << u":11:29: jobs.etc.retention.keep_daily: expected an integer"_s;
        QTest::newRow("archive name without job")
            << base() + job + "    archive_name: '{hostname}-{now}'\n"
            << u":11:19: jobs.etc.archive_name: the pattern must contain {job}"_s;
        QTest::newRow("bad url")
            << QByteArray("node: web-01\nrepositories:\n  main:\n    url: backup:repo\n    "
                          "encryption: none\n")
                + job
            << u":4:10: repositories.main.url: 'backup:repo' is neither an absolute path nor an ssh:// URL"_s;
        QTest::newRow("bad node") << QByteArray("node: Web_01\n") + base().mid(13) + job
                                  << u":1:7: node: 'Web_01' is not a valid node id"_s;
        QTest::newRow("unknown command type")
            << base() + job + "commands: {allowed: [rm.rf]}\n"
            << u"commands.allowed: unknown command type 'rm.rf'"_s;
        QTest::newRow("yaml syntax") << base() + "jobs: [\n" << u":8:1: YAML syntax error"_s;
        QTest::newRow("drill path with ..")
            << base() + job + "    drill: {paths: [/etc/../root]}\n"
            << u":11:20: jobs.etc.drill.paths: path: '..' is not allowed"_s;
        QTest::newRow("bad drill schedule") << base() + job + "    drill: {schedule: 'often'}\n"
                                            << u"jobs.etc.drill.schedule: "_s;
        QTest::newRow("key commands without the role")
            << base() + job + "commands: {allowed: [key.revoke]}\n"
            << u"commands.allowed: key.revoke needs a repository_host section"_s;
        QTest::newRow("repository host without base")
            << base() + job + "repository_host: {borg_user: borg}\n"
            << u"repository_host.base_dir: required key is missing"_s;
        QTest::newRow("repository host base /")
            << base() + job + "repository_host: {base_dir: /}\n"
            << u"repository_host.base_dir: '/' cannot be the repository base directory"_s;
        QTest::newRow("repository host bad node")
            << base() + job + "repository_host: {base_dir: /srv/borg, allowed_nodes: [Web_1]}\n"
            << u"repository_host.allowed_nodes: 'Web_1' is not a valid node id"_s;
    }

    void errors()
    {
        QFETCH(QByteArray, yaml);
        QFETCH(QString, expected);
        const QString file = path(u"bad/agent.yaml"_s);
        write(u"bad/agent.yaml"_s, yaml);
        auto cfg = loadAgentConfig(file);
        QVERIFY(!cfg.hasValue());
        QCOMPARE(cfg.error().code, ErrorCode::Config);
        QVERIFY2(cfg.error().message.contains(expected), qPrintable(cfg.error().message));
        QVERIFY2(cfg.error().message.startsWith(file + u':'), qPrintable(cfg.error().message));
    }

    void everyErrorAtOnce()
    {
        write(u"many/agent.yaml"_s,
            base()
                + "jobs:\n  etc:\n    repository: nope\n    sources: [rel]\n    schedule: 'x'\n");
        auto cfg = loadAgentConfig(path(u"many/agent.yaml"_s));
        QVERIFY(!cfg.hasValue());
        QCOMPARE(cfg.error().message.split(u'\n').size(), 3);
    }

    void confDirDuplicatesAndLimits()
    {
        write(u"cd/agent.yaml"_s,
            base() + "jobs:\n  etc:\n    repository: main\n    sources: [/etc]\n");
        write(u"cd/conf.d/20-dup.yaml"_s,
            "jobs:\n  etc:\n    repository: main\n    sources: [/srv]\n");
        write(u"cd/conf.d/30-node.yaml"_s, "node: other\n");
        write(u"cd/conf.d/notyaml.txt"_s, "ignored: [\n");
        auto cfg = loadAgentConfig(path(u"cd/agent.yaml"_s));
        QVERIFY(!cfg.hasValue());
        const QString msg = cfg.error().message;
        QVERIFY2(msg.contains(path(u"cd/conf.d/20-dup.yaml"_s)
                     + u":3:5: jobs.etc: job 'etc' is already defined at "_s
                     + path(u"cd/agent.yaml"_s) + u":9:5"_s),
            qPrintable(msg));
        QVERIFY2(msg.contains(path(u"cd/conf.d/30-node.yaml"_s)
                     + u":1:1: node: unknown key (expected one of: repositories, jobs)"_s),
            qPrintable(msg));
        QVERIFY(!msg.contains(u"notyaml"_s));
    }

    void explicitConfDir()
    {
        write(u"ex/agent.yaml"_s,
            base() + "jobs:\n  etc:\n    repository: main\n    sources: [/etc]\n");
        write(u"ex-extra/a.yaml"_s, "jobs:\n  srv:\n    repository: main\n    sources: [/srv]\n");
        auto cfg = loadAgentConfig(path(u"ex/agent.yaml"_s), path(u"ex-extra"_s));
        QVERIFY2(cfg.hasValue(), qPrintable(cfg.hasValue() ? QString() : cfg.error().message));
        QVERIFY(cfg->job(u"srv"_s));
    }

    void missingFile()
    {
        auto cfg = loadAgentConfig(path(u"nope/agent.yaml"_s));
        QVERIFY(!cfg.hasValue());
        QVERIFY(cfg.error().message.contains(u"cannot read"_s));
    }
};

QTEST_GUILESS_MAIN(TestAgentConfig)
#include "tst_agentconfig.moc"
