#pragma once

// The run history: runs.query pages (newest first), lazily fetched as the view scrolls
// (fetchMore with the keyset cursor). One row per run of any kind.
//
// Threading: GUI thread.

#include "pagedtablemodel.h"
#include "runfilter.h"

namespace sparky::admin {

class RunHistoryModel final : public PagedTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunHistoryModel)

public:
    enum Column {
        StartedColumn,
        NodeColumn,
        JobColumn,
        KindColumn,
        StatusColumn,
        DurationColumn,
        OriginalSizeColumn,
        DeduplicatedSizeColumn,
        FilesColumn,
        TriggerColumn,
        ArchiveColumn,
        ErrorColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    explicit RunHistoryModel(RpcInvoker *invoker, QObject *parent = nullptr);
    ~RunHistoryModel() override;

    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    void setFilter(const RunFilter &filter); // validated by the caller
    RunFilter filter() const { return m_filter; }

protected:
    QVariant cell(const QJsonObject &row, int column, int role) const override;

private:
    RunFilter m_filter;
};

} // namespace sparky::admin
