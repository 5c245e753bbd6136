// The orchestrator's RPC methods that ask an agent (archives.list, archive.browse,
// node.ping, restore.start, drill.start, backup.start, command.get) against the real broker
// and BOTH SQLite and a real PostgreSQL, with an agent-like responder (AgentResponder: a
// node's own broker user that verifies every command's signature and answers through
// sparky.events exactly as the agent does):
//  - archives.list and archive.browse answer with the agent's result; paging params reach
//    the agent unchanged; an over-large result fails cleanly;
//  - a node known to be offline, or never seen, is refused at once; a node that never
//    answers times out with an error naming the node and the command id; a refusal carries
//    the agent's reason;
//  - restore.start and drill.start answer at once with the command id; command.get then
//    shows the run id and the run with its details (null when the run has none);
//  - viewer/operator roles are enforced, and every call is in the audit log;
//  - a redelivered request resumes its wait instead of issuing a second command;
//  - with two replicas on PostgreSQL, the call answered by replica A completes while
//    replica B ingests the agent's answer.

#include "agentresponder.h"
#include "remoterig.h"
#include "commanddispatcher.h"
#include "database.h"
#include "ingestor.h"
#include "orchestratorconfig.h"
#include "orchestratordaemon.h"
#include "rpcclient.h"
#include "rpcserver.h"
#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "sparky/secrets.h"
#include "sparky/signing.h"
#include "testbroker.h"
#include "teststore.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::orchestrator;
using namespace sparky::test;
using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;
using Reply = AgentResponder::Reply;

class TestOrchestratorRemote : public QObject
{
    Q_OBJECT

    std::shared_ptr<TestBroker> m_broker;
    QTemporaryDir m_dir;
    QString m_keyFile;
    std::optional<VerifyKey> m_publicKey;
    int m_serial = 0;

    Expected<StoreSettings> store(const QString &backend)
    {
        const QString tag = u"remote_%1_%2"_s.arg(backend).arg(++m_serial);
        QDir().mkpath(m_dir.filePath(tag));
        return storeFor(backend, m_dir.filePath(tag), tag);
    }

    // A started rig for `backend` whose online node `nodeId` is answered by a responder.
    std::unique_ptr<RemoteRig> rig(
        const QString &backend, const QString &nodeId, const QString &role = u"operator"_s)
    {
        RemoteRig::Setup s { m_broker, m_dir.path(), m_keyFile, *m_publicKey, backend, nodeId, role };
        auto r = RemoteRig::create(s);
        if (!r) {
            qWarning().noquote() << "rig:" << r.error().toString();
            return nullptr;
        }
        return std::move(*r);
    }

    static void backends()
    {
        QTest::addColumn<QString>("backend");
        QTest::newRow("sqlite") << u"sqlite"_s;
        QTest::newRow("postgres") << u"postgres"_s;
    }

    static QJsonObject sampleArchives(const QString &node)
    {
        QJsonArray archives;
        for (int i = 0; i < 3; ++i)
            archives.append(QJsonObject { { u"name"_s, u"%1-home-2026-11-2%2T02:00:00"_s.arg(node).arg(i) },
                { u"id"_s, u"a%1"_s.arg(i) }, { u"start"_s, u"2026-11-2%1T02:00:00.000Z"_s.arg(i) },
                { u"series"_s, u"home"_s }, { u"kind"_s, u"files"_s },
                { u"stats"_s,
                    QJsonObject { { u"original_size"_s, 7340032 }, { u"compressed_size"_s, 3145728 },
                        { u"deduplicated_size"_s, 65536 }, { u"files"_s, 1200 } } } });
        return QJsonObject { { u"job"_s, u"home"_s }, { u"repository"_s, u"ssh://repo/./x"_s },
            { u"total"_s, 3 }, { u"truncated"_s, false }, { u"archives"_s, archives } };
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
    }

    void queriesAnswerWithTheAgentsResult_data() { backends(); }
    void queriesAnswerWithTheAgentsResult()
    {
        QFETCH(QString, backend);
        const QString node = u"rq-"_s + backend;
        auto r = rig(backend, node);
        QVERIFY(r);
        const QJsonObject archives = sampleArchives(node);
        r->agent()->script(QString(proto::type::ArchivesList), Reply::succeed(archives));

        // archives.list: the reply carries the agent's result, as it sent it.
        auto listed = r->call(u"archives.list"_s, { { u"node"_s, node }, { u"job"_s, u"home"_s } });
        QVERIFY2(listed->isOk(), qPrintable(describeCall(*listed)));
        QCOMPARE(listed->result().value("result"_L1).toObject(), archives);
        const QString listId = listed->result().value("command_id"_L1).toString();
        QCOMPARE(listed->result().value("node"_L1).toString(), node);
        QVERIFY(r->agent()->verifyFailures().isEmpty());
        QCOMPARE(r->agent()->received().size(), 1);
        QCOMPARE(r->agent()->received().first().id, listId);
        QCOMPARE(r->agent()->received().first().type, u"archives.list"_s);
        QCOMPARE(r->agent()->received().first().body, (QJsonObject { { u"job"_s, u"home"_s } }));
        // Recorded: the command (issued by the caller, succeeded, with its result) …
        QCOMPARE(r->text(u"SELECT state FROM commands WHERE id = ?"_s, { listId }), u"succeeded"_s);
        QCOMPARE(r->text(u"SELECT issued_by FROM commands WHERE id = ?"_s, { listId }),
            m_broker->operatorUser().user);
        // … and the call, in the audit log.
        QCOMPARE(r->count(u"SELECT COUNT(*) FROM audit_log WHERE method = 'archives.list' AND ok = 1"
                          " AND actor = ? AND result LIKE ?"_s,
                     { m_broker->operatorUser().user, QString(u'%' + listId + u'%') }),
            1);

        // archive.browse: path and paging go to the agent unchanged; its page comes back.
        const QJsonObject page { { u"path"_s, u"srv/www"_s }, { u"total"_s, 1234 },
            { u"offset"_s, 2 }, { u"page_size"_s, 2 }, { u"next_cursor"_s, u"f/index.html"_s },
            { u"entries"_s,
                QJsonArray { QJsonObject { { u"name"_s, u"css"_s }, { u"type"_s, u"dir"_s } },
                    QJsonObject { { u"name"_s, u"a.html"_s }, { u"type"_s, u"file"_s },
                        { u"size"_s, 42 } } } } };
        r->agent()->script(QString(proto::type::ArchiveBrowse), Reply::succeed(page));
        const QJsonObject browseParams { { u"node"_s, node }, { u"job"_s, u"home"_s },
            { u"archive"_s, u"a1"_s }, { u"path"_s, u"srv/www"_s }, { u"page_size"_s, 2 },
            { u"cursor"_s, u"d/css"_s } };
        auto browsed = r->call(u"archive.browse"_s, browseParams);
        QVERIFY2(browsed->isOk(), qPrintable(describeCall(*browsed)));
        QCOMPARE(browsed->result().value("result"_L1).toObject(), page);
        QCOMPARE(r->agent()->received().last().body,
            (QJsonObject { { u"job"_s, u"home"_s }, { u"archive"_s, u"a1"_s },
                { u"path"_s, u"srv/www"_s }, { u"page_size"_s, 2 }, { u"cursor"_s, u"d/css"_s } }));
        auto byPage = r->call(u"archive.browse"_s,
            { { u"node"_s, node }, { u"job"_s, u"home"_s }, { u"archive"_s, u"a1"_s },
                { u"page"_s, 3 } });
        QVERIFY2(byPage->isOk(), qPrintable(describeCall(*byPage)));
        QCOMPARE(r->agent()->received().last().body.value("page"_L1).toInt(), 3);

        // Bad params never reach the agent.
        const int before = int(r->agent()->received().size());
        auto both = r->call(u"archive.browse"_s,
            { { u"node"_s, node }, { u"job"_s, u"home"_s }, { u"archive"_s, u"a1"_s },
                { u"page"_s, 1 }, { u"cursor"_s, u"d/x"_s } });
        QCOMPARE(both->errorCode(), u"invalid_params"_s);
        QVERIFY2(both->errorString().contains(u"page or cursor"_s), qPrintable(both->errorString()));
        auto unknown = r->call(u"archives.list"_s,
            { { u"node"_s, node }, { u"job"_s, u"home"_s }, { u"jobs"_s, u"x"_s } });
        QCOMPARE(unknown->errorCode(), u"invalid_params"_s);
        QVERIFY(unknown->errorString().contains(u"params.jobs"_s));
        QCOMPARE(r->agent()->received().size(), before);

        // node.ping answers with the agent's own report.
        r->agent()->script(QString(proto::type::AgentPing),
            Reply::succeed({ { u"version"_s, u"0.1.0"_s } }));
        auto ping = r->call(u"node.ping"_s, { { u"node"_s, node } });
        QVERIFY2(ping->isOk(), qPrintable(describeCall(*ping)));
        QCOMPARE(ping->result().value("result"_L1).toObject().value("version"_L1).toString(),
            u"0.1.0"_s);

        // A result too large to hand back fails the command with the reason; nothing is cut.
        r->agent()->script(QString(proto::type::ArchivesList),
            Reply::succeed({ { u"blob"_s, QString(950 * 1024, u'x') } }));
        auto huge = r->call(u"archives.list"_s, { { u"node"_s, node }, { u"job"_s, u"home"_s } });
        QCOMPARE(huge->errorCode(), u"command_failed"_s);
        QVERIFY2(huge->errorString().contains(u"larger than the orchestrator keeps"_s),
            qPrintable(huge->errorString()));
        QCOMPARE(r->count(u"SELECT COUNT(*) FROM commands WHERE node = ? AND result IS NOT NULL"
                          " AND LENGTH(result) > 900000"_s,
                     { node }),
            0);
    }

    void refusalsAreClearAndImmediate_data() { backends(); }
    void refusalsAreClearAndImmediate()
    {
        QFETCH(QString, backend);
        const QString node = u"rr-"_s + backend;
        auto r = rig(backend, node);
        QVERIFY(r);

        // A node last heard from an hour ago: refused at once, naming it and since when.
        const QString stale = u"rr-stale-"_s + backend;
        auto staleSettings = m_broker->node(stale);
        QVERIFY(staleSettings);
        {
            AgentResponder old(*staleSettings, *m_publicKey);
            QVERIFY(old.start());
            QVERIFY(old.announce(QDateTime::currentDateTimeUtc().addSecs(-3600)));
            old.stop();
        }
        QTRY_COMPARE_WITH_TIMEOUT(
            r->count(u"SELECT COUNT(*) FROM nodes WHERE node = ?"_s, { stale }), 1, 15000);
        QElapsedTimer clock;
        clock.start();
        auto offline = r->call(u"archives.list"_s, { { u"node"_s, stale }, { u"job"_s, u"home"_s } });
        QCOMPARE(offline->errorCode(), u"node_offline"_s);
        QVERIFY2(clock.elapsed() < 3000, "an offline node must be refused at once");
        QVERIFY2(offline->errorString().contains(stale) && offline->errorString().contains(u"since"_s),
            qPrintable(offline->errorString()));
        QVERIFY(offline->errorData().value("last_seen"_L1).isString());
        // Never heard of: refused too, and no command was issued to either.
        auto never = r->call(u"node.ping"_s, { { u"node"_s, u"rr-never-seen"_s } });
        QCOMPARE(never->errorCode(), u"node_offline"_s);
        QVERIFY(never->errorString().contains(u"never reported"_s));
        QCOMPARE(r->count(u"SELECT COUNT(*) FROM commands WHERE node IN (?, ?)"_s,
                     { stale, u"rr-never-seen"_s }),
            0);
        QCOMPARE(r->count(u"SELECT COUNT(*) FROM audit_log WHERE ok = 0 AND error LIKE '%node_offline%'"_s), 2);

        // A node that never answers: a timeout naming the node and the command id.
        r->agent()->script(QString(proto::type::AgentPing), Reply::ignore());
        clock.restart();
        auto silent = r->call(u"node.ping"_s, { { u"node"_s, node }, { u"timeout_ms"_s, 1500 } });
        QCOMPARE(silent->errorCode(), u"agent_timeout"_s);
        QVERIFY(clock.elapsed() >= 1500);
        const QString pingId = r->text(
            u"SELECT id FROM commands WHERE node = ? AND type = 'agent.ping'"_s, { node });
        QVERIFY(!pingId.isEmpty());
        QCOMPARE(silent->errorData().value("command_id"_L1).toString(), pingId);
        QVERIFY2(silent->errorString().contains(node) && silent->errorString().contains(pingId)
                && silent->errorString().contains(u"1500 ms"_s),
            qPrintable(silent->errorString()));

        // The agent refuses: its reason comes back.
        r->agent()->script(QString(proto::type::ArchivesList),
            Reply::refuse(Reply::Kind::Reject, u"body.job: no job named 'nope' in this node's configuration"_s));
        auto refused = r->call(u"archives.list"_s, { { u"node"_s, node }, { u"job"_s, u"nope"_s } });
        QCOMPARE(refused->errorCode(), u"agent_rejected"_s);
        QVERIFY2(refused->errorString().contains(u"no job named 'nope'"_s),
            qPrintable(refused->errorString()));
        // It fails: the error comes back too.
        r->agent()->script(QString(proto::type::ArchiveBrowse),
            Reply::refuse(Reply::Kind::Fail, u"archive 'a9' not found"_s));
        auto failed = r->call(u"archive.browse"_s,
            { { u"node"_s, node }, { u"job"_s, u"home"_s }, { u"archive"_s, u"a9"_s } });
        QCOMPARE(failed->errorCode(), u"command_failed"_s);
        QVERIFY(failed->errorString().contains(u"archive 'a9' not found"_s));
        // Every one of them is in the audit log, refused.
        QCOMPARE(r->count(u"SELECT COUNT(*) FROM audit_log WHERE ok = 0 AND method IN"
                          " ('archives.list', 'archive.browse', 'node.ping')"_s),
            5);
    }

    void longOperationsAnswerAtOnce_data() { backends(); }
    void longOperationsAnswerAtOnce()
    {
        QFETCH(QString, backend);
        const QString node = u"rl-"_s + backend;
        auto r = rig(backend, node);
        QVERIFY(r);
        Reply restore = Reply::run(proto::RunKind::Restore);
        restore.runKind = proto::RunKind::Restore;
        restore.details = { { u"files"_s, 3 }, { u"bytes"_s, 12288 } };
        restore.step = std::chrono::milliseconds(400);
        r->agent()->script(QString(proto::type::RestoreExtract), restore);

        const QJsonObject params { { u"node"_s, node }, { u"job"_s, u"home"_s },
            { u"archive"_s, u"a1"_s }, { u"paths"_s, QJsonArray { u"srv/www"_s, u"etc/hosts"_s } },
            { u"target"_s, u"/var/lib/sparky/restore/t1"_s }, { u"strip_components"_s, 1 } };
        auto started = r->call(u"restore.start"_s, params);
        QVERIFY2(started->isOk(), qPrintable(describeCall(*started)));
        const QString id = started->result().value("command_id"_L1).toString();
        QVERIFY(!id.isEmpty());
        // At once: the agent has not finished (its run takes > 1 s).
        QVERIFY(started->result().value("command"_L1).toObject().value("state"_L1).toString()
            == u"pending");
        QCOMPARE(started->result().value("node_online"_L1).toBool(), true);

        // Then the run id, and the run itself, through command.get.
        QString runId;
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
            auto c = r->call(u"command.get"_s, { { u"command_id"_s, id } });
            runId = c->result().value("run_id"_L1).toString();
            return c->isOk() && !runId.isEmpty();
        }()),
            15000);
        QJsonObject followed; // command.get's run once the restore finished
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
            auto c = r->call(u"command.get"_s, { { u"command_id"_s, id } });
            followed = c->result().value("run"_L1).toObject();
            return c->result().value("state"_L1).toString() == u"succeeded"
                && followed.value("status"_L1).toString() == u"success"
                && followed.value("kind"_L1).toString() == u"restore"
                && followed.value("command_id"_L1).toString() == id;
        }()),
            15000);
        // command.get carries the run's details (where the restore went) — the same as
        // run.get's — but not its steps or log tail.
        QCOMPARE(followed.value("details"_L1).toObject(), restore.details);
        QVERIFY(!followed.contains("steps"_L1));
        QVERIFY(!followed.contains("log_tail"_L1));
        auto run = r->call(u"run.get"_s, { { u"node"_s, node }, { u"run_id"_s, runId } });
        QVERIFY(run->isOk());
        QCOMPARE(run->result().value("details"_L1).toObject().value("bytes"_L1).toInt(), 12288);
        QCOMPARE(run->result().value("details"_L1).toObject(), followed.value("details"_L1).toObject());
        // The agent got the body with its field names.
        QCOMPARE(r->agent()->received().last().type, u"restore.extract"_s);
        QCOMPARE(r->agent()->received().last().body,
            (QJsonObject { { u"job"_s, u"home"_s }, { u"archive"_s, u"a1"_s },
                { u"paths"_s, QJsonArray { u"srv/www"_s, u"etc/hosts"_s } },
                { u"target"_s, u"/var/lib/sparky/restore/t1"_s }, { u"strip_components"_s, 1 } }));

        // drill.start and backup.start fit the same model.
        Reply drill = Reply::run(proto::RunKind::Restore);
        drill.runKind = proto::RunKind::Drill;
        drill.runStatus = proto::Status::Failed;
        drill.error = u"file srv/www/a.html: sha256 differs from the archive"_s;
        r->agent()->script(QString(proto::type::DrillRun), drill);
        auto drilled = r->call(u"drill.start"_s, { { u"node"_s, node }, { u"job"_s, u"home"_s } });
        QVERIFY2(drilled->isOk(), qPrintable(describeCall(*drilled)));
        const QString drillId = drilled->result().value("command_id"_L1).toString();
        QTRY_COMPARE_WITH_TIMEOUT(
            r->text(u"SELECT state FROM commands WHERE id = ?"_s, { drillId }), u"failed"_s, 15000);
        QVERIFY(r->text(u"SELECT error FROM commands WHERE id = ?"_s, { drillId }).contains(u"sha256 differs"_s));
        QTRY_COMPARE_WITH_TIMEOUT(
            r->text(u"SELECT status FROM runs WHERE command_id = ? AND kind = 'drill'"_s, { drillId }),
            u"failed"_s, 15000);
        // A run that reported no details: command.get says so with null.
        auto drillCommand = r->call(u"command.get"_s, { { u"command_id"_s, drillId } });
        QVERIFY2(drillCommand->isOk(), qPrintable(describeCall(*drillCommand)));
        const QJsonObject drillRun = drillCommand->result().value("run"_L1).toObject();
        QCOMPARE(drillRun.value("kind"_L1).toString(), u"drill"_s);
        QVERIFY(drillRun.contains("details"_L1));
        QVERIFY(drillRun.value("details"_L1).isNull());
        auto backup = r->call(u"backup.start"_s, { { u"node"_s, node }, { u"job"_s, u"home"_s } });
        QVERIFY2(backup->isOk(), qPrintable(describeCall(*backup)));
        QCOMPARE(backup->result().value("command"_L1).toObject().value("type"_L1).toString(),
            u"backup.run"_s);
        QCOMPARE(backup->result().value("command_id"_L1),
            backup->result().value("command"_L1).toObject().value("id"_L1));
        // To an offline node a long operation is still queued, with a warning.
        auto queued = r->call(u"drill.start"_s, { { u"node"_s, u"rl-nobody"_s }, { u"job"_s, u"home"_s } });
        QVERIFY(queued->isOk());
        QCOMPARE(queued->result().value("node_online"_L1).toBool(), false);
        QVERIFY(queued->result().value("warning"_L1).toString().contains(u"never reported"_s));
        auto unknown = r->call(u"command.get"_s, { { u"command_id"_s, u"no-such-command"_s } });
        QCOMPARE(unknown->errorCode(), u"not_found"_s);
        QCOMPARE(r->count(u"SELECT COUNT(*) FROM audit_log WHERE ok = 1 AND method IN"
                          " ('restore.start', 'drill.start', 'backup.start')"_s),
            4);
        QVERIFY(r->agent()->verifyFailures().isEmpty());
    }

    void rolesAreEnforcedAndAudited_data() { backends(); }
    void rolesAreEnforcedAndAudited()
    {
        QFETCH(QString, backend);
        const QString node = u"ra-"_s + backend;
        auto r = rig(backend, node, u"viewer"_s);
        QVERIFY(r);
        r->agent()->script(QString(proto::type::ArchivesList),
            Reply::succeed(sampleArchives(node)));
        r->agent()->script(QString(proto::type::AgentPing), Reply::succeed({}));
        const QString user = m_broker->operatorUser().user;

        // A viewer may not browse (file names can be sensitive) nor restore or drill …
        for (const auto &[method, params] : QList<std::pair<QString, QJsonObject>> {
                 { u"archives.list"_s, { { u"node"_s, node }, { u"job"_s, u"home"_s } } },
                 { u"archive.browse"_s,
                     { { u"node"_s, node }, { u"job"_s, u"home"_s }, { u"archive"_s, u"a"_s } } },
                 { u"restore.start"_s,
                     { { u"node"_s, node }, { u"job"_s, u"home"_s }, { u"archive"_s, u"a"_s } } },
                 { u"drill.start"_s, { { u"node"_s, node }, { u"job"_s, u"home"_s } } } }) {
            auto c = r->call(method, params);
            QCOMPARE(c->errorCode(), u"forbidden"_s);
            QVERIFY2(c->errorString().contains(u"operator"_s), qPrintable(c->errorString()));
        }
        // … but may ask whether a node is alive and read commands.
        auto ping = r->call(u"node.ping"_s, { { u"node"_s, node } });
        QVERIFY2(ping->isOk(), qPrintable(describeCall(*ping)));
        auto read = r->call(u"command.get"_s,
            { { u"command_id"_s, ping->result().value("command_id"_L1).toString() } });
        QVERIFY(read->isOk());
        QCOMPARE(r->agent()->received().size(), 1); // only the ping reached the agent

        // As operator, the same user may.
        RoleMap roles;
        roles.set(user, Role::Operator);
        r->daemon()->rpcServer()->setRoles(roles);
        auto listed = r->call(u"archives.list"_s, { { u"node"_s, node }, { u"job"_s, u"home"_s } });
        QVERIFY2(listed->isOk(), qPrintable(describeCall(*listed)));

        // Every call that asked an agent, allowed or not, is audited with who and what.
        QCOMPARE(r->count(u"SELECT COUNT(*) FROM audit_log WHERE actor = ? AND ok = 0"
                          " AND role = 'viewer'"_s,
                     { user }),
            4);
        QCOMPARE(r->count(u"SELECT COUNT(*) FROM audit_log WHERE actor = ? AND ok = 1"
                          " AND method IN ('node.ping', 'archives.list')"_s,
                     { user }),
            2);
        QVERIFY(r->text(u"SELECT params FROM audit_log WHERE method = 'restore.start'"_s)
                    .contains(node));
        QCOMPARE(r->count(u"SELECT COUNT(*) FROM audit_log WHERE method = 'command.get'"_s), 0);
    }

    void redeliveredRequestResumesItsWait()
    {
        // The same request id twice (a redelivery after a crash between issuing and acking):
        // one command, and both deliveries get the agent's answer.
        const QString node = u"rd-sqlite"_s;
        auto r = rig(u"sqlite"_s, node);
        QVERIFY(r);
        const QJsonObject archives = sampleArchives(node);
        r->agent()->script(QString(proto::type::ArchivesList), Reply::succeed(archives));
        RpcServer *server = r->daemon()->rpcServer();
        const QString user = m_broker->operatorUser().user;
        const QJsonObject params { { u"node"_s, node }, { u"job"_s, u"home"_s } };
        QList<QJsonObject> answers;
        server->handleAsync(user, u"req-redelivered-1"_s, u"archives.list"_s, params,
            [&](const QJsonObject &a) { answers.append(a); });
        server->handleAsync(user, u"req-redelivered-1"_s, u"archives.list"_s, params,
            [&](const QJsonObject &a) { answers.append(a); });
        QVERIFY(answers.isEmpty()); // never inside the call
        QTRY_COMPARE_WITH_TIMEOUT(answers.size(), 2, 15000);
        for (const QJsonObject &a : std::as_const(answers)) {
            QVERIFY(a.value("ok"_L1).toBool());
            QCOMPARE(a.value("result"_L1).toObject().value("result"_L1).toObject(), archives);
        }
        QCOMPARE(r->agent()->received().size(), 1);
        QCOMPARE(r->count(u"SELECT COUNT(*) FROM commands WHERE node = ?"_s, { node }), 1);
        // And once settled, a third delivery gets the same answer without waiting.
        server->handleAsync(user, u"req-redelivered-1"_s, u"archives.list"_s, params,
            [&](const QJsonObject &a) { answers.append(a); });
        QTRY_COMPARE_WITH_TIMEOUT(answers.size(), 3, 5000);
        const QJsonObject first = answers.first().value("result"_L1).toObject();
        const QJsonObject last = answers.last().value("result"_L1).toObject();
        QCOMPARE(last.value("command_id"_L1), first.value("command_id"_L1));
        QCOMPARE(last.value("result"_L1), first.value("result"_L1));
        QCOMPARE(r->agent()->received().size(), 1);
    }

    void twoReplicasOnPostgres()
    {
        // Replica A answers RPC (and dispatches commands) but ingests nothing; replica B only
        // ingests. A's call completes from what B stored: the store is the meeting point.
        auto settings = store(u"postgres"_s);
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().toString()));
        const QString node = u"rep-pg"_s;
        auto nodeSettings = m_broker->node(node);
        QVERIFY(nodeSettings);

        auto dbA = Database::open(*settings, u"replica-a"_s);
        QVERIFY2(dbA, qPrintable(dbA ? QString() : dbA.error().toString()));
        auto key = SigningKey::load(m_keyFile);
        QVERIFY(key);
        AmqpClient amqpA(m_broker->orchestrator());
        CommandDispatcher commandsA(&amqpA, dbA->get(), *key, CommandSettings {});
        RoleMap roles;
        roles.set(m_broker->operatorUser().user, Role::Operator);
        RpcServer rpcA(&amqpA, dbA->get(), &commandsA, roles, RpcSettings {});
        AmqpClient amqpB(m_broker->orchestrator());
        Ingestor ingestB(&amqpB, *settings, IngestSettings {}, nullptr, u"replica-b-ingest"_s);
        QSignalSpy upA(&amqpA, &AmqpClient::connected);
        QSignalSpy upB(&amqpB, &AmqpClient::connected);
        rpcA.start();
        ingestB.start();
        amqpA.start();
        amqpB.start();
        QVERIFY(upA.wait(15000) || !upA.isEmpty());
        QVERIFY(upB.wait(15000) || !upB.isEmpty());

        AgentResponder agent(*nodeSettings, *m_publicKey);
        QVERIFY(agent.start());
        const QJsonObject archives = sampleArchives(node);
        agent.script(QString(proto::type::ArchivesList), Reply::succeed(archives));
        QVERIFY(agent.announce());
        auto observer = Database::open(*settings, u"replica-observer"_s, false);
        QVERIFY(observer);
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
            auto q = (*observer)->exec(u"SELECT COUNT(*) FROM nodes WHERE node = ?"_s, { node });
            return q && q->next() && q->value(0).toInt() == 1;
        }()),
            15000);
        const quint64 storedBefore = ingestB.stats().stored;

        AmqpClient client(m_broker->operatorUser());
        RpcClient rpc(&client);
        QSignalSpy up(&client, &AmqpClient::connected);
        client.start();
        QVERIFY(up.wait(15000) || !up.isEmpty());
        RpcCall *c = rpc.call(u"archives.list"_s, { { u"node"_s, node }, { u"job"_s, u"home"_s } },
            std::chrono::seconds(20));
        c->setAutoDelete(false);
        std::unique_ptr<RpcCall> call(c);
        QTRY_VERIFY_WITH_TIMEOUT(call->isFinished(), 20000);
        QVERIFY2(call->isOk(), qPrintable(describeCall(*call)));
        QCOMPARE(call->result().value("result"_L1).toObject(), archives);
        // B stored the agent's answer; A, which has no ingestor, found it by polling the store.
        QTRY_VERIFY_WITH_TIMEOUT(ingestB.stats().stored > storedBefore, 5000);
        QVERIFY(rpcA.waitingCalls() == 0);

        client.stop();
        agent.stop();
        ingestB.stop();
        rpcA.stop();
        amqpA.stop();
        amqpB.stop();
    }
};

QTEST_GUILESS_MAIN(TestOrchestratorRemote)
#include "tst_orchestrator_remote.moc"
