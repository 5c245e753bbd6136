// CommandFollower, headless: starts backup.start / restore.start / drill.start and follows
// the command through command.get to the end of its run — queued, running with progress
// (a percentage against the last good backup's size), finished or failed with the reason;
// refused starts, rejected/expired commands, failed runs, transient poll errors, cancel,
// following a command issued elsewhere, and reset dropping late answers. A finished
// restore's or drill's details come with command.get: no run.get is needed.

#include "commandfollower.h"
#include "fakeinvoker.h"
#include "jsonfixture.h"
#include "rundetails.h"

#include <QSignalSpy>
#include <QTest>

using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace Qt::StringLiterals;
using Phase = CommandFollower::Phase;

namespace {

QJsonObject started(const QString &id = u"c-1"_s)
{
    return QJsonObject { { u"command_id"_s, id },
        { u"command"_s,
            QJsonObject { { u"id"_s, id }, { u"node"_s, u"web-01"_s },
                { u"type"_s, u"backup.run"_s }, { u"state"_s, u"pending"_s } } } };
}

QJsonObject command(const QString &state, const QJsonObject &run = {}, const QString &error = {})
{
    QJsonObject c { { u"id"_s, u"c-1"_s }, { u"node"_s, u"web-01"_s },
        { u"type"_s, u"backup.run"_s }, { u"state"_s, state } };
    if (!run.isEmpty()) {
        c.insert(u"run_id"_s, u"r-1"_s);
        c.insert(u"run"_s, run);
    }
    if (!error.isEmpty())
        c.insert(u"error"_s, error);
    return c;
}

QJsonObject runningRun(qint64 bytes)
{
    return QJsonObject { { u"run_id"_s, u"r-1"_s }, { u"kind"_s, u"backup"_s },
        { u"status"_s, u"running"_s },
        { u"progress"_s,
            QJsonObject { { u"step"_s, u"create"_s }, { u"original_size"_s, bytes },
                { u"files"_s, 12 }, { u"current_path"_s, u"/home/alice/a.txt"_s } } } };
}

// A scripted sequence of command.get answers; the last one repeats.
FakeInvoker::Handler sequence(QList<RpcReply> replies)
{
    auto shared = std::make_shared<QList<RpcReply>>(std::move(replies));
    return [shared](const QJsonObject &) {
        return shared->size() > 1 ? shared->takeFirst() : shared->first();
    };
}

RpcReply ok(const QJsonObject &result)
{
    return RpcReply::success(u"command.get"_s, result);
}

struct Recorder
{
    explicit Recorder(CommandFollower *f)
    {
        QObject::connect(f, &CommandFollower::changed, f, [this, f] {
            if (phases.isEmpty() || phases.last() != f->phase())
                phases.append(f->phase());
            if (f->percent() >= 0)
                percents.append(f->percent());
            texts.append(f->statusText());
        });
    }
    QList<Phase> phases;
    QList<int> percents;
    QStringList texts;
};

} // namespace

class TestCommandFollower : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void followsABackupToItsEnd()
    {
        FakeInvoker invoker;
        invoker.setResult(u"backup.start"_s, started());
        invoker.setResult(u"runs.query"_s, json(R"({"runs": [
            {"status": "failed", "original_size": null},
            {"status": "warning", "original_size": 1000000},
            {"status": "success", "original_size": 5}], "next_cursor": null})"));
        invoker.setHandler(u"command.get"_s,
            sequence({ ok(command(u"published"_s)), ok(command(u"running"_s, runningRun(400000))),
                ok(command(u"running"_s, runningRun(800000))),
                ok(command(u"succeeded"_s,
                    { { u"run_id"_s, u"r-1"_s }, { u"kind"_s, u"backup"_s },
                        { u"status"_s, u"success"_s }, { u"duration_seconds"_s, 8.5 } })) }));
        CommandFollower follower(&invoker);
        follower.setPollInterval(std::chrono::milliseconds(5));
        Recorder rec(&follower);
        QSignalSpy finished(&follower, &CommandFollower::finished);

        follower.start(u"backup.start"_s, { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s } });
        QCOMPARE(follower.phase(), Phase::Starting);
        QVERIFY(follower.isActive());
        QCOMPARE(follower.statusText(), u"asking the orchestrator to issue backup.start …"_s);
        QVERIFY(finished.wait(5000));

        QCOMPARE(rec.phases,
            (QList<Phase> {
                Phase::Idle, Phase::Starting, Phase::Queued, Phase::Running, Phase::Finished }));
        QCOMPARE(rec.percents, (QList<int> { 40, 80, 100 }));
        QVERIFY2(rec.texts.contains(u"command c-1 issued; waiting for node 'web-01' to take it"_s),
            qPrintable(rec.texts.join(u'\n')));
        QVERIFY2(rec.texts.contains(
                     u"command c-1 is published; waiting for node 'web-01' to start it"_s),
            qPrintable(rec.texts.join(u'\n')));
        QVERIFY2(
            rec.texts.contains(
                u"run r-1 is running: 390.6 KiB, 12 files (step create) — /home/alice/a.txt"_s),
            qPrintable(rec.texts.join(u'\n')));
        QCOMPARE(finished.first().at(0).toBool(), true);
        QCOMPARE(finished.first().at(1).toString(),
            u"backup run r-1 on 'web-01' finished: Success after 8.5 s"_s);
        QVERIFY(!follower.isActive());
        QCOMPARE(follower.commandId(), u"c-1"_s);
        QCOMPARE(follower.runId(), u"r-1"_s);
        QCOMPARE(follower.runStatus(), u"success"_s);
        QCOMPARE(follower.commandState(), u"succeeded"_s);
        QCOMPARE(follower.percent(), 100);

        // The expected size came from the last good backup (runs.query, newest first).
        const auto lookup = invoker.callsTo(u"runs.query"_s);
        QCOMPARE(lookup.size(), 1);
        QCOMPARE(lookup.first().params,
            (QJsonObject { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s },
                { u"kind"_s, u"backup"_s }, { u"limit"_s, 10 } }));
        QCOMPARE(invoker.callsTo(u"command.get"_s).first().params,
            (QJsonObject { { u"command_id"_s, u"c-1"_s } }));
        QCOMPARE(invoker.callCount(u"command.get"_s), 4); // one poll per answer, none after the end
    }

    void endings_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("startError"); // code:message, or empty to start fine
        QTest::addColumn<QJsonObject>("startResult");
        QTest::addColumn<QJsonObject>("finalCommand");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<QString>("text");

        QTest::newRow("not allowed")
            << u"backup.start"_s
            << u"forbidden:user 'alice' (role viewer) may not call backup.start: it needs the operator role"_s
            << QJsonObject() << QJsonObject() << false
            << u"backup.start: Not allowed — user 'alice' (role viewer) may not call backup.start: it needs the operator role"_s;
        QTest::newRow("no command in the answer")
            << u"drill.start"_s << QString() << QJsonObject { { u"odd"_s, true } } << QJsonObject()
            << false << u"drill.start: the orchestrator's answer names no command"_s;
        QTest::newRow("rejected by the agent")
            << u"restore.start"_s << QString() << started()
            << command(u"rejected"_s, {},
                   u"body.target: restore target /etc is outside the restore roots"_s)
            << false
            << u"command c-1 rejected: body.target: restore target /etc is outside the restore roots"_s;
        QTest::newRow("expired without reason")
            << u"backup.start"_s << QString() << started() << command(u"expired"_s) << false
            << u"command c-1 expired: no reason given"_s;
        QTest::newRow("run failed")
            << u"backup.start"_s << QString() << started()
            << command(u"failed"_s,
                   { { u"kind"_s, u"backup"_s }, { u"status"_s, u"failed"_s },
                       { u"error"_s, u"borg create exited with 2"_s } })
            << false
            << u"backup run r-1 on 'web-01' finished: Failed — borg create exited with 2"_s;
        QTest::newRow("run warning is ok")
            << u"drill.start"_s << QString() << started()
            << command(u"succeeded"_s, { { u"kind"_s, u"drill"_s }, { u"status"_s, u"warning"_s } })
            << true << u"drill run r-1 on 'web-01' finished: Warning"_s;
        QTest::newRow("cancelled run")
            << u"backup.start"_s << QString() << started()
            << command(u"failed"_s, { { u"kind"_s, u"backup"_s }, { u"status"_s, u"cancelled"_s } })
            << false << u"backup run r-1 on 'web-01' finished: Cancelled"_s;
        QTest::newRow("command without a run")
            << u"backup.start"_s << QString() << started() << command(u"succeeded"_s) << true
            << u"command c-1 succeeded"_s;
    }

    void endings()
    {
        QFETCH(QString, method);
        QFETCH(QString, startError);
        QFETCH(QJsonObject, startResult);
        QFETCH(QJsonObject, finalCommand);
        QFETCH(bool, ok);
        QFETCH(QString, text);
        FakeInvoker invoker;
        if (!startError.isEmpty())
            invoker.setError(
                method, startError.section(u':', 0, 0), startError.section(u':', 1, -1));
        else
            invoker.setResult(method, startResult);
        invoker.setResult(u"runs.query"_s, { { u"runs"_s, QJsonArray() } });
        invoker.setResult(u"command.get"_s, finalCommand);
        CommandFollower follower(&invoker);
        follower.setPollInterval(std::chrono::milliseconds(5));
        QSignalSpy finished(&follower, &CommandFollower::finished);
        follower.start(method, { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s } });
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.first().at(0).toBool(), ok);
        QCOMPARE(finished.first().at(1).toString(), text);
        QCOMPARE(follower.phase(), ok ? Phase::Finished : Phase::Failed);
        QCOMPARE(follower.statusText(), text);
        if (!startError.isEmpty())
            QCOMPARE(invoker.callCount(u"command.get"_s), 0);
        QCOMPARE(invoker.callCount(u"runs.query"_s), method == u"backup.start" ? 1 : 0);
    }

    void transientPollErrorsAreRetried()
    {
        FakeInvoker invoker;
        invoker.setResult(u"backup.start"_s, started());
        invoker.setResult(u"runs.query"_s, { { u"runs"_s, QJsonArray() } });
        invoker.setHandler(u"command.get"_s,
            sequence(
                { RpcReply::failure(u"command.get"_s, u"timeout"_s, u"no reply within 15000 ms"_s),
                    ok(command(u"succeeded"_s,
                        { { u"kind"_s, u"backup"_s }, { u"status"_s, u"success"_s } })) }));
        CommandFollower follower(&invoker);
        follower.setPollInterval(std::chrono::milliseconds(5));
        QSignalSpy finished(&follower, &CommandFollower::finished);
        QSignalSpy errors(&follower, &CommandFollower::errorOccurred);
        follower.start(u"backup.start"_s, { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s } });
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.first().at(0).toBool(), true);
        QCOMPARE(errors.count(), 1);
        QCOMPARE(errors.first().first().toString(),
            u"command.get: Timed out (no answer from the orchestrator; is it running?) — no reply within 15000 ms"_s);
        QCOMPARE(follower.percent(), 100);
        // Without an expected size there was no percentage while it ran.
    }

    void lostCommandEndsTheFollow()
    {
        FakeInvoker invoker;
        invoker.setResult(u"backup.start"_s, started());
        invoker.setResult(u"runs.query"_s, { { u"runs"_s, QJsonArray() } });
        invoker.setError(u"command.get"_s, u"not_found"_s, u"no command c-1"_s);
        CommandFollower follower(&invoker);
        follower.setPollInterval(std::chrono::milliseconds(5));
        QSignalSpy finished(&follower, &CommandFollower::finished);
        follower.start(u"backup.start"_s, { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s } });
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.first().at(1).toString(), u"command.get: Not found — no command c-1"_s);
        QCOMPARE(follower.phase(), Phase::Failed);
    }

    void offlineWarningAndCancel()
    {
        FakeInvoker invoker;
        QJsonObject start = started();
        start.insert(u"warning"_s, u"node 'web-01' is offline: nothing heard from it since …"_s);
        invoker.setResult(u"backup.start"_s, start);
        invoker.setResult(u"runs.query"_s, { { u"runs"_s, QJsonArray() } });
        invoker.setResult(u"command.get"_s, command(u"published"_s));
        CommandFollower follower(&invoker);
        follower.setPollInterval(std::chrono::milliseconds(5));
        QSignalSpy errors(&follower, &CommandFollower::errorOccurred);
        follower.start(u"backup.start"_s, { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s } });
        QTRY_COMPARE(follower.commandState(), u"published"_s);
        QCOMPARE(follower.warning(), u"node 'web-01' is offline: nothing heard from it since …"_s);
        QCOMPARE(follower.phase(), Phase::Queued);
        QCOMPARE(follower.percent(), -1);

        // Not started yet: nothing to cancel, and the follower says so.
        follower.cancel();
        QCOMPARE(errors.count(), 1);
        QCOMPARE(errors.first().first().toString(),
            u"cannot cancel yet: node 'web-01' has not started the run (command c-1 is published)"_s);
        QCOMPARE(invoker.callCount(u"backup.cancel"_s), 0);

        // Running: backup.cancel for the run; a refused cancel is reported and can be retried.
        invoker.setResult(u"command.get"_s, command(u"running"_s, runningRun(10)));
        QTRY_COMPARE(follower.phase(), Phase::Running);
        invoker.setError(u"backup.cancel"_s, u"forbidden"_s, u"needs the operator role"_s);
        follower.cancel();
        QVERIFY(follower.cancelRequested());
        QTRY_COMPARE(errors.count(), 2);
        QVERIFY(!follower.cancelRequested());
        invoker.setResult(u"backup.cancel"_s, started(u"c-2"_s));
        follower.cancel();
        QTRY_COMPARE(invoker.callCount(u"backup.cancel"_s), 2);
        QCOMPARE(invoker.callsTo(u"backup.cancel"_s).last().params,
            (QJsonObject { { u"node"_s, u"web-01"_s }, { u"run_id"_s, u"r-1"_s } }));
        QVERIFY(follower.cancelRequested());

        // reset(): idle, and answers still on their way are dropped.
        invoker.setHolding(true);
        QTRY_VERIFY(invoker.pendingReplies() > 0);
        follower.reset();
        QCOMPARE(follower.phase(), Phase::Idle);
        invoker.release();
        QCOMPARE(follower.phase(), Phase::Idle);
        QCOMPARE(follower.commandId(), QString());
    }

    void finishedRunCarriesItsDetails_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QByteArray>("run"); // command.get's run at the end
        QTest::addColumn<QString>("detailsText"); // what the console adds to the result

        QTest::newRow("restore")
            << u"restore.start"_s
            << QByteArray(R"({"run_id": "r-1", "kind": "restore", "status": "success",
                "details": {"archive": "web-01-home-2026-11-25T02:00:04",
                            "target": "/srv/restore/alice", "files": 4, "bytes": 1908408,
                            "entries": 6, "errors": []}})")
            << u"restored to /srv/restore/alice, 4 files, 1.82 MiB"_s;
        QTest::newRow("drill")
            << u"drill.start"_s
            << QByteArray(R"({"run_id": "r-1", "kind": "drill", "status": "success",
                "details": {"archive": "web-01-home-2026-11-25T02:00:04", "sample": "random",
                            "files_checked": 25, "bytes_checked": 1843200, "mismatches": []}})")
            << u"25 sampled files checked, all match"_s;
        QTest::newRow("no details (null)")
            << u"drill.start"_s
            << QByteArray(R"({"run_id": "r-1", "kind": "drill", "status": "success",
                "details": null})")
            << QString();
    }

    void finishedRunCarriesItsDetails()
    {
        QFETCH(QString, method);
        QFETCH(QByteArray, run);
        QFETCH(QString, detailsText);
        FakeInvoker invoker;
        invoker.setResult(method, started());
        const QJsonObject finalRun = json(run);
        invoker.setResult(u"command.get"_s, command(u"succeeded"_s, finalRun));
        CommandFollower follower(&invoker);
        follower.setPollInterval(std::chrono::milliseconds(5));
        QSignalSpy finished(&follower, &CommandFollower::finished);
        follower.start(method, { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s } });
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.first().at(0).toBool(), true);
        QCOMPARE(follower.run().value("details"_L1), finalRun.value("details"_L1));
        QCOMPARE(RunDetails::detailsText(follower.run()), detailsText);
        QCOMPARE(invoker.callCount(u"run.get"_s), 0);
    }

    void followsACommandIssuedElsewhere()
    {
        FakeInvoker invoker;
        invoker.setResult(u"command.get"_s,
            command(
                u"succeeded"_s, { { u"kind"_s, u"restore"_s }, { u"status"_s, u"success"_s } }));
        CommandFollower follower(&invoker);
        QSignalSpy finished(&follower, &CommandFollower::finished);
        follower.follow(u"web-01"_s, u"c-1"_s);
        QCOMPARE(follower.phase(), Phase::Queued);
        QVERIFY(finished.wait(5000));
        QCOMPARE(
            finished.first().at(1).toString(), u"restore run r-1 on 'web-01' finished: Success"_s);
        QCOMPARE(invoker.callCount(u"backup.start"_s), 0);
    }
};

QTEST_MAIN(TestCommandFollower)
#include "tst_commandfollower.moc"
