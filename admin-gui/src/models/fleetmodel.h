#pragma once

// The fleet dashboard: one row per node and job from fleet.summary (docs/protocol.md), with
// the job's status (the worst wins), its last good backup's age against the RPO (a breach
// is "stale"), failures since the last good backup, its last restore drill and borg check,
// and whether the node is online. A node that lists no job gets one row of its own. A new
// job inside its RPO grace is `pending` (its tooltip says until when).
//
// Fed by refresh() (fleet.summary through the RpcInvoker) or setSummary() (tests,
// fixtures). A refresh with the same rows updates them in place (dataChanged), so the
// selection survives the refresh timer.
//
// Threading: GUI thread.

#include "rpcinvoker.h"

#include <QAbstractTableModel>
#include <QJsonObject>
#include <QPointer>

namespace sparky::admin {

class FleetModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FleetModel)

public:
    enum Column {
        NodeColumn,
        JobColumn,
        StatusColumn,
        LastSuccessColumn, // age; raw: seconds (never: max)
        RpoColumn,
        FailuresColumn,
        LastRunColumn,
        LastDrillColumn, // status of the last restore drill; raw: severity (never: -1)
        LastCheckColumn, // status of the last borg check; raw: severity (never: -1)
        OnlineColumn,
        RepositoryColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    // `invoker` may be null (setSummary only); not owned.
    explicit FleetModel(RpcInvoker *invoker = nullptr, QObject *parent = nullptr);
    ~FleetModel() override;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    void refresh(); // fleet.summary
    void setSummary(const QJsonObject &summary);
    QJsonObject summary() const { return m_summary; }
    // "Fleet failed — 2 nodes (2 online), 1 of 2 jobs ok, 1 RPO breach, 2 failures" (and
    // ", 1 failed drill" when a job's last restore drill failed).
    QString summaryText() const;
    QString fleetStatus() const;

    QStringList nodes() const;
    QStringList jobs(const QString &node) const;
    int rowOf(const QString &node, const QString &job) const; // -1 if absent
    bool isLoading() const { return m_loading; }

Q_SIGNALS:
    void refreshed();
    void errorOccurred(const QString &message);

private:
    struct Row
    {
        QString node;
        bool online = false;
        QString lastSeen;
        QString nodeStatus;
        QJsonObject job; // empty for a node without jobs
    };
    QVariant display(const Row &r, int column) const;
    QVariant raw(const Row &r, int column) const;
    QString rowStatus(const Row &r) const;
    // The status shown in a status-like column (Status, Last drill, Last check); empty when
    // there is none.
    QString columnStatus(const Row &r, int column) const;
    QString toolTip(const Row &r, int column) const;

    QPointer<RpcInvoker> m_invoker;
    QJsonObject m_summary;
    QList<Row> m_rows;
    bool m_loading = false;
};

} // namespace sparky::admin
