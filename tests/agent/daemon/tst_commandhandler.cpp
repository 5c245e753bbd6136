// The verdict for every kind of command delivery: executed, dead-lettered (not authentic or
// not for us), or acked and reported (expired, not allowed, invalid), and deduplicated by id.

#include "agentconfig.h"
#include "commandhandler.h"
#include "statestore.h"

#include "sparky/signing.h"

#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace sparky::agent;
using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
namespace proto = sparky::protocol;
using Action = CommandVerdict::Action;
using State = proto::CommandUpdate::State;

Q_DECLARE_METATYPE(CommandVerdict::Action)

class TestCommandHandler : public QObject
{
    Q_OBJECT

    SigningKey m_key = SigningKey::generate().value();
    SigningKey m_otherKey = SigningKey::generate().value();
    QDateTime m_now = QDateTime(QDate(2026, 11, 25), QTime(15, 0), Qt::UTC);

    AgentConfig config() const
    {
        AgentConfig c;
        c.node = u"web-01"_s;
        c.commands.orchestratorKey = m_key.publicKeyBase64();
        c.commands.allowed = {u"backup.run"_s, u"backup.cancel"_s, u"agent.ping"_s};
        return c;
    }

    QByteArray signedCommand(const QString &type, const QJsonObject &body, const QString &node = u"web-01"_s,
                             qint64 issuedAgo = 0, std::chrono::seconds lifetime = 600s,
                             const SigningKey *key = nullptr, const QString &id = {})
    {
        Envelope e = Envelope::make(type, node, body);
        if (!id.isEmpty())
            e.id = id;
        e.ts = m_now.addSecs(-issuedAgo);
        (void)signCommand(e, key ? *key : m_key, lifetime);
        return serializeEnvelope(e);
    }

private Q_SLOTS:
    void verdicts_data()
    {
        QTest::addColumn<QByteArray>("delivery");
        QTest::addColumn<CommandVerdict::Action>("action");
        QTest::addColumn<QString>("refusal");
        QTest::addColumn<int>("reportState"); // -1: no report
        QTest::addColumn<QString>("mentions");

        const QJsonObject job{{u"job"_s, u"etc"_s}};
        QTest::newRow("valid backup.run") << signedCommand(u"backup.run"_s, job) << Action::Execute << QString() << -1
                                          << QString();
        QTest::newRow("valid ping") << signedCommand(u"agent.ping"_s, {}) << Action::Execute << QString() << -1
                                    << QString();
        QTest::newRow("valid cancel") << signedCommand(u"backup.cancel"_s, {{u"run_id"_s, u"abc"_s}})
                                      << Action::Execute << QString() << -1 << QString();
        QTest::newRow("not json") << QByteArray("{nope") << Action::DeadLetter << u"malformed"_s << -1
                                  << u"not a valid command envelope"_s;
        Envelope unsignedCmd = Envelope::make(u"backup.run"_s, u"web-01"_s, job);
        QTest::newRow("unsigned") << serializeEnvelope(unsignedCmd) << Action::DeadLetter << u"unauthenticated"_s
                                  << -1 << u"not signed"_s;
        QTest::newRow("forged signature")
            << signedCommand(u"backup.run"_s, job, u"web-01"_s, 0, 600s, &m_otherKey) << Action::DeadLetter
            << u"unauthenticated"_s << -1 << u"signature does not verify"_s;
        QByteArray tampered = signedCommand(u"backup.run"_s, job);
        tampered.replace("\"etc\"", "\"all\"");
        QTest::newRow("body changed after signing") << tampered << Action::DeadLetter << u"unauthenticated"_s << -1
                                                    << u"signature does not verify"_s;
        QTest::newRow("wrong target") << signedCommand(u"backup.run"_s, job, u"db-02"_s) << Action::DeadLetter
                                      << u"misrouted"_s << -1 << u"targets node 'db-02'"_s;
        QTest::newRow("issued in the future") << signedCommand(u"backup.run"_s, job, u"web-01"_s, -3600)
                                              << Action::DeadLetter << u"misrouted"_s << -1 << u"in the future"_s;
        QTest::newRow("expired") << signedCommand(u"backup.run"_s, job, u"web-01"_s, 700, 600s) << Action::Drop
                                 << u"expired"_s << int(State::Expired) << u"expired at"_s;
        QTest::newRow("type not allowed") << signedCommand(u"archives.list"_s, {}) << Action::Drop
                                          << u"not_allowed"_s << int(State::Rejected) << u"not allowed"_s;
        QTest::newRow("unknown body field") << signedCommand(u"backup.run"_s, {{u"job"_s, u"etc"_s}, {u"rsh"_s, 1}})
                                            << Action::Drop << u"invalid"_s << int(State::Rejected) << u"rsh"_s;
        QTest::newRow("job missing") << signedCommand(u"backup.run"_s, {}) << Action::Drop << u"invalid"_s
                                     << int(State::Rejected) << u"job"_s;
        QTest::newRow("job not a string") << signedCommand(u"backup.run"_s, {{u"job"_s, 5}}) << Action::Drop
                                          << u"invalid"_s << int(State::Rejected) << u"job"_s;
    }

    void verdicts()
    {
        QFETCH(QByteArray, delivery);
        QFETCH(CommandVerdict::Action, action);
        QFETCH(QString, refusal);
        QFETCH(int, reportState);
        QFETCH(QString, mentions);

        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        CommandHandler handler(store->get());
        QVERIFY(handler.setConfig(config()));

        const CommandVerdict v = handler.inspect(delivery, m_now);
        QCOMPARE(v.action, action);
        QCOMPARE(v.refusal, refusal);
        QVERIFY2(v.reason.contains(mentions), qPrintable(v.reason));
        QCOMPARE(v.report.has_value(), reportState >= 0);
        if (v.report) {
            QCOMPARE(int(v.report->state), reportState);
            QCOMPARE(v.report->commandId, v.command->id);
            QVERIFY(!v.report->error.isEmpty());
        }

        // Authentic commands are recorded (and so deduplicated); others are not.
        QSqlQuery q((*store)->database());
        QVERIFY(q.exec(u"SELECT COUNT(*) FROM commands"_s) && q.next());
        QCOMPARE(q.value(0).toInt(), action == Action::DeadLetter ? 0 : 1);

        // A redelivery of the same bytes: never executed twice, never reported twice.
        const CommandVerdict again = handler.inspect(delivery, m_now);
        if (action == Action::DeadLetter) {
            QCOMPARE(again.action, Action::DeadLetter);
        } else {
            QCOMPARE(again.action, Action::Drop);
            QCOMPARE(again.refusal, u"duplicate"_s);
            QVERIFY(!again.report);
        }
    }

    void duplicateIdWithDifferentBody()
    {
        // The id is the deduplication key: a second command with the same id is refused
        // even if its (signed) body differs.
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        CommandHandler handler(store->get());
        QVERIFY(handler.setConfig(config()));
        const QByteArray first = signedCommand(u"backup.run"_s, {{u"job"_s, u"a"_s}}, u"web-01"_s, 0, 600s, nullptr, u"cmd-1"_s);
        const QByteArray second = signedCommand(u"backup.run"_s, {{u"job"_s, u"b"_s}}, u"web-01"_s, 0, 600s, nullptr, u"cmd-1"_s);
        QCOMPARE(handler.inspect(first, m_now).action, Action::Execute);
        const CommandVerdict v = handler.inspect(second, m_now);
        QCOMPARE(v.action, Action::Drop);
        QCOMPARE(v.refusal, u"duplicate"_s);
        QVERIFY2(v.reason.contains(u"cmd-1"_s), qPrintable(v.reason));
    }

    void commandLogFollowsTheCommand()
    {
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        CommandHandler handler(store->get());
        QVERIFY(handler.setConfig(config()));
        const QByteArray a = signedCommand(u"backup.run"_s, {{u"job"_s, u"a"_s}}, u"web-01"_s, 0, 600s, nullptr, u"cmd-a"_s);
        const QByteArray b = signedCommand(u"backup.run"_s, {{u"job"_s, u"b"_s}}, u"web-01"_s, 0, 600s, nullptr, u"cmd-b"_s);
        QCOMPARE(handler.inspect(a, m_now).action, Action::Execute);
        QCOMPARE(handler.inspect(b, m_now).action, Action::Execute);
        QVERIFY(handler.setState(u"cmd-a"_s, State::Running, u"run-1"_s));

        // After a crash: b was recorded but never acted on; a was running.
        auto pending = handler.receivedButNotStarted();
        QVERIFY(pending);
        QCOMPARE(pending->size(), 1);
        QCOMPARE(pending->first().id, u"cmd-b"_s);
        QCOMPARE(pending->first().body.value(u"job"_s).toString(), u"b"_s);
        auto running = handler.running();
        QVERIFY(running);
        QCOMPARE(running->size(), 1);
        QCOMPARE(running->first().first, u"cmd-a"_s);

        // Pruning forgets only commands long expired, never unfinished ones.
        QVERIFY(handler.setState(u"cmd-a"_s, State::Succeeded, u"run-1"_s));
        QVERIFY(handler.prune(m_now.addDays(30)));
        QSqlQuery q((*store)->database());
        QVERIFY(q.exec(u"SELECT id FROM commands ORDER BY id"_s));
        QStringList left;
        while (q.next())
            left << q.value(0).toString();
        QCOMPARE(left, QStringList{u"cmd-b"_s});
    }

    void noPinnedKeyMeansNothingRuns()
    {
        QTemporaryDir dir;
        auto store = StateStore::open(dir.path());
        QVERIFY(store);
        CommandHandler handler(store->get());
        AgentConfig c = config();
        c.commands.orchestratorKey.clear();
        QVERIFY(handler.setConfig(c));
        const CommandVerdict v = handler.inspect(signedCommand(u"agent.ping"_s, {}), m_now);
        QCOMPARE(v.action, Action::DeadLetter);
        QVERIFY2(v.reason.contains(u"orchestrator_key"_s), qPrintable(v.reason));

        c.commands.orchestratorKey = u"not base64 at all!"_s;
        QVERIFY(!handler.setConfig(c));
    }
};

QTEST_GUILESS_MAIN(TestCommandHandler)
#include "tst_commandhandler.moc"
