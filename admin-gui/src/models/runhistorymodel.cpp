#include "runhistorymodel.h"

#include "displayformat.h"
#include "modelroles.h"
#include "statusstyle.h"

#include <QColor>

namespace sparky::admin {

using namespace Qt::StringLiterals;

RunHistoryModel::RunHistoryModel(RpcInvoker *invoker, QObject *parent)
    : PagedTableModel(invoker, Paging { u"runs.query"_s, u"runs"_s }, parent)
{ }

RunHistoryModel::~RunHistoryModel() = default;

int RunHistoryModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

void RunHistoryModel::setFilter(const RunFilter &filter)
{
    m_filter = filter;
    setQuery(filter.toParams());
}

QVariant RunHistoryModel::cell(const QJsonObject &r, int column, int role) const
{
    const QString status = r.value("status"_L1).toString();
    auto size = [&](const char *key) -> QVariant {
        const QJsonValue v = r.value(QLatin1StringView(key));
        if (role == RawValueRole)
            return qlonglong(v.isNull() ? -1 : v.toInteger());
        return v.isNull() || v.isUndefined() ? QString() : DisplayFormat::bytes(v.toInteger());
    };
    if (role == SeverityRole)
        return StatusStyle::severity(status);
    if (role == Qt::BackgroundRole)
        return column == StatusColumn ? QVariant(StatusStyle::background(status)) : QVariant();
    if (role == Qt::ForegroundRole)
        return column == StatusColumn ? QVariant(StatusStyle::foreground(status)) : QVariant();
    if (role == Qt::ToolTipRole && column == ErrorColumn)
        return r.value("error"_L1).toString();
    if (role != Qt::DisplayRole && role != RawValueRole)
        return {};
    const bool rawRole = role == RawValueRole;
    switch (column) {
    case StartedColumn:
        return rawRole ? QVariant(qlonglong(DisplayFormat::epochMs(r.value("started_at"_L1))))
                       : QVariant(DisplayFormat::time(r.value("started_at"_L1)));
    case NodeColumn:
        return r.value("node"_L1).toString();
    case JobColumn:
        return r.value("job"_L1).toString();
    case KindColumn:
        return r.value("kind"_L1).toString();
    case StatusColumn:
        return rawRole ? QVariant(StatusStyle::severity(status))
                       : QVariant(StatusStyle::label(status));
    case DurationColumn: {
        const QJsonValue d = r.value("duration_seconds"_L1);
        if (rawRole)
            return d.isDouble() ? d.toDouble() : -1.0;
        return d.isDouble() ? DisplayFormat::duration(d.toDouble()) : QString();
    }
    case OriginalSizeColumn:
        return size("original_size");
    case DeduplicatedSizeColumn:
        return size("deduplicated_size");
    case FilesColumn:
        return rawRole ? QVariant(qlonglong(r.value("files"_L1).toInteger(-1)))
                       : (r.value("files"_L1).isDouble() ? QVariant(r.value("files"_L1).toInteger())
                                                         : QVariant(QString()));
    case TriggerColumn:
        return r.value("trigger"_L1).toString();
    case ArchiveColumn:
        return r.value("archive_name"_L1).toString();
    case ErrorColumn: {
        const QString e = r.value("error"_L1).toString();
        const QString step = r.value("failed_step"_L1).toString();
        return step.isEmpty() ? e : QString(step + u": "_s + e);
    }
    }
    return {};
}

QVariant RunHistoryModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char *const names[] = { "Started (UTC)", "Node", "Job", "Kind", "Status",
        "Duration", "Original size", "Deduplicated", "Files", "Trigger", "Archive", "Error" };
    return section >= 0 && section < ColumnCount ? QString::fromLatin1(names[section]) : QVariant();
}

} // namespace sparky::admin
