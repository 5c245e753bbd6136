// CommandsModel, headless: commands.query pages newest first, one row per command with its
// state (coloured on the command-state scale), who issued it, its params and error. Under
// QAbstractItemModelTester.

#include "commandsmodel.h"
#include "fakeinvoker.h"
#include "jsonfixture.h"
#include "modelroles.h"
#include "pagedrpc.h"
#include "statusstyle.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace Qt::StringLiterals;

class TestCommandsModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cells_data()
    {
        QTest::addColumn<int>("column");
        QTest::addColumn<QString>("display");
        QTest::addColumn<QVariant>("raw");
        QTest::newRow("issued") << int(CommandsModel::IssuedColumn) << u"2026-11-25 09:12:00"_s
                                << QVariant(qlonglong(1795597920000));
        QTest::newRow("node") << int(CommandsModel::NodeColumn) << u"web-01"_s
                              << QVariant(u"web-01"_s);
        QTest::newRow("type") << int(CommandsModel::TypeColumn) << u"backup.run"_s
                              << QVariant(u"backup.run"_s);
        QTest::newRow("state") << int(CommandsModel::StateColumn) << u"expired"_s << QVariant(4);
        QTest::newRow("issued by") << int(CommandsModel::IssuedByColumn) << u"sparky-operator"_s
                                   << QVariant(u"sparky-operator"_s);
        QTest::newRow("params") << int(CommandsModel::ParamsColumn) << u"{\"job\":\"home\"}"_s
                                << QVariant(u"{\"job\":\"home\"}"_s);
        QTest::newRow("no run") << int(CommandsModel::RunColumn) << QString()
                                << QVariant(QString());
        QTest::newRow("error")
            << int(CommandsModel::ErrorColumn)
            << u"expired in the queue of node 'web-01' before the agent took it"_s
            << QVariant(u"expired in the queue of node 'web-01' before the agent took it"_s);
    }

    void cells()
    {
        QFETCH(int, column);
        QFETCH(QString, display);
        QFETCH(QVariant, raw);
        FakeInvoker invoker;
        invoker.setResult(u"commands.query"_s, json(R"({"commands": [
            {"id": "8b0e", "node": "web-01", "type": "backup.run", "params": {"job": "home"},
             "issued_by": "sparky-operator", "issued_at": "2026-11-25T09:12:00.000Z",
             "expires_at": "2026-11-25T10:12:00.000Z", "state": "expired", "run_id": null,
             "error": "expired in the queue of node 'web-01' before the agent took it"}],
            "next_cursor": null})"));
        CommandsModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setQuery({ { u"node"_s, u"web-01"_s } });
        QTRY_COMPARE(model.rowCount(), 1);
        QCOMPARE(invoker.calls().first().params,
            (QJsonObject { { u"node"_s, u"web-01"_s }, { u"limit"_s, 50 } }));
        QCOMPARE(model.index(0, column).data().toString(), display);
        QCOMPARE(model.index(0, column).data(RawValueRole), raw);
        QCOMPARE(
            model.index(0, CommandsModel::StateColumn).data(Qt::BackgroundRole).value<QColor>(),
            StatusStyle::background(u"expired"_s));
        QCOMPARE(model.index(0, CommandsModel::ErrorColumn).data(Qt::ToolTipRole).toString(),
            u"expired in the queue of node 'web-01' before the agent took it"_s);
        QCOMPARE(model.columnCount(), int(CommandsModel::ColumnCount));
        QVERIFY(model.index(0, CommandsModel::ParamsColumn)
                    .data(Qt::ToolTipRole)
                    .toString()
                    .contains(u"\"job\": \"home\""_s));
    }

    void pagesNewestFirst()
    {
        QJsonArray commands;
        const QStringList states { u"pending"_s, u"published"_s, u"received"_s, u"running"_s,
            u"succeeded"_s, u"failed"_s, u"rejected"_s, u"expired"_s };
        for (int i = 0; i < 130; ++i)
            commands.append(QJsonObject { { u"id"_s, u"c-%1"_s.arg(i) }, { u"node"_s, u"web-01"_s },
                { u"type"_s, u"backup.run"_s }, { u"state"_s, states.at(i % states.size()) },
                { u"issued_at"_s,
                    QDateTime(QDate(2026, 11, 25), QTime(9, 0), Qt::UTC)
                        .addSecs(-60 * i)
                        .toString(Qt::ISODateWithMs) } });
        PagedRpc rpc;
        rpc.method = u"commands.query"_s;
        rpc.arrayKey = u"commands"_s;
        rpc.rows = commands;
        FakeInvoker invoker;
        invoker.setHandler(u"commands.query"_s, rpc.handler());
        CommandsModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setQuery({});
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 130, 10000);
        QCOMPARE(model.pagesLoaded(), 3);
        // Command states sit on the run-status scale: succeeded like success, rejected like failed.
        for (int r = 0; r < 8; ++r) {
            const int severity
                = model.index(r, CommandsModel::StateColumn).data(SeverityRole).toInt();
            QCOMPARE(severity, StatusStyle::severity(states.at(r)));
            QVERIFY(severity >= 0);
        }
    }
};

QTEST_MAIN(TestCommandsModel)
#include "tst_commandsmodel.moc"
