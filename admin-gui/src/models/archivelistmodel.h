#pragma once

// The archives of one node's job (archives.list, answered by the agent through the
// orchestrator — docs/restore.md "Archives of a job"): every series (files, each database
// dump, globals), with times and, when asked, borg's statistics.
//
// Threading: GUI thread.

#include "rpcinvoker.h"

#include <QAbstractTableModel>
#include <QJsonArray>
#include <QJsonObject>
#include <QPointer>

namespace sparky::admin {

class ArchiveListModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ArchiveListModel)

public:
    enum Column {
        NameColumn,
        SeriesColumn,
        KindColumn, // files | database | globals
        DatabaseColumn,
        StartColumn,
        DurationColumn,
        OriginalSizeColumn,
        DeduplicatedSizeColumn,
        FilesColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    explicit ArchiveListModel(RpcInvoker *invoker = nullptr, QObject *parent = nullptr);
    ~ArchiveListModel() override;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    void load(const QString &node, const QString &job);
    void setResult(const QString &node, const QString &job, const QJsonObject &agentResult);
    void clear();

    QString node() const { return m_node; }
    QString job() const { return m_job; }
    QJsonObject archive(int row) const;
    bool isLoading() const { return m_loading; }
    bool truncated() const { return m_truncated; }
    // Why the last load failed (loaded() follows errorOccurred()); empty after a good one.
    QString errorString() const { return m_error; }

Q_SIGNALS:
    void loaded();
    void errorOccurred(const QString &message);

private:
    QPointer<RpcInvoker> m_invoker;
    QString m_node;
    QString m_job;
    QJsonArray m_archives;
    QString m_error;
    quint64 m_generation = 0;
    bool m_loading = false;
    bool m_truncated = false;
};

} // namespace sparky::admin
