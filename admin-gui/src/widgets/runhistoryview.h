#pragma once

// The run history: filters (node, job, status, kind, time range), the paged run table
// (RunHistoryModel; more pages load as it scrolls) and a details pane for the selected run
// (run.get: headline, stats, error, steps, log tail).
//
// Threading: GUI thread.

#include "runfilter.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDateTimeEdit;
class QLabel;
class QPlainTextEdit;
class QSortFilterProxyModel;
class QTableView;

namespace sparky::admin {

class FleetModel;
class NodeJobSelector;
class RpcInvoker;
class RunDetails;
class RunHistoryModel;

class RunHistoryView final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunHistoryView)

public:
    RunHistoryView(RpcInvoker *invoker, FleetModel *fleet, QWidget *parent = nullptr);
    ~RunHistoryView() override;

    // Sets the filters to one node and job (either may be empty) and loads.
    void showFor(const QString &node, const QString &job);
    void apply(); // reads the filter widgets, loads the first page
    void refresh();
    RunFilter currentFilter() const;

    RunHistoryModel *model() const { return m_model; }
    RunDetails *details() const { return m_details; }
    QTableView *table() const { return m_table; }

Q_SIGNALS:
    void errorOccurred(const QString &message);

private:
    void showDetails();
    void updateCount();

    RunHistoryModel *m_model = nullptr;
    QSortFilterProxyModel *m_proxy = nullptr;
    RunDetails *m_details = nullptr;
    NodeJobSelector *m_selector = nullptr;
    QComboBox *m_status = nullptr;
    QComboBox *m_kind = nullptr;
    QCheckBox *m_sinceOn = nullptr;
    QDateTimeEdit *m_since = nullptr;
    QCheckBox *m_untilOn = nullptr;
    QDateTimeEdit *m_until = nullptr;
    QTableView *m_table = nullptr;
    QLabel *m_count = nullptr;
    QLabel *m_headline = nullptr;
    QLabel *m_stats = nullptr;
    QLabel *m_error = nullptr;
    QTableView *m_steps = nullptr;
    QPlainTextEdit *m_log = nullptr;
};

} // namespace sparky::admin
