#pragma once

// The fleet dashboard: node × job status at a glance (FleetModel through FleetFilterProxy),
// a filter box, "problems only", the fleet roll-up line, and a refresh timer.
//
// Threading: GUI thread.

#include <QWidget>

class QCheckBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableView;
class QTimer;

namespace sparky::admin {

class FleetFilterProxy;
class FleetModel;

class FleetView final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FleetView)

public:
    explicit FleetView(FleetModel *model, QWidget *parent = nullptr);
    ~FleetView() override;

    void setRefreshInterval(std::chrono::milliseconds interval);
    QTableView *table() const { return m_table; }
    FleetFilterProxy *proxy() const { return m_proxy; }
    // The selected row's node and job (empty when none).
    QString selectedNode() const;
    QString selectedJob() const;

Q_SIGNALS:
    void runNowRequested(const QString &node, const QString &job);
    void historyRequested(const QString &node, const QString &job);
    void chartsRequested(const QString &node, const QString &job);
    void archivesRequested(const QString &node, const QString &job);

private:
    QJsonObject selectedRow() const;

    FleetModel *m_model = nullptr;
    FleetFilterProxy *m_proxy = nullptr;
    QLineEdit *m_filter = nullptr;
    QCheckBox *m_problemsOnly = nullptr;
    QLabel *m_summary = nullptr;
    QTableView *m_table = nullptr;
    QTimer *m_timer = nullptr;
};

} // namespace sparky::admin
