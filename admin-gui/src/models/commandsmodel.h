#pragma once

// The commands log: commands.query pages (newest first), lazily fetched. One row per
// command the orchestrator issued (backup.run, restore.extract, archives.list …), with its
// state, who issued it, and its error.
//
// Threading: GUI thread.

#include "pagedtablemodel.h"

namespace sparky::admin {

class CommandsModel final : public PagedTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CommandsModel)

public:
    enum Column {
        IssuedColumn,
        NodeColumn,
        TypeColumn,
        StateColumn,
        IssuedByColumn,
        ParamsColumn,
        RunColumn,
        ErrorColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    explicit CommandsModel(RpcInvoker *invoker, QObject *parent = nullptr);
    ~CommandsModel() override;

    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

protected:
    QVariant cell(const QJsonObject &row, int column, int role) const override;
};

} // namespace sparky::admin
