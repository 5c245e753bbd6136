// The real sparky-admin-cli binary against an orchestrator (the daemon's wiring, in this
// process, on SQLite) and an agent-like responder on the real broker: archives, ls with
// paging, restore --wait and run --wait following a run to its end with progress lines
// and the borg-like exit code, ping, status/runs/commands, --json, and the errors an
// operator meets — node offline, agent refused, not allowed, timeout, bad usage, bad
// config — each with a clear message on stderr and exit code 2.

#include "agentresponder.h"
#include "remoterig.h"
#include "rolemap.h"
#include "rpcserver.h"
#include "sparky/protocol.h"
#include "sparky/secrets.h"
#include "testbroker.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;
using Reply = AgentResponder::Reply;

namespace {

struct Run
{
    int code = -1;
    QString out;
    QString err;
};

} // namespace

class TestAdminCli : public QObject
{
    Q_OBJECT

    std::shared_ptr<TestBroker> m_broker;
    QTemporaryDir m_dir;
    QString m_keyFile;
    std::optional<VerifyKey> m_publicKey;
    std::unique_ptr<RemoteRig> m_rig;
    QString m_config;
    QString m_node = u"cli-node"_s;

    // Runs the binary while this process's event loop serves the orchestrator and agent.
    Run ctl(const QStringList &args, int timeoutMs = 60000)
    {
        QProcess p;
        p.start(binaryPath(u"orchestrator/ctl/sparky-admin-cli"_s), QStringList { u"-c"_s, m_config } + args);
        Run r;
        if (!p.waitForStarted(10000))
            return r;
        QString out;
        QString err;
        QObject::connect(&p, &QProcess::readyReadStandardOutput, &p,
            [&] { out += QString::fromUtf8(p.readAllStandardOutput()); });
        QObject::connect(&p, &QProcess::readyReadStandardError, &p,
            [&] { err += QString::fromUtf8(p.readAllStandardError()); });
        if (!QTest::qWaitFor([&] { return p.state() == QProcess::NotRunning; }, timeoutMs)) {
            p.kill();
            p.waitForFinished(5000);
            r.err = u"TIMED OUT: "_s + err;
            return r;
        }
        out += QString::fromUtf8(p.readAllStandardOutput());
        err += QString::fromUtf8(p.readAllStandardError());
        r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
        r.out = out;
        r.err = err;
        if (qEnvironmentVariableIsSet("SPARKY_SHOW_CTL"))
            qInfo().noquote() << "$ sparky-admin-cli" << args.join(u' ') << "\n" << describe(r);
        return r;
    }

    static QByteArray describe(const Run &r)
    {
        return (u"exit %1\n--- stdout\n%2\n--- stderr\n%3"_s.arg(r.code).arg(r.out, r.err)).toUtf8();
    }

    QString writeConfig(const QString &name, const QByteArray &extra = {})
    {
        const BrokerSettings b = m_broker->operatorUser();
        const QByteArray yaml = "broker:\n  hosts: [\"" + b.endpoints.first().toString().toUtf8()
            + "\"]\n  vhost: " + b.vhost.toUtf8() + "\n  user: " + b.user.toUtf8()
            + "\n  token_file: " + b.tokenFile.toUtf8() + "\n  tls:\n    ca_file: "
            + b.caFile.toUtf8() + "\nrpc:\n  timeout: 10s\n" + extra;
        const QString path = m_dir.filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(yaml) != yaml.size())
            qFatal("cannot write %s", qPrintable(path));
        return path;
    }

private Q_SLOTS:
    void initTestCase()
    {
        auto b = TestBroker::shared();
        QVERIFY2(b, qPrintable(b ? QString() : b.error().toString()));
        m_broker = *b;
        auto key = SigningKey::generate();
        QVERIFY(key);
        m_keyFile = m_dir.filePath(u"orchestrator.key"_s);
        QVERIFY(writeSecretFile(m_keyFile, key->toPem()));
        auto pub = VerifyKey::fromBase64(key->publicKeyBase64());
        QVERIFY(pub);
        m_publicKey = *pub;
        RemoteRig::Setup s { m_broker, m_dir.path(), m_keyFile, *m_publicKey, u"sqlite"_s, m_node };
        auto rig = RemoteRig::create(s);
        QVERIFY2(rig, qPrintable(rig ? QString() : rig.error().toString()));
        m_rig = std::move(*rig);
        m_config = writeConfig(u"ctl.yaml"_s);

        QJsonArray archives;
        for (int i = 1; i <= 2; ++i)
            archives.append(QJsonObject { { u"name"_s, u"cli-node-home-2026-11-2%1T02:00:00"_s.arg(i) },
                { u"id"_s, u"a%1"_s.arg(i) }, { u"start"_s, u"2026-11-2%1T02:00:00.000Z"_s.arg(i) },
                { u"kind"_s, u"files"_s },
                { u"stats"_s,
                    QJsonObject { { u"original_size"_s, 7340032 }, { u"compressed_size"_s, 3145728 },
                        { u"deduplicated_size"_s, 65536 }, { u"files"_s, 1200 } } } });
        m_rig->agent()->script(QString(proto::type::ArchivesList),
            Reply::succeed({ { u"job"_s, u"home"_s }, { u"total"_s, 2 }, { u"truncated"_s, false },
                    { u"archives"_s, archives } }));
        m_rig->agent()->script(QString(proto::type::ArchiveBrowse),
            Reply::succeed({ { u"path"_s, u"srv/www"_s }, { u"total"_s, 5 }, { u"offset"_s, 0 },
                    { u"page_size"_s, 2 }, { u"next_cursor"_s, u"f/b.html"_s },
                    { u"entries"_s,
                        QJsonArray { QJsonObject { { u"name"_s, u"css"_s }, { u"type"_s, u"dir"_s } },
                            QJsonObject { { u"name"_s, u"a.html"_s }, { u"type"_s, u"file"_s },
                                { u"size"_s, 2048 }, { u"mode"_s, u"-rw-r--r--"_s },
                                { u"mtime"_s, u"2026-11-20T10:00:00.000Z"_s } } } } }));
        m_rig->agent()->script(QString(proto::type::AgentPing),
            Reply::succeed({ { u"version"_s, u"0.1.0"_s }, { u"time"_s, u"2026-11-25T10:00:00.000Z"_s } }));
    }

    void cleanupTestCase() { m_rig.reset(); }

    void archivesAndLs()
    {
        const Run a = ctl({ u"archives"_s, m_node, u"home"_s });
        QVERIFY2(a.code == 0, describe(a).constData());
        QVERIFY2(a.out.contains(u"cli-node-home-2026-11-21T02:00:00"_s)
                && a.out.contains(u"cli-node-home-2026-11-22T02:00:00"_s) && a.out.contains(u"7.0 MiB"_s),
            describe(a).constData());
        QVERIFY(a.out.contains(u"2 of 2 archives"_s));

        const Run j = ctl({ u"--json"_s, u"archives"_s, m_node, u"home"_s, u"--last"_s, u"2"_s });
        QVERIFY2(j.code == 0, describe(j).constData());
        const QJsonObject doc = QJsonDocument::fromJson(j.out.toUtf8()).object();
        QCOMPARE(doc.value("result"_L1).toObject().value("archives"_L1).toArray().size(), 2);
        QVERIFY(!doc.value("command_id"_L1).toString().isEmpty());
        QCOMPARE(m_rig->agent()->received().last().body.value("last"_L1).toInt(), 2);

        const Run l = ctl({ u"ls"_s, m_node, u"home"_s, u"cli-node-home-2026-11-22T02:00:00"_s,
            u"srv/www"_s, u"--page-size"_s, u"2"_s, u"--cursor"_s, u"d/a"_s });
        QVERIFY2(l.code == 0, describe(l).constData());
        QVERIFY2(l.out.contains(u"css/"_s) && l.out.contains(u"a.html"_s)
                && l.out.contains(u"2.0 KiB"_s) && l.out.contains(u"-rw-r--r--"_s),
            describe(l).constData());
        QVERIFY2(l.err.contains(u"5 entries in /srv/www"_s) && l.err.contains(u"--cursor f/b.html"_s),
            describe(l).constData());
        QCOMPARE(m_rig->agent()->received().last().body,
            (QJsonObject { { u"job"_s, u"home"_s },
                { u"archive"_s, u"cli-node-home-2026-11-22T02:00:00"_s }, { u"path"_s, u"srv/www"_s },
                { u"page_size"_s, 2 }, { u"cursor"_s, u"d/a"_s } }));

        const Run p = ctl({ u"ping"_s, m_node });
        QVERIFY2(p.code == 0 && p.out.contains(u"cli-node: alive, agent 0.1.0"_s), describe(p).constData());
    }

    void restoreAndRunWaitFollowToTheEnd()
    {
        Reply restore = Reply::run(proto::RunKind::Restore);
        restore.runKind = proto::RunKind::Restore;
        restore.details = { { u"files"_s, 3 }, { u"bytes"_s, 12288 },
            { u"target"_s, u"/var/lib/sparky/restore/x"_s } };
        restore.progressEvents = 3;
        restore.step = std::chrono::milliseconds(700);
        m_rig->agent()->script(QString(proto::type::RestoreExtract), restore);
        const Run r = ctl({ u"restore"_s, m_node, u"home"_s, u"cli-node-home-2026-11-22T02:00:00"_s,
            u"srv/www/a.html"_s, u"etc/hosts"_s, u"--to"_s, u"/var/lib/sparky/restore/x"_s,
            u"--strip-components"_s, u"1"_s, u"--wait"_s });
        QVERIFY2(r.code == 0, describe(r).constData());
        QVERIFY2(r.out.contains(u"restore of cli-node/home"_s) && r.out.contains(u": success"_s)
                && r.out.contains(u"12.0 KiB"_s) && r.out.contains(u"/var/lib/sparky/restore/x"_s),
            describe(r).constData());
        QVERIFY2(r.err.contains(u"started on cli-node"_s) && r.err.contains(u"extract:"_s), describe(r).constData());
        const Envelope sent = m_rig->agent()->received().last();
        QCOMPARE(sent.type, u"restore.extract"_s);
        QCOMPARE(sent.body.value("paths"_L1).toArray(),
            (QJsonArray { u"srv/www/a.html"_s, u"etc/hosts"_s }));
        QCOMPARE(sent.body.value("strip_components"_L1).toInt(), 1);
        QCOMPARE(sent.body.value("target"_L1).toString(), u"/var/lib/sparky/restore/x"_s);

        // A backup that ends with a warning: exit 1, like borg.
        Reply backup = Reply::run(proto::RunKind::Restore);
        backup.runKind = proto::RunKind::Backup;
        backup.runStatus = proto::Status::Warning;
        backup.progressEvents = 1;
        m_rig->agent()->script(QString(proto::type::BackupRun), backup);
        const Run w = ctl({ u"run"_s, m_node, u"home"_s, u"--wait"_s });
        QVERIFY2(w.code == 1 && w.out.contains(u": warning"_s), describe(w).constData());

        // A failed drill: exit 2 with the reason; --json gives the command and the run.
        Reply drill = Reply::run(proto::RunKind::Restore);
        drill.runKind = proto::RunKind::Drill;
        drill.runStatus = proto::Status::Failed;
        drill.error = u"srv/www/a.html: sha256 differs from the archive"_s;
        drill.progressEvents = 0;
        m_rig->agent()->script(QString(proto::type::DrillRun), drill);
        const Run d = ctl({ u"--json"_s, u"drill"_s, m_node, u"home"_s, u"--wait"_s });
        QVERIFY2(d.code == 2, describe(d).constData());
        const QJsonObject doc = QJsonDocument::fromJson(d.out.toUtf8()).object();
        QCOMPARE(doc.value("run"_L1).toObject().value("status"_L1).toString(), u"failed"_s);
        QVERIFY(doc.value("run"_L1).toObject().value("error"_L1).toString().contains(u"sha256 differs"_s));
        QCOMPARE(doc.value("command"_L1).toObject().value("state"_L1).toString(), u"failed"_s);

        // Without --wait: the command id on stdout, for scripts.
        const Run n = ctl({ u"run"_s, m_node, u"home"_s });
        QVERIFY2(n.code == 0, describe(n).constData());
        const QString id = n.out.trimmed();
        QVERIFY(!id.isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(
            m_rig->text(u"SELECT state FROM commands WHERE id = ?"_s, { id }), u"succeeded"_s, 15000);
        const Run c = ctl({ u"command"_s, id });
        QVERIFY2(c.code == 0 && c.out.contains(u"succeeded"_s) && c.out.contains(u"backup.run"_s), describe(c).constData());

        // The overview commands read what happened.
        const Run runs = ctl({ u"runs"_s, u"--node"_s, m_node, u"--limit"_s, u"10"_s });
        QVERIFY2(runs.code == 0 && runs.out.contains(u"restore"_s) && runs.out.contains(u"drill"_s)
                && runs.out.contains(u"warning"_s),
            describe(runs).constData());
        const Run cmds = ctl({ u"commands"_s, u"--node"_s, m_node });
        QVERIFY2(cmds.code == 0 && cmds.out.contains(u"restore.extract"_s)
                && cmds.out.contains(u"archive.browse"_s),
            describe(cmds).constData());
        const Run status = ctl({ u"status"_s });
        QVERIFY2(status.code == 0 && status.out.startsWith(u"fleet "_s) && status.out.contains(m_node),
            describe(status).constData());
    }

    void errorsAreClear()
    {
        // The agent refuses: its reason, exit 2.
        m_rig->agent()->script(QString(proto::type::ArchivesList),
            Reply::refuse(Reply::Kind::Reject, u"body.job: no job named 'nope'"_s));
        const Run refused = ctl({ u"archives"_s, m_node, u"nope"_s });
        QVERIFY2(refused.code == 2 && refused.err.contains(u"refused by the agent"_s)
                && refused.err.contains(u"no job named 'nope'"_s),
            describe(refused).constData());

        // A node that is not there: at once, naming it.
        const Run offline = ctl({ u"ls"_s, u"cli-ghost"_s, u"home"_s, u"a1"_s });
        QVERIFY2(offline.code == 2 && offline.err.contains(u"node offline"_s)
                && offline.err.contains(u"cli-ghost"_s),
            describe(offline).constData());
        const Run offlineJson = ctl({ u"--json"_s, u"ping"_s, u"cli-ghost"_s });
        QCOMPARE(offlineJson.code, 2);
        QCOMPARE(QJsonDocument::fromJson(offlineJson.out.toUtf8())
                     .object()
                     .value("error"_L1)
                     .toObject()
                     .value("code"_L1)
                     .toString(),
            u"node_offline"_s);

        // An agent that does not answer: timeout, naming the command.
        m_rig->agent()->script(QString(proto::type::AgentPing), Reply::ignore());
        const Run silent = ctl({ u"ping"_s, m_node, u"--timeout"_s, u"2s"_s });
        QVERIFY2(silent.code == 2 && silent.err.contains(u"timeout"_s)
                && silent.err.contains(u"did not answer"_s) && silent.err.contains(u"command "_s),
            describe(silent).constData());

        // A viewer may not restore.
        orchestrator::RoleMap roles;
        roles.set(m_broker->operatorUser().user, orchestrator::Role::Viewer);
        m_rig->daemon()->rpcServer()->setRoles(roles);
        const Run denied = ctl({ u"restore"_s, m_node, u"home"_s, u"a1"_s, u"etc"_s });
        roles.set(m_broker->operatorUser().user, orchestrator::Role::Operator);
        m_rig->daemon()->rpcServer()->setRoles(roles);
        QVERIFY2(denied.code == 2 && denied.err.contains(u"not allowed"_s)
                && denied.err.contains(u"operator role"_s),
            describe(denied).constData());

        // Usage and configuration mistakes.
        const Run usage = ctl({ u"restore"_s, m_node });
        QVERIFY2(usage.code == 2 && usage.err.contains(u"usage: sparky-admin-cli"_s), describe(usage).constData());
        const Run badNumber = ctl({ u"runs"_s, u"--limit"_s, u"many"_s });
        QVERIFY2(badNumber.code == 2 && badNumber.err.contains(u"--limit"_s), describe(badNumber).constData());
        const QString bad = writeConfig(u"bad.yaml"_s, "bogus: 1\n");
        QProcess p;
        p.start(binaryPath(u"orchestrator/ctl/sparky-admin-cli"_s), { u"-c"_s, bad, u"status"_s });
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitCode(), 2);
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QVERIFY2(err.contains(u"bad.yaml:"_s) && err.contains(u"bogus"_s), qPrintable(err));
    }
};

QTEST_GUILESS_MAIN(TestAdminCli)
#include "tst_admin_cli.moc"
