#include "archivelistmodel.h"

#include "displayformat.h"
#include "modelroles.h"

namespace sparky::admin {

using namespace Qt::StringLiterals;

ArchiveListModel::ArchiveListModel(RpcInvoker *invoker, QObject *parent)
    : QAbstractTableModel(parent)
    , m_invoker(invoker)
{ }

ArchiveListModel::~ArchiveListModel() = default;

int ArchiveListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_archives.size());
}

int ArchiveListModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

void ArchiveListModel::clear()
{
    ++m_generation;
    m_loading = false;
    beginResetModel();
    m_archives = {};
    m_truncated = false;
    m_error.clear();
    endResetModel();
}

void ArchiveListModel::load(const QString &node, const QString &job)
{
    clear();
    m_node = node;
    m_job = job;
    if (!m_invoker)
        return;
    const quint64 generation = m_generation;
    m_loading = true;
    // The agent answers through the orchestrator: allow for borg list + borg info.
    m_invoker->invoke(
        u"archives.list"_s, { { u"node"_s, node }, { u"job"_s, job } }, this,
        [this, generation, node, job](const RpcReply &r) {
            if (generation != m_generation)
                return;
            m_loading = false;
            if (!r.ok) {
                m_error = r.describe();
                Q_EMIT errorOccurred(m_error);
                Q_EMIT loaded();
                return;
            }
            setResult(node, job, r.result.value("result"_L1).toObject());
        },
        std::chrono::seconds(60));
}

void ArchiveListModel::setResult(const QString &node, const QString &job, const QJsonObject &result)
{
    beginResetModel();
    m_node = node;
    m_job = job;
    m_archives = result.value("archives"_L1).toArray();
    m_truncated = result.value("truncated"_L1).toBool();
    m_error.clear();
    endResetModel();
    Q_EMIT loaded();
}

QJsonObject ArchiveListModel::archive(int row) const
{
    return row >= 0 && row < m_archives.size() ? m_archives.at(row).toObject() : QJsonObject();
}

QVariant ArchiveListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const QJsonObject a = m_archives.at(index.row()).toObject();
    const QJsonObject stats = a.value("stats"_L1).toObject();
    if (role == RowObjectRole)
        return a;
    if (role != Qt::DisplayRole && role != RawValueRole)
        return {};
    const bool rawRole = role == RawValueRole;
    auto stat = [&](const char *key) -> QVariant {
        const QJsonValue v = stats.value(QLatin1StringView(key));
        if (rawRole)
            return qlonglong(v.isDouble() ? v.toInteger() : -1);
        return v.isDouble() ? QVariant(DisplayFormat::bytes(v.toInteger())) : QVariant(QString());
    };
    switch (index.column()) {
    case NameColumn:
        return a.value("name"_L1).toString();
    case SeriesColumn:
        return a.value("series"_L1).toString();
    case KindColumn:
        return a.value("kind"_L1).toString();
    case DatabaseColumn:
        return a.value("database"_L1).toString();
    case StartColumn:
        return rawRole ? QVariant(qlonglong(DisplayFormat::epochMs(a.value("start"_L1))))
                       : QVariant(DisplayFormat::time(a.value("start"_L1)));
    case DurationColumn: {
        const QJsonValue d = a.value("duration_seconds"_L1);
        if (rawRole)
            return d.isDouble() ? d.toDouble() : -1.0;
        return d.isDouble() ? DisplayFormat::duration(d.toDouble()) : QString();
    }
    case OriginalSizeColumn:
        return stat("original_size");
    case DeduplicatedSizeColumn:
        return stat("deduplicated_size");
    case FilesColumn: {
        const QJsonValue f = stats.value("files"_L1);
        if (rawRole)
            return qlonglong(f.isDouble() ? f.toInteger() : -1);
        return f.isDouble() ? QVariant(f.toInteger()) : QVariant(QString());
    }
    }
    return {};
}

QVariant ArchiveListModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char *const names[] = { "Archive", "Series", "Kind", "Database", "Start (UTC)",
        "Duration", "Original size", "Deduplicated", "Files" };
    return section >= 0 && section < ColumnCount ? QString::fromLatin1(names[section]) : QVariant();
}

} // namespace sparky::admin
