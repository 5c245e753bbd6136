#pragma once

// The points of the charts: every good backup (success or warning) of one node and job in
// a time window, oldest first, with its sizes (original, deduplicated) and duration. Loads
// runs.query pages (order asc) until the window is complete or maxPoints is reached.
//
// Threading: GUI thread.

#include "rpcinvoker.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QJsonObject>
#include <QPointer>

namespace sparky::admin {

class RunSeriesModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunSeriesModel)

public:
    enum Column {
        FinishedColumn, // raw: epoch ms
        OriginalSizeColumn,
        DeduplicatedSizeColumn,
        DurationColumn, // raw: seconds
        StatusColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    explicit RunSeriesModel(RpcInvoker *invoker = nullptr, QObject *parent = nullptr);
    ~RunSeriesModel() override;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    void load(const QString &node, const QString &job, const QDateTime &since);
    // Adds the good runs of one runs.query page (tests, and load()).
    void appendRuns(const QJsonArray &runs);
    void clear();

    void setMaxPoints(int points) { m_maxPoints = points; }
    bool isLoading() const { return m_loading; }
    QString node() const { return m_node; }
    QString job() const { return m_job; }

Q_SIGNALS:
    void loaded();
    void errorOccurred(const QString &message);

private:
    struct Point
    {
        qint64 finishedMs = 0;
        qint64 original = 0;
        qint64 deduplicated = 0;
        double duration = 0;
        QString status;
    };
    void loadPage(const QString &cursor, quint64 generation);

    QPointer<RpcInvoker> m_invoker;
    QString m_node;
    QString m_job;
    QDateTime m_since;
    QList<Point> m_points;
    quint64 m_generation = 0;
    int m_maxPoints = 5000;
    bool m_loading = false;
};

} // namespace sparky::admin
