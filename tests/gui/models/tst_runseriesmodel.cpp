// RunSeriesModel, headless: the points of the charts — the good backups (success, warning)
// of one node and job since a time, oldest first, read page after page of runs.query
// (order asc) until the window is complete or maxPoints is reached. Under
// QAbstractItemModelTester.

#include "fakeinvoker.h"
#include "modelroles.h"
#include "pagedrpc.h"
#include "runseriesmodel.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace Qt::StringLiterals;

namespace {

// 700 runs, oldest first; every 7th failed, every 11th a warning, the last one running.
QJsonArray runs()
{
    QJsonArray out;
    const QDateTime t0(QDate(2026, 1, 1), QTime(2, 0), Qt::UTC);
    for (int i = 0; i < 700; ++i) {
        const QDateTime start = t0.addSecs(qint64(i) * 3600 * 12);
        const QString status = i == 699 ? u"running"_s
            : i % 7 == 0                ? u"failed"_s
            : i % 11 == 0               ? u"warning"_s
                                        : u"success"_s;
        QJsonObject r { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s },
            { u"kind"_s, u"backup"_s }, { u"run_id"_s, u"r-%1"_s.arg(i) }, { u"status"_s, status },
            { u"started_at"_s, start.toString(Qt::ISODateWithMs) } };
        if (status != u"running") {
            r.insert(u"finished_at"_s, start.addSecs(100 + i).toString(Qt::ISODateWithMs));
            r.insert(u"duration_seconds"_s, 100.0 + i);
        }
        if (status == u"success" || status == u"warning") {
            r.insert(u"original_size"_s, 1000000 + qint64(i) * 1000);
            r.insert(u"deduplicated_size"_s, 5000 + i);
        }
        out.append(r);
    }
    return out;
}

int goodRuns(const QJsonArray &all, int limit = -1)
{
    int n = 0;
    for (int i = 0; i < all.size() && (limit < 0 || i < limit); ++i) {
        const QString s = all.at(i).toObject().value("status"_L1).toString();
        n += s == u"success" || s == u"warning";
    }
    return n;
}

} // namespace

class TestRunSeriesModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void loadsEveryPageOfTheWindow()
    {
        FakeInvoker invoker;
        PagedRpc rpc;
        rpc.method = u"runs.query"_s;
        rpc.arrayKey = u"runs"_s;
        rpc.rows = runs();
        invoker.setHandler(u"runs.query"_s, rpc.handler());
        RunSeriesModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy loaded(&model, &RunSeriesModel::loaded);
        const QDateTime since(QDate(2026, 1, 1), QTime(0, 0), Qt::UTC);
        model.load(u"web-01"_s, u"home"_s, since);
        QVERIFY(model.isLoading());
        QVERIFY(loaded.wait(10000));
        QVERIFY(!model.isLoading());
        QCOMPARE(model.rowCount(), goodRuns(rpc.rows));
        const auto calls = invoker.callsTo(u"runs.query"_s);
        QCOMPARE(calls.size(), 2); // 500 + 200
        QCOMPARE(calls.first().params,
            (QJsonObject { { u"node"_s, u"web-01"_s }, { u"job"_s, u"home"_s },
                { u"kind"_s, u"backup"_s }, { u"order"_s, u"asc"_s }, { u"limit"_s, 500 },
                { u"since"_s, u"2026-01-01T00:00:00.000Z"_s } }));
        QCOMPARE(calls.at(1).params.value("cursor"_L1).toString(), u"row:500"_s);

        // Oldest first, the raw values for the axes.
        QCOMPARE(model.index(0, RunSeriesModel::FinishedColumn).data().toString(),
            u"2026-01-01 14:01:41"_s);
        QCOMPARE(model.index(0, RunSeriesModel::FinishedColumn).data(RawValueRole).toLongLong(),
            QDateTime(QDate(2026, 1, 1), QTime(14, 1, 41), Qt::UTC).toMSecsSinceEpoch());
        QCOMPARE(model.index(0, RunSeriesModel::OriginalSizeColumn).data(RawValueRole).toLongLong(),
            1001000);
        QCOMPARE(
            model.index(0, RunSeriesModel::OriginalSizeColumn).data().toString(), u"977.5 KiB"_s);
        QCOMPARE(
            model.index(0, RunSeriesModel::DurationColumn).data(RawValueRole).toDouble(), 101.0);
        QCOMPARE(model.index(0, RunSeriesModel::DurationColumn).data().toString(), u"1 min 41 s"_s);
        for (int r = 1; r < model.rowCount(); ++r)
            QVERIFY(model.index(r, 0).data(RawValueRole).toLongLong()
                > model.index(r - 1, 0).data(RawValueRole).toLongLong());
        QCOMPARE(model.index(9, RunSeriesModel::StatusColumn).data().toString(),
            u"Warning"_s); // run 11: a warning
        QCOMPARE(model.index(9, 0).data(SeverityRole).toInt(), 2);
    }

    void stopsAtMaxPoints()
    {
        FakeInvoker invoker;
        PagedRpc rpc;
        rpc.method = u"runs.query"_s;
        rpc.arrayKey = u"runs"_s;
        rpc.rows = runs();
        invoker.setHandler(u"runs.query"_s, rpc.handler());
        RunSeriesModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setMaxPoints(100);
        QSignalSpy loaded(&model, &RunSeriesModel::loaded);
        model.load(u"web-01"_s, u"home"_s, {});
        QVERIFY(loaded.wait(10000));
        QCOMPARE(model.rowCount(), 100);
        QCOMPARE(invoker.callCount(u"runs.query"_s), 1);
        QVERIFY(!invoker.calls().first().params.contains("since"_L1));
    }

    void appendKeepsOnlyGoodFinishedRuns()
    {
        RunSeriesModel model;
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.appendRuns(runs());
        QCOMPARE(model.rowCount(), goodRuns(runs()));
        model.clear();
        QCOMPARE(model.rowCount(), 0);
        QSignalSpy loaded(&model, &RunSeriesModel::loaded);
        model.load(u"web-01"_s, u"home"_s, {}); // no invoker: nothing to ask
        QVERIFY(!model.isLoading());
        QCOMPARE(model.node(), u"web-01"_s);
    }

    void errorEndsTheLoad()
    {
        FakeInvoker invoker;
        invoker.setError(u"runs.query"_s, u"forbidden"_s, u"user 'x' has no role"_s);
        RunSeriesModel model(&invoker);
        QSignalSpy loaded(&model, &RunSeriesModel::loaded);
        QSignalSpy errors(&model, &RunSeriesModel::errorOccurred);
        model.load(u"web-01"_s, u"home"_s, {});
        QVERIFY(loaded.wait(5000));
        QCOMPARE(
            errors.first().first().toString(), u"runs.query: Not allowed — user 'x' has no role"_s);
        QVERIFY(!model.isLoading());
    }
};

QTEST_MAIN(TestRunSeriesModel)
#include "tst_runseriesmodel.moc"
