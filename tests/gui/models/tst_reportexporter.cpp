// ReportExporter, headless: report.export in the format the file name asks for, written
// atomically (a failed export leaves an existing file untouched), one export at a time.
// The real orchestrator's export is exercised by tst_console_dashboard.

#include "fakeinvoker.h"
#include "reportexporter.h"

#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace Qt::StringLiterals;

class TestReportExporter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void formatForFile_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("format");
        QTest::newRow("csv") << u"/tmp/r.csv"_s << u"csv"_s;
        QTest::newRow("CSV") << u"/tmp/R.CSV"_s << u"csv"_s;
        QTest::newRow("json") << u"/tmp/r.json"_s << u"json"_s;
        QTest::newRow("anything else") << u"/tmp/report"_s << u"json"_s;
    }
    void formatForFile()
    {
        QFETCH(QString, file);
        QFETCH(QString, format);
        QCOMPARE(ReportExporter::formatForFile(file), format);
    }

    void writesTheFileAtomically()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath(u"fleet.csv"_s);
        FakeInvoker invoker;
        invoker.setResult(u"report.export"_s,
            { { u"format"_s, u"csv"_s }, { u"content_type"_s, u"text/csv"_s },
                { u"content"_s, u"node,online,job\nweb-01,true,home\n"_s } });
        ReportExporter exporter(&invoker);
        QSignalSpy finished(&exporter, &ReportExporter::finished);
        exporter.exportTo(file, u"csv"_s, u"web-01"_s, 86400);
        QVERIFY(exporter.isBusy());
        exporter.exportTo(file, u"csv"_s); // one at a time
        QCOMPARE(invoker.callCount(u"report.export"_s), 1);
        QVERIFY(finished.wait(5000));
        QVERIFY(!exporter.isBusy());
        QCOMPARE(invoker.calls().first().params,
            (QJsonObject { { u"format"_s, u"csv"_s }, { u"node"_s, u"web-01"_s },
                { u"window_seconds"_s, 86400 } }));
        QCOMPARE(finished.first().at(0).toBool(), true);
        QCOMPARE(finished.first().at(1).toString(),
            u"report exported to %1 (csv, 33 bytes)"_s.arg(file));
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), QByteArray("node,online,job\nweb-01,true,home\n"));
        f.close();

        // A refused export leaves the file as it was.
        invoker.setError(u"report.export"_s, u"unavailable"_s, u"the store is down"_s);
        exporter.exportTo(file, u"json"_s);
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.last().at(0).toBool(), false);
        QCOMPARE(
            finished.last().at(1).toString(), u"report.export: Unavailable — the store is down"_s);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), QByteArray("node,online,job\nweb-01,true,home\n"));
    }

    void unwritableTargetSaysSo()
    {
        FakeInvoker invoker;
        invoker.setResult(
            u"report.export"_s, { { u"format"_s, u"json"_s }, { u"content"_s, u"{}"_s } });
        ReportExporter exporter(&invoker);
        QSignalSpy finished(&exporter, &ReportExporter::finished);
        exporter.exportTo(u"/nonexistent-dir/report.json"_s, u"json"_s);
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.first().at(0).toBool(), false);
        QVERIFY2(finished.first().at(1).toString().startsWith(
                     u"cannot write /nonexistent-dir/report.json: "_s),
            qPrintable(finished.first().at(1).toString()));
    }
};

QTEST_GUILESS_MAIN(TestReportExporter)
#include "tst_reportexporter.moc"
