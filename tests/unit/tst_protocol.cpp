#include "sparky/protocol.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

using namespace sparky;
using namespace sparky::protocol;
using namespace Qt::StringLiterals;

class TestProtocol : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void statusOrder()
    {
        QVERIFY(severity(Status::Success) < severity(Status::Warning));
        QVERIFY(severity(Status::Warning) < severity(Status::Cancelled));
        QVERIFY(severity(Status::Cancelled) < severity(Status::Failed));
        QCOMPARE(worst(Status::Warning, Status::Failed), Status::Failed);
        QCOMPARE(worst(Status::Success, Status::Warning), Status::Warning);
        QCOMPARE(statusFromBorgExit(0), Status::Success);
        QCOMPARE(statusFromBorgExit(1), Status::Warning);
        QCOMPARE(statusFromBorgExit(2), Status::Failed);
        QCOMPARE(statusFromBorgExit(-9), Status::Failed);
        for (Status s : {Status::Success, Status::Warning, Status::Cancelled, Status::Failed})
            QCOMPARE(statusFromName(statusName(s)).value(), s);
        QVERIFY(!statusFromName(u"ok"));
    }

    void runFinishedRoundTrip()
    {
        RunFinished r;
        r.runId = u"r1"_s;
        r.job = u"etc"_s;
        r.kind = RunKind::Backup;
        r.repository = u"ssh://borg@repo/./web-01"_s;
        r.trigger = u"schedule"_s;
        r.status = Status::Failed;
        r.startedAt = QDateTime::fromMSecsSinceEpoch(1764000000000, Qt::UTC);
        r.finishedAt = r.startedAt.addSecs(42);
        StepResult s;
        s.name = u"hook:before:stop-app"_s;
        s.status = Status::Failed;
        s.exitCode = 3;
        s.error = u"exit code 3"_s;
        r.steps.append(s);
        r.failedStep = s.name;
        r.error = u"before hook stop-app failed"_s;
        RunStats st;
        st.archiveName = u"web-01-etc-2026"_s;
        st.originalSize = 1234;
        st.files = 7;
        st.durationSeconds = 1.5;
        r.stats = st;
        r.logTail = u"tail"_s;
        const QJsonObject json = r.toJson();
        auto back = RunFinished::fromJson(json);
        QVERIFY2(back.hasValue(), qPrintable(back ? QString() : back.error().message));
        QCOMPARE(back->toJson(), json);
        QCOMPARE(back->steps.first().exitCode.value(), 3);
        QCOMPARE(back->stats->files, 7);

        Envelope e = Envelope::make(QString(type::RunFinished), u"web-01"_s, json);
        QVERIFY(validateEventBody(e).hasValue());
    }

    void rejectsBadBodies_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("unknown type") << u"run.exploded"_s << QByteArray("{}") << u"unknown event type"_s;
        QTest::newRow("finished no status") << u"run.finished"_s << QByteArray(R"({"run_id":"r","job":"j","kind":"backup","started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:01Z"})") << u"body.status: missing"_s;
        QTest::newRow("finished bad status") << u"run.finished"_s << QByteArray(R"({"run_id":"r","job":"j","kind":"backup","status":"great","started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:01Z"})") << u"unknown status 'great'"_s;
        QTest::newRow("finished before started") << u"run.finished"_s << QByteArray(R"({"run_id":"r","job":"j","kind":"backup","status":"success","started_at":"2026-01-01T00:00:05Z","finished_at":"2026-01-01T00:00:01Z"})") << u"before started_at"_s;
        QTest::newRow("negative size") << u"run.finished"_s << QByteArray(R"({"run_id":"r","job":"j","kind":"backup","status":"success","started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:01Z","stats":{"original_size":-5}})") << u"body.stats.original_size"_s;
        QTest::newRow("step not object") << u"run.finished"_s << QByteArray(R"({"run_id":"r","job":"j","kind":"backup","status":"success","started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:01Z","steps":[1]})") << u"body.steps[0]"_s;
        QTest::newRow("started bad kind") << u"run.started"_s << QByteArray(R"({"run_id":"r","job":"j","kind":"party","started_at":"2026-01-01T00:00:00Z"})") << u"unknown run kind"_s;
        QTest::newRow("hello no version") << u"agent.hello"_s << QByteArray(R"({"jobs":[]})") << u"body.version"_s;
        QTest::newRow("hello bad job") << u"agent.hello"_s << QByteArray(R"({"version":"1","jobs":[{"schedule":"x"}]})") << u"body.jobs[0].name"_s;
        QTest::newRow("command bad state") << u"command.update"_s << QByteArray(R"({"command_id":"c","command_type":"backup.run","state":"maybe"})") << u"unknown command state"_s;
    }

    void rejectsBadBodies()
    {
        QFETCH(QString, type);
        QFETCH(QByteArray, body);
        QFETCH(QString, mentions);
        Envelope e = Envelope::make(type, u"web-01"_s, QJsonDocument::fromJson(body).object());
        auto r = validateEventBody(e);
        QVERIFY(!r.hasValue());
        QVERIFY2(r.error().message.contains(mentions), qPrintable(r.error().message));
    }

    void routing()
    {
        QCOMPARE(agentQueue(u"web-01"_s), u"sparky.agent.web-01"_s);
        QCOMPARE(eventRoutingKey(u"web-01"_s, u"run.finished"_s), u"web-01.run.finished"_s);
    }
};

QTEST_GUILESS_MAIN(TestProtocol)
#include "tst_protocol.moc"
