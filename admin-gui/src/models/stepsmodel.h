#pragma once

// The steps of one run (run.get "steps": hooks, dumps, create, prune …) with their status,
// times, exit code and error.
//
// Threading: GUI thread.

#include <QAbstractTableModel>
#include <QJsonArray>

namespace sparky::admin {

class StepsModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StepsModel)

public:
    enum Column {
        NameColumn,
        StatusColumn,
        StartedColumn,
        DurationColumn,
        ExitCodeColumn,
        ErrorColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    explicit StepsModel(QObject *parent = nullptr);
    ~StepsModel() override;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    void setSteps(const QJsonArray &steps);

private:
    QJsonArray m_steps;
};

} // namespace sparky::admin
