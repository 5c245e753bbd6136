// The runner's commands through the daemon and the real broker (the shared fixture), on a
// real local borg repository: archives.list and archive.browse answer with their result in
// command.update; restore.extract and drill.run start runs (kind restore / drill) reported
// like a backup's, the command following them to the end; a restore outside the restore
// roots and a job that does not exist are rejected with the reason; a drill updates the
// restore-drill metrics (checked with promtool). Each command is acked at once.

#include "agentdaemon.h"
#include "agentmetrics.h"
#include "daemontestsupport.h"
#include "orchestratorside.h"
#include "runmanager.h"
#include "statestore.h"
#include "testbroker.h"

#include "sparky/amqpclient.h"
#include "sparky/protocol.h"
#include "sparky/signing.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::agent;
using namespace sparky::agent::test;
using namespace sparky::test;
using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
namespace proto = sparky::protocol;
using CmdState = proto::CommandUpdate::State;

class TestDaemonRestore : public QObject
{
    Q_OBJECT

    const QString m_node = u"t-agent-restore"_s;
    QTemporaryDir m_dir{QDir::tempPath() + u"/sparky-daemon-restore-XXXXXX"_s};
    std::shared_ptr<TestBroker> m_broker;
    SigningKey m_key = SigningKey::generate().value();
    QString m_source;
    QString m_archive;
    std::unique_ptr<AgentDaemon> m_daemon;
    std::unique_ptr<OrchestratorSide> m_orchestrator;

    Envelope send(const QString &type, const QJsonObject &body)
    {
        const Envelope e = m_orchestrator->signedCommand(type, body, m_key);
        m_orchestrator->publish(e);
        return e;
    }
    QList<proto::CommandUpdate> updatesFor(const QString &id) const { return m_orchestrator->updatesFor(id); }
    std::optional<proto::CommandUpdate> finalUpdate(const QString &id) { return m_orchestrator->waitForFinalUpdate(id, 120000); }
    std::optional<proto::RunFinished> finishedEvent(const QString &runId) { return m_orchestrator->waitForFinished(runId, 120000); }

    static QByteArray sha256(const QString &path)
    {
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly))
            return {};
        return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256).toHex();
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        auto broker = TestBroker::shared();
        QVERIFY2(broker, qPrintable(broker ? QString() : broker.error().toString()));
        m_broker = *broker;
        auto settings = m_broker->node(m_node);
        QVERIFY2(settings, qPrintable(settings ? QString() : settings.error().toString()));
        auto source = makeSourceTree(m_dir.filePath(u"src"_s));
        QVERIFY(source);
        m_source = *source;

        AgentYaml y;
        y.node = m_node;
        y.stateDir = m_dir.filePath(u"state"_s);
        y.repositoryPath = m_dir.filePath(u"repo"_s);
        y.broker = *settings;
        y.orchestratorKey = m_key.publicKeyBase64();
        y.allowed = {u"backup.run"_s, u"archives.list"_s, u"archive.browse"_s, u"restore.extract"_s,
                     u"drill.run"_s};
        y.textfile = m_dir.filePath(u"sparky.prom"_s);
        y.extra = u"restore:\n  roots: [%1]\n"_s.arg(m_dir.filePath(u"restore"_s));
        y.jobs = filesJob(u"files"_s, m_source, {},
                          u"    drill: {schedule: '0 5 * * 0', random_files: 3}\n"_s);
        auto path = y.write(m_dir.filePath(u"agent.yaml"_s));
        QVERIFY(path);

        m_orchestrator = std::make_unique<OrchestratorSide>(m_broker, m_node);
        auto up = m_orchestrator->start();
        QVERIFY2(up, qPrintable(up ? QString() : up.error().toString()));

        DaemonOptions options;
        options.configPath = *path;
        options.shutdownGrace = 1s;
        m_daemon = std::make_unique<AgentDaemon>(options);
        auto ok = m_daemon->start();
        QVERIFY2(ok, qPrintable(ok ? QString() : ok.error().toString()));
        QTRY_VERIFY_WITH_TIMEOUT(m_daemon->broker()->isConnected(), 20000);

        // One archive to work with, made through a command like the rest.
        const Envelope backup = send(u"backup.run"_s, {{u"job"_s, u"files"_s}});
        auto done = finalUpdate(backup.id);
        QVERIFY2(done && done->state == CmdState::Succeeded,
                 qPrintable(done ? done->error : u"no final update"_s));
        auto run = finishedEvent(done->runId);
        QVERIFY(run && run->stats);
        m_archive = run->stats->archiveName;
        QVERIFY(!m_archive.isEmpty());
    }

    void cleanupTestCase()
    {
        if (m_daemon) {
            QSignalSpy stopped(m_daemon.get(), &AgentDaemon::stopped);
            m_daemon->shutdown(u"test end"_s);
            QTRY_COMPARE_WITH_TIMEOUT(stopped.count(), 1, 30000);
        }
        m_daemon.reset();
        if (m_orchestrator)
            m_orchestrator->stop();
    }

    void listingsAnswerInTheCommandUpdate()
    {
        const Envelope list = send(u"archives.list"_s, {{u"job"_s, u"files"_s}});
        auto u = finalUpdate(list.id);
        QVERIFY2(u && u->state == CmdState::Succeeded, qPrintable(u ? u->error : u"no final update"_s));
        QCOMPARE(updatesFor(list.id).first().state, CmdState::Running); // reported at once
        const QJsonArray archives = u->result.value(u"archives"_s).toArray();
        QCOMPARE(archives.size(), 1);
        QCOMPARE(archives.first().toObject().value(u"name"_s).toString(), m_archive);
        QVERIFY(archives.first().toObject().value(u"stats"_s).toObject().value(u"files"_s).toInt() > 0);

        // The source's own directory, as borg stored it (no leading slash).
        const Envelope browse = send(u"archive.browse"_s, {{u"job"_s, u"files"_s}, {u"archive"_s, m_archive},
                                                           {u"path"_s, m_source.mid(1)}});
        u = finalUpdate(browse.id);
        QVERIFY2(u && u->state == CmdState::Succeeded, qPrintable(u ? u->error : u"no final update"_s));
        QStringList names;
        for (const QJsonValue &e : u->result.value(u"entries"_s).toArray())
            names << e.toObject().value(u"name"_s).toString();
        QVERIFY2(names.contains(u"sub"_s) && names.contains(u"file0.txt"_s), qPrintable(names.join(u", "_s)));
        QCOMPARE(m_daemon->runs()->runningCount(), 0); // answered without a run
    }

    void restoreAndDrillAreRuns()
    {
        const QString file = m_source + u"/file0.txt"_s;
        const QByteArray sum = sha256(file);
        QVERIFY(!sum.isEmpty());
        QVERIFY(QFile::remove(file));
        const Envelope restore = send(u"restore.extract"_s, {{u"job"_s, u"files"_s}, {u"archive"_s, m_archive},
                                                             {u"paths"_s, QJsonArray{file.mid(1)}}});
        auto u = finalUpdate(restore.id);
        QVERIFY2(u && u->state == CmdState::Succeeded, qPrintable(u ? u->error : u"no final update"_s));
        auto run = finishedEvent(u->runId);
        QVERIFY(run);
        QCOMPARE(run->kind, proto::RunKind::Restore);
        QCOMPARE(run->commandId, restore.id);
        QVERIFY2(run->status == proto::Status::Success, qPrintable(run->error));
        // Under the restore root, in a directory named after the command.
        const QString restored = m_dir.filePath(u"restore/"_s) + restore.id + file;
        QCOMPARE(sha256(restored), sum);
        QVERIFY(!QFile::exists(file));

        const Envelope drill = send(u"drill.run"_s, {{u"job"_s, u"files"_s}});
        u = finalUpdate(drill.id);
        QVERIFY2(u && u->state == CmdState::Succeeded, qPrintable(u ? u->error : u"no final update"_s));
        run = finishedEvent(u->runId);
        QVERIFY(run);
        QCOMPARE(run->kind, proto::RunKind::Drill);
        QVERIFY2(run->status == proto::Status::Success, qPrintable(run->error));
        QCOMPARE(run->details.value(u"files_checked"_s).toInt(), 3);

        // The drill shows in the metrics (exposer and textfile), which promtool accepts.
        auto text = httpGet(m_daemon->metrics()->port(), u"/metrics"_s);
        QVERIFY2(text, qPrintable(text ? QString() : text.error().toString()));
        const QString labels = u"{job=\"files\",repository=\"local\"}"_s;
        QVERIFY(sample(*text, u"sparky_restore_drill_last_success_timestamp_seconds"_s + labels).value_or(0) > 0);
        QCOMPARE(sample(*text, u"sparky_restore_drill_last_status"_s + labels), std::optional<double>(0));
        QVERIFY(sample(*text, u"sparky_restore_drill_next_run_timestamp_seconds"_s + labels).value_or(0) > 0);
        auto checked = promtoolCheck(*text);
        QVERIFY2(checked, qPrintable(checked ? QString() : checked.error().toString()));
    }

    void refusalsNameTheProblem_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QJsonObject>("body");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("restore outside the roots")
            << u"restore.extract"_s
            << QJsonObject{{u"job"_s, u"files"_s}, {u"archive"_s, u"@ARCHIVE@"_s}, {u"target"_s, u"/etc/sparky-evil"_s}}
            << u"outside the restore roots"_s;
        QTest::newRow("unknown job") << u"archives.list"_s << QJsonObject{{u"job"_s, u"nope"_s}}
                                     << u"no job named 'nope'"_s;
        QTest::newRow("path escaping the archive")
            << u"archive.browse"_s
            << QJsonObject{{u"job"_s, u"files"_s}, {u"archive"_s, u"@ARCHIVE@"_s}, {u"path"_s, u"../etc"_s}}
            << u"body.path"_s;
        QTest::newRow("unknown field") << u"drill.run"_s << QJsonObject{{u"job"_s, u"files"_s}, {u"sample"_s, 3}}
                                       << u"sample"_s;
    }

    void refusalsNameTheProblem()
    {
        QFETCH(QString, type);
        QFETCH(QJsonObject, body);
        QFETCH(QString, mentions);
        if (body.value(u"archive"_s).toString() == u"@ARCHIVE@"_s)
            body.insert(u"archive"_s, m_archive);
        const qsizetype eventsBefore = m_orchestrator->events().size();
        const Envelope c = send(type, body);
        auto u = finalUpdate(c.id);
        QVERIFY(u);
        QCOMPARE(u->state, CmdState::Rejected);
        QVERIFY2(u->error.contains(mentions), qPrintable(u->error));
        QVERIFY(!QFile::exists(u"/etc/sparky-evil"_s));
        // Nothing ran: no run.started among the events that came since.
        const QList<Envelope> &events = m_orchestrator->events();
        for (qsizetype i = eventsBefore; i < events.size(); ++i)
            QVERIFY(events.at(i).type != proto::type::RunStarted);
    }
};

QTEST_GUILESS_MAIN(TestDaemonRestore)
#include "tst_daemon_restore.moc"
