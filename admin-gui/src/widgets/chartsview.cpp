#include "chartsview.h"

#include "displayformat.h"
#include "fleetmodel.h"
#include "modelroles.h"
#include "nodejobselector.h"
#include "runseriesmodel.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDateTimeAxis>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineSeries>
#include <QPushButton>
#include <QSplitter>
#include <QVBoxLayout>
#include <QValueAxis>
#include <cmath>

namespace sparky::admin {

using namespace Qt::StringLiterals;

namespace {

QChartView *makeChartView(QChart *chart, const QString &name, QWidget *parent)
{
    chart->legend()->setAlignment(Qt::AlignBottom);
    chart->setMargins(QMargins(4, 4, 4, 4));
    auto *view = new QChartView(chart, parent);
    view->setObjectName(name);
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumHeight(180);
    return view;
}

// The unit that keeps the largest value readable (1 … 1023.9): B, KiB … TiB.
std::pair<double, QString> sizeUnit(qint64 max)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double div = 1;
    int u = 0;
    while (double(max) / div >= 1024 && u < 4) {
        div *= 1024;
        ++u;
    }
    return { div, QString::fromLatin1(units[u]) };
}

} // namespace

ChartsView::ChartsView(RpcInvoker *invoker, FleetModel *fleet, QWidget *parent)
    : QWidget(parent)
{
    setObjectName(u"chartsView"_s);
    m_model = new RunSeriesModel(invoker, this);
    auto *layout = new QVBoxLayout(this);
    auto *bar = new QHBoxLayout;
    m_selector = new NodeJobSelector(fleet, u"chart"_s, false, this);
    bar->addWidget(m_selector);
    bar->addWidget(new QLabel(u"Window:"_s, this));
    m_window = new QComboBox(this);
    m_window->setObjectName(u"chartWindow"_s);
    m_window->addItem(u"7 days"_s, 7);
    m_window->addItem(u"30 days"_s, 30);
    m_window->addItem(u"90 days"_s, 90);
    m_window->addItem(u"1 year"_s, 365);
    m_window->setCurrentIndex(1);
    bar->addWidget(m_window);
    auto *loadButton = new QPushButton(u"Show"_s, this);
    loadButton->setObjectName(u"chartLoad"_s);
    bar->addWidget(loadButton);
    bar->addStretch(1);
    layout->addLayout(bar);
    m_status = new QLabel(this);
    m_status->setObjectName(u"chartStatus"_s);
    layout->addWidget(m_status);

    m_sizeChart = new QChart;
    m_sizeChart->setTitle(u"Archive size"_s);
    m_durationChart = new QChart;
    m_durationChart->setTitle(u"Backup duration"_s);
    auto *split = new QSplitter(Qt::Vertical, this);
    m_sizeView = makeChartView(m_sizeChart, u"sizeChartView"_s, split);
    m_durationView = makeChartView(m_durationChart, u"durationChartView"_s, split);
    split->addWidget(m_sizeView);
    split->addWidget(m_durationView);
    layout->addWidget(split, 1);

    connect(loadButton, &QPushButton::clicked, this, &ChartsView::load);
    connect(m_model, &RunSeriesModel::loaded, this, &ChartsView::rebuild);
    connect(m_model, &RunSeriesModel::errorOccurred, this, &ChartsView::errorOccurred);
    rebuild();
}

ChartsView::~ChartsView() = default;

void ChartsView::showFor(const QString &node, const QString &job)
{
    m_selector->select(node, job);
    load();
}

void ChartsView::load()
{
    if (m_selector->node().isEmpty() || m_selector->job().isEmpty()) {
        m_status->setText(u"Choose a node and a job."_s);
        return;
    }
    const int days = m_window->currentData().toInt();
    m_status->setText(u"loading…"_s);
    m_model->load(
        m_selector->node(), m_selector->job(), QDateTime::currentDateTimeUtc().addDays(-days));
}

int ChartsView::pointCount() const
{
    const auto series = m_sizeChart->series();
    if (series.isEmpty())
        return 0;
    return int(static_cast<QLineSeries *>(series.first())->count());
}

void ChartsView::rebuild()
{
    m_sizeChart->removeAllSeries();
    m_durationChart->removeAllSeries();
    for (QChart *chart : { m_sizeChart, m_durationChart }) {
        const QList<QAbstractAxis *> axes = chart->axes();
        for (QAbstractAxis *a : axes) {
            chart->removeAxis(a);
            delete a;
        }
    }

    const int rows = m_model->rowCount();
    if (rows == 0) {
        if (!m_model->node().isEmpty() && !m_model->isLoading())
            m_status->setText(
                u"No good backups of %1/%2 in this window."_s.arg(m_model->node(), m_model->job()));
        return;
    }
    qint64 maxSize = 0;
    qint64 maxDedup = 0;
    double maxDuration = 0;
    qint64 first = 0;
    qint64 last = 0;
    for (int r = 0; r < rows; ++r) {
        maxSize = qMax(maxSize,
            m_model->index(r, RunSeriesModel::OriginalSizeColumn).data(RawValueRole).toLongLong());
        maxDedup = qMax(maxDedup,
            m_model->index(r, RunSeriesModel::DeduplicatedSizeColumn)
                .data(RawValueRole)
                .toLongLong());
        maxDuration = qMax(maxDuration,
            m_model->index(r, RunSeriesModel::DurationColumn).data(RawValueRole).toDouble());
        const qint64 t
            = m_model->index(r, RunSeriesModel::FinishedColumn).data(RawValueRole).toLongLong();
        first = r == 0 ? t : qMin(first, t);
        last = qMax(last, t);
    }
    // The deduplicated size (what each backup added to the repository) is orders of magnitude
    // below the original size: it gets its own axis on the right, or it would lie flat on 0.
    const auto [div, unit] = sizeUnit(maxSize);
    const auto [dedupDiv, dedupUnit] = sizeUnit(maxDedup);
    auto *original = new QLineSeries;
    original->setName(u"Original (%1, left)"_s.arg(unit));
    auto *dedup = new QLineSeries;
    dedup->setName(u"Deduplicated, new data (%1, right)"_s.arg(dedupUnit));
    auto *duration = new QLineSeries;
    duration->setName(u"Duration (s)"_s);
    for (int r = 0; r < rows; ++r) {
        const double t = double(
            m_model->index(r, RunSeriesModel::FinishedColumn).data(RawValueRole).toLongLong());
        original->append(t,
            double(m_model->index(r, RunSeriesModel::OriginalSizeColumn)
                       .data(RawValueRole)
                       .toLongLong())
                / div);
        dedup->append(t,
            double(m_model->index(r, RunSeriesModel::DeduplicatedSizeColumn)
                       .data(RawValueRole)
                       .toLongLong())
                / dedupDiv);
        duration->append(
            t, m_model->index(r, RunSeriesModel::DurationColumn).data(RawValueRole).toDouble());
    }
    if (rows == 1) // a single point draws nothing as a line: show it as a marker
        for (QLineSeries *s : { original, dedup, duration })
            s->setPointsVisible(true);

    auto timeAxis = [&](QChart *chart) {
        auto *x = new QDateTimeAxis;
        x->setFormat(last - first > 3LL * 86400 * 1000 ? u"MM-dd"_s : u"MM-dd HH:mm"_s);
        x->setTitleText(u"finished (UTC)"_s);
        const qint64 pad = qMax<qint64>(60000, (last - first) / 20);
        x->setRange(QDateTime::fromMSecsSinceEpoch(first - pad, Qt::UTC),
            QDateTime::fromMSecsSinceEpoch(last + pad, Qt::UTC));
        chart->addAxis(x, Qt::AlignBottom);
        return x;
    };
    auto valueAxis = [](QChart *chart, double maxY, const QString &title, Qt::Alignment side) {
        auto *y = new QValueAxis;
        y->setTitleText(title);
        y->setRange(0, maxY > 0 ? maxY * 1.1 : 1);
        y->applyNiceNumbers(); // ticks on round values
        y->setLabelFormat(y->max() >= 20 ? u"%.0f"_s : u"%.1f"_s);
        chart->addAxis(y, side);
        return y;
    };
    m_sizeChart->addSeries(original);
    m_sizeChart->addSeries(dedup);
    QDateTimeAxis *sizeX = timeAxis(m_sizeChart);
    QValueAxis *left = valueAxis(
        m_sizeChart, double(maxSize) / div, u"original (%1)"_s.arg(unit), Qt::AlignLeft);
    QValueAxis *right = valueAxis(m_sizeChart, double(maxDedup) / dedupDiv,
        u"deduplicated (%1)"_s.arg(dedupUnit), Qt::AlignRight);
    original->attachAxis(sizeX);
    original->attachAxis(left);
    dedup->attachAxis(sizeX);
    dedup->attachAxis(right);
    m_durationChart->addSeries(duration);
    QDateTimeAxis *durationX = timeAxis(m_durationChart);
    QValueAxis *seconds = valueAxis(m_durationChart, maxDuration, u"seconds"_s, Qt::AlignLeft);
    duration->attachAxis(durationX);
    duration->attachAxis(seconds);
    m_status->setText(
        u"%1 good backup(s) of %2/%3 from %4 to %5 UTC"_s.arg(rows).arg(m_model->node(),
            m_model->job(), DisplayFormat::time(QDateTime::fromMSecsSinceEpoch(first, Qt::UTC)),
            DisplayFormat::time(QDateTime::fromMSecsSinceEpoch(last, Qt::UTC))));
}

} // namespace sparky::admin
