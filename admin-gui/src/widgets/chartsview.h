#pragma once

// Charts (Qt Charts) for one node and job over a time window, one point per good backup
// (RunSeriesModel): archive size — original on the left axis, deduplicated (the new data
// each backup added to the repository) on its own right axis — and backup duration.
//
// Threading: GUI thread.

#include <QWidget>

class QChart;
class QChartView;
class QComboBox;
class QLabel;
class QLineSeries;

namespace sparky::admin {

class FleetModel;
class NodeJobSelector;
class RpcInvoker;
class RunSeriesModel;

class ChartsView final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ChartsView)

public:
    ChartsView(RpcInvoker *invoker, FleetModel *fleet, QWidget *parent = nullptr);
    ~ChartsView() override;

    void showFor(const QString &node, const QString &job);
    void load();
    RunSeriesModel *model() const { return m_model; }
    // Points plotted in the size chart's "original" series (tests).
    int pointCount() const;

Q_SIGNALS:
    void errorOccurred(const QString &message);

private:
    void rebuild();

    RunSeriesModel *m_model = nullptr;
    NodeJobSelector *m_selector = nullptr;
    QComboBox *m_window = nullptr;
    QLabel *m_status = nullptr;
    QChart *m_sizeChart = nullptr;
    QChart *m_durationChart = nullptr;
    QChartView *m_sizeView = nullptr;
    QChartView *m_durationView = nullptr;
};

} // namespace sparky::admin
