// ArchiveListModel and ArchiveBrowseModel, headless: archives.list answered by the agent
// through the orchestrator (the page is result.result), every series with its stats; one
// directory of an archive paged by cursor (page_size), directories first, entering and
// leaving directories, checks kept by full archive path across directories and cleared for
// another archive. QAbstractItemModelTester watches both.

#include "archivebrowsemodel.h"
#include "archivelistmodel.h"
#include "fakeinvoker.h"
#include "jsonfixture.h"
#include "modelroles.h"
#include "pagedrpc.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace sparky::admin;
using namespace sparky::admin::test;
using namespace Qt::StringLiterals;

namespace {

QJsonObject archivesAnswer()
{
    return json(R"({"command_id": "c-1", "node": "db-01", "elapsed_ms": 812, "result": {
      "job": "db", "repository": "/srv/borg/db-01", "total": 3, "truncated": false,
      "archives": [
        {"name": "db-01-db-2026-11-24T01:00:00", "series": "db", "kind": "files",
         "start": "2026-11-24T00:00:03.000Z", "duration_seconds": 66.8,
         "stats": {"original_size": 5242880, "compressed_size": 2202009, "deduplicated_size": 1048576, "files": 1200}},
        {"name": "db-01-db.pg-app-2026-11-24T01:00:00", "series": "db.pg-app", "kind": "database",
         "database": "app", "format": "custom", "start": "2026-11-24T00:00:01.000Z"},
        {"name": "db-01-db-2026-11-25T01:00:00", "series": "db", "kind": "files",
         "start": "2026-11-25T00:00:03.000Z", "duration_seconds": 70.1,
         "stats": {"original_size": 5767168, "compressed_size": 2202009, "deduplicated_size": 524288, "files": 1210}}]}})");
}

// One directory: 3 directories, then 447 files (the agent's order).
QJsonArray directoryEntries()
{
    QJsonArray entries;
    entries.append(json(
        R"({"name": "assets", "type": "dir", "size": 0, "mode": "drwxr-xr-x", "mtime": "2026-11-20T09:12:01.000Z"})"));
    entries.append(json(R"({"name": "cache", "type": "dir", "synthetic": true})"));
    entries.append(json(
        R"({"name": "releases", "type": "dir", "size": 0, "mode": "drwxr-xr-x", "mtime": "2026-11-20T09:12:01.000Z"})"));
    entries.append(json(
        R"({"name": "current", "type": "link", "size": 0, "target": "releases/42", "mode": "lrwxrwxrwx", "mtime": "2026-11-20T09:12:01.000Z"})"));
    entries.append(json(
        R"({"name": "damaged.bin", "type": "file", "size": 1048576, "healthy": false, "mode": "-rw-r--r--", "mtime": "2026-11-20T09:12:01.000Z"})"));
    for (int i = 0; i < 445; ++i)
        entries.append(
            QJsonObject { { u"name"_s, u"page-%1.html"_s.arg(i, 3, 10, QLatin1Char('0')) },
                { u"type"_s, u"file"_s }, { u"size"_s, 5120 + i }, { u"mode"_s, u"-rw-r--r--"_s },
                { u"mtime"_s, u"2026-11-20T10:00:00.000Z"_s } });
    return entries;
}

PagedRpc browseRpc()
{
    PagedRpc p;
    p.method = u"archive.browse"_s;
    p.arrayKey = u"entries"_s;
    p.rows = directoryEntries();
    p.limitKey = u"page_size"_s;
    p.defaultLimit = 200;
    p.resultInResult = true;
    p.extra = QJsonObject { { u"total"_s, 450 } };
    return p;
}

} // namespace

class TestArchiveModels : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void listLoadsTheAgentsAnswer()
    {
        FakeInvoker invoker;
        invoker.setResult(u"archives.list"_s, archivesAnswer());
        ArchiveListModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy loaded(&model, &ArchiveListModel::loaded);
        model.load(u"db-01"_s, u"db"_s);
        QVERIFY(model.isLoading());
        QVERIFY(loaded.wait(5000));
        QVERIFY(!model.isLoading());
        QCOMPARE(model.node(), u"db-01"_s);
        QCOMPARE(model.job(), u"db"_s);
        QCOMPARE(model.rowCount(), 3);
        QVERIFY(!model.truncated());
        const auto call = invoker.callsTo(u"archives.list"_s).first();
        QCOMPARE(call.params, (QJsonObject { { u"node"_s, u"db-01"_s }, { u"job"_s, u"db"_s } }));
        QVERIFY(call.timeout >= std::chrono::seconds(60)); // the agent runs borg list + info

        QCOMPARE(model.index(0, ArchiveListModel::NameColumn).data().toString(),
            u"db-01-db-2026-11-24T01:00:00"_s);
        QCOMPARE(model.index(0, ArchiveListModel::StartColumn).data().toString(),
            u"2026-11-24 00:00:03"_s);
        QCOMPARE(
            model.index(0, ArchiveListModel::DurationColumn).data().toString(), u"1 min 7 s"_s);
        QCOMPARE(
            model.index(0, ArchiveListModel::OriginalSizeColumn).data().toString(), u"5.00 MiB"_s);
        QCOMPARE(model.index(0, ArchiveListModel::DeduplicatedSizeColumn).data().toString(),
            u"1.00 MiB"_s);
        QCOMPARE(model.index(0, ArchiveListModel::FilesColumn).data().toLongLong(), 1200);
        QCOMPARE(model.index(1, ArchiveListModel::KindColumn).data().toString(), u"database"_s);
        QCOMPARE(model.index(1, ArchiveListModel::DatabaseColumn).data().toString(), u"app"_s);
        // A database series without stats: empty cells, -1 raw (sorts first).
        QCOMPARE(model.index(1, ArchiveListModel::OriginalSizeColumn).data().toString(), QString());
        QCOMPARE(
            model.index(1, ArchiveListModel::OriginalSizeColumn).data(RawValueRole).toLongLong(),
            -1);
        QCOMPARE(
            model.index(1, ArchiveListModel::DurationColumn).data(RawValueRole).toDouble(), -1.0);
        QVERIFY(model.index(2, ArchiveListModel::StartColumn).data(RawValueRole).toLongLong()
            > model.index(0, ArchiveListModel::StartColumn).data(RawValueRole).toLongLong());
        QCOMPARE(model.archive(1).value("format"_L1).toString(), u"custom"_s);
        QCOMPARE(model.archive(3), QJsonObject());
        QCOMPARE(model.index(2, 0).data(RowObjectRole).toJsonObject(), model.archive(2));
    }

    void listErrorsAndStaleAnswers()
    {
        FakeInvoker invoker;
        invoker.setError(u"archives.list"_s, u"agent_rejected"_s,
            u"node 'db-01' refused archives.list (command c-2): body.job: no job named 'nope'"_s);
        ArchiveListModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy loaded(&model, &ArchiveListModel::loaded);
        QSignalSpy errors(&model, &ArchiveListModel::errorOccurred);
        model.load(u"db-01"_s, u"nope"_s);
        QVERIFY(loaded.wait(5000)); // the view stops waiting either way
        QCOMPARE(errors.count(), 1);
        QCOMPARE(errors.first().first().toString(),
            u"archives.list: Refused by the agent — node 'db-01' refused archives.list (command c-2): body.job: no job named 'nope'"_s);
        QCOMPARE(model.rowCount(), 0);
        QVERIFY(!model.isLoading());

        // Two loads in a row: only the second answer counts.
        invoker.setHandler(u"archives.list"_s, [](const QJsonObject &params) {
            QJsonObject a = archivesAnswer();
            if (params.value("job"_L1).toString() == u"old")
                a.insert(u"result"_s, QJsonObject { { u"archives"_s, QJsonArray {} } });
            return RpcReply::success(u"archives.list"_s, a);
        });
        invoker.setHolding(true);
        model.load(u"db-01"_s, u"old"_s);
        model.load(u"db-01"_s, u"db"_s);
        QCOMPARE(invoker.release(), 2);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.job(), u"db"_s);
        model.clear();
        QCOMPARE(model.rowCount(), 0);
    }

    void browsePagesAndNavigates()
    {
        FakeInvoker invoker;
        invoker.setHandler(u"archive.browse"_s, browseRpc().handler());
        ArchiveBrowseModel model(&invoker);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy pages(&model, &ArchiveBrowseModel::pageLoaded);
        QSignalSpy moved(&model, &ArchiveBrowseModel::locationChanged);

        // The tester fetches more after each page: all 450 entries arrive, 200 at a time.
        model.setLocation(
            u"web-01"_s, u"web"_s, u"web-01-web-2026-11-25T01:00:00"_s, u"/srv/www/"_s);
        QCOMPARE(model.path(), u"srv/www"_s); // archive paths have no leading or trailing slash
        QCOMPARE(moved.first().first().toString(), u"srv/www"_s);
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 450, 10000);
        QCOMPARE(model.pagesLoaded(), 3);
        QCOMPARE(model.total(), 450);
        const auto calls = invoker.callsTo(u"archive.browse"_s);
        QCOMPARE(calls.size(), 3);
        QCOMPARE(calls.first().params,
            (QJsonObject { { u"node"_s, u"web-01"_s }, { u"job"_s, u"web"_s },
                { u"archive"_s, u"web-01-web-2026-11-25T01:00:00"_s }, { u"path"_s, u"srv/www"_s },
                { u"page_size"_s, 200 } }));
        QCOMPARE(calls.at(2).params.value("cursor"_L1).toString(), u"row:400"_s);

        // Cells: directories show a slash and sort first; links and damaged files explain
        // themselves.
        QCOMPARE(model.index(0, ArchiveBrowseModel::NameColumn).data().toString(), u"assets/"_s);
        QCOMPARE(model.index(0, ArchiveBrowseModel::NameColumn).data(RawValueRole).toString(),
            u"0assets"_s);
        QCOMPARE(model.index(5, ArchiveBrowseModel::NameColumn).data(RawValueRole).toString(),
            u"1page-000.html"_s);
        QCOMPARE(model.index(0, ArchiveBrowseModel::SizeColumn).data().toString(), QString());
        QCOMPARE(model.index(5, ArchiveBrowseModel::SizeColumn).data().toString(), u"5.00 KiB"_s);
        QCOMPARE(model.index(5, ArchiveBrowseModel::ModifiedColumn).data().toString(),
            u"2026-11-20 10:00:00"_s);
        QCOMPARE(model.index(1, ArchiveBrowseModel::ModifiedColumn).data().toString(), QString());
        QCOMPARE(model.index(1, ArchiveBrowseModel::NameColumn).data(Qt::ToolTipRole).toString(),
            u"a parent directory of a backed-up path (no item of its own)"_s);
        QCOMPARE(model.index(3, ArchiveBrowseModel::NameColumn).data(Qt::ToolTipRole).toString(),
            u"→ releases/42"_s);
        QVERIFY(model.index(4, ArchiveBrowseModel::NameColumn)
                    .data(Qt::ToolTipRole)
                    .toString()
                    .startsWith(u"damaged"_s));
        QCOMPARE(model.index(5, ArchiveBrowseModel::NameColumn).data(Qt::ToolTipRole).toString(),
            u"srv/www/page-000.html"_s);
        QCOMPARE(model.index(5, ArchiveBrowseModel::ModeColumn).data().toString(), u"-rw-r--r--"_s);
        QVERIFY(model.isDirectory(0));
        QVERIFY(!model.isDirectory(3));
        QCOMPARE(model.fullPath(5), u"srv/www/page-000.html"_s);
        QCOMPARE(model.fullPath(450), QString());

        // Into a directory and back up.
        invoker.clearCalls();
        model.enter(5); // a file: nothing happens
        QCOMPARE(invoker.callCount(u"archive.browse"_s), 0);
        model.enter(0);
        QCOMPARE(model.path(), u"srv/www/assets"_s);
        QCOMPARE(invoker.callsTo(u"archive.browse"_s).first().params.value("path"_L1).toString(),
            u"srv/www/assets"_s);
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 450, 10000);
        model.up();
        QCOMPARE(model.path(), u"srv/www"_s);
        model.up();
        QCOMPARE(model.path(), u"srv"_s);
        model.up();
        QCOMPARE(model.path(), QString());
        QVERIFY(
            !invoker.callsTo(u"archive.browse"_s).last().params.contains("path"_L1)); // the root
        const int asked = invoker.callCount(u"archive.browse"_s);
        model.up(); // at the root already
        QCOMPARE(invoker.callCount(u"archive.browse"_s), asked);
        QVERIFY(pages.count() > 3);
    }

    void checksFollowPathsNotRows()
    {
        FakeInvoker invoker;
        invoker.setHandler(u"archive.browse"_s, browseRpc().handler());
        ArchiveBrowseModel model(&invoker);
        model.setPageSize(500);
        QAbstractItemModelTester tester(
            &model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy checked(&model, &ArchiveBrowseModel::checkedChanged);
        model.setLocation(u"web-01"_s, u"web"_s, u"a1"_s, u"srv/www"_s);
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 450, 10000);
        QVERIFY(
            model.flags(model.index(5, ArchiveBrowseModel::NameColumn)) & Qt::ItemIsUserCheckable);
        QVERIFY(!(
            model.flags(model.index(5, ArchiveBrowseModel::SizeColumn)) & Qt::ItemIsUserCheckable));
        QCOMPARE(model.index(5, 0).data(Qt::CheckStateRole).toInt(), int(Qt::Unchecked));

        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QVERIFY(model.setData(model.index(5, 0), Qt::Checked, Qt::CheckStateRole));
        QCOMPARE(changed.count(), 1);
        QVERIFY(!model.setData(model.index(5, 1), Qt::Checked, Qt::CheckStateRole));
        QVERIFY(!model.setData(model.index(5, 0), u"x"_s, Qt::EditRole));
        QVERIFY(model.setData(model.index(0, 0), Qt::Checked, Qt::CheckStateRole));
        QCOMPARE(model.index(5, 0).data(Qt::CheckStateRole).toInt(), int(Qt::Checked));
        QCOMPARE(model.checkedPaths(),
            (QStringList { u"srv/www/assets"_s, u"srv/www/page-000.html"_s }));
        QCOMPARE(checked.last().first().toInt(), 2);

        // Into a sub-directory: the checks stay (by path); back up: still checked.
        model.enter(2);
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 450, 10000);
        model.setChecked(model.fullPath(6), true);
        QCOMPARE(model.checkedPaths().size(), 3);
        QVERIFY(model.checkedPaths().contains(u"srv/www/releases/page-001.html"_s));
        model.up();
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 450, 10000);
        QCOMPARE(model.index(5, 0).data(Qt::CheckStateRole).toInt(), int(Qt::Checked));

        model.setChecked(u"srv/www/assets"_s, false);
        QCOMPARE(model.index(0, 0).data(Qt::CheckStateRole).toInt(), int(Qt::Unchecked));
        QCOMPARE(model.checkedPaths().size(), 2);

        // Another archive: nothing checked.
        model.setLocation(u"web-01"_s, u"web"_s, u"a2"_s);
        QCOMPARE(model.checkedPaths(), QStringList());
        QCOMPARE(checked.last().first().toInt(), 0);
        QCOMPARE(model.archive(), u"a2"_s);
        model.setChecked(u"x"_s, true);
        model.clearChecked();
        QCOMPARE(model.checkedPaths(), QStringList());
    }

    void browseErrorSaysWhy()
    {
        FakeInvoker invoker;
        invoker.setError(
            u"archive.browse"_s, u"agent_rejected"_s, u"'srv/nope' is not in archive a1"_s);
        ArchiveBrowseModel model(&invoker);
        QSignalSpy errors(&model, &ArchiveBrowseModel::errorOccurred);
        model.setLocation(u"web-01"_s, u"web"_s, u"a1"_s, u"srv/nope"_s);
        QVERIFY(errors.wait(5000));
        QCOMPARE(errors.first().first().toString(),
            u"archive.browse: Refused by the agent — 'srv/nope' is not in archive a1"_s);
        QCOMPARE(model.total(), -1);
    }
};

QTEST_MAIN(TestArchiveModels)
#include "tst_archivemodels.moc"
