#include "fleetview.h"

#include "fleetfilterproxy.h"
#include "fleetmodel.h"
#include "modelroles.h"
#include "statusstyle.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

namespace sparky::admin {

using namespace Qt::StringLiterals;

FleetView::FleetView(FleetModel *model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
{
    setObjectName(u"fleetView"_s);
    auto *layout = new QVBoxLayout(this);

    m_summary = new QLabel(this);
    m_summary->setObjectName(u"fleetSummary"_s);
    m_summary->setTextFormat(Qt::PlainText);
    m_summary->setMargin(6);
    layout->addWidget(m_summary);

    auto *bar = new QHBoxLayout;
    m_filter = new QLineEdit(this);
    m_filter->setObjectName(u"fleetFilter"_s);
    m_filter->setPlaceholderText(u"Filter by node, job, status, repository…"_s);
    m_filter->setClearButtonEnabled(true);
    bar->addWidget(m_filter, 1);
    m_problemsOnly = new QCheckBox(u"Problems only"_s, this);
    m_problemsOnly->setObjectName(u"fleetProblemsOnly"_s);
    m_problemsOnly->setToolTip(
        u"Jobs that are not successful, past their RPO, or on an offline node"_s);
    bar->addWidget(m_problemsOnly);
    auto *refresh = new QPushButton(u"Refresh"_s, this);
    refresh->setObjectName(u"fleetRefreshButton"_s);
    bar->addWidget(refresh);
    auto *history = new QPushButton(u"History"_s, this);
    history->setObjectName(u"fleetHistoryButton"_s);
    bar->addWidget(history);
    auto *charts = new QPushButton(u"Charts"_s, this);
    charts->setObjectName(u"fleetChartsButton"_s);
    bar->addWidget(charts);
    auto *archives = new QPushButton(u"Archives"_s, this);
    archives->setObjectName(u"fleetArchivesButton"_s);
    bar->addWidget(archives);
    auto *runNow = new QPushButton(u"Run now…"_s, this);
    runNow->setObjectName(u"fleetRunNowButton"_s);
    bar->addWidget(runNow);
    layout->addLayout(bar);

    m_proxy = new FleetFilterProxy(this);
    m_proxy->setSourceModel(m_model);
    m_table = new QTableView(this);
    m_table->setObjectName(u"fleetTable"_s);
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(FleetModel::StatusColumn, Qt::DescendingOrder); // worst first
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    layout->addWidget(m_table, 1);

    m_timer = new QTimer(this);
    m_timer->setObjectName(u"fleetRefreshTimer"_s);
    m_timer->setInterval(std::chrono::seconds(30));
    connect(m_timer, &QTimer::timeout, m_model, &FleetModel::refresh);
    m_timer->start();

    connect(m_filter, &QLineEdit::textChanged, m_proxy, &FleetFilterProxy::setText);
    connect(m_problemsOnly, &QCheckBox::toggled, m_proxy, &FleetFilterProxy::setProblemsOnly);
    connect(refresh, &QPushButton::clicked, m_model, &FleetModel::refresh);
    connect(m_model, &FleetModel::refreshed, this, [this] {
        m_summary->setText(m_model->summaryText());
        const QString status = m_model->fleetStatus();
        m_summary->setStyleSheet(u"QLabel { background: %1; color: %2; font-weight: bold; }"_s.arg(
            StatusStyle::background(status).name(), StatusStyle::foreground(status).name()));
        m_table->resizeColumnsToContents();
    });
    m_summary->setText(m_model->summaryText());
    auto emitFor = [this](void (FleetView::*signal)(const QString &, const QString &)) {
        return [this, signal] { Q_EMIT(this->*signal)(selectedNode(), selectedJob()); };
    };
    connect(history, &QPushButton::clicked, this, emitFor(&FleetView::historyRequested));
    connect(charts, &QPushButton::clicked, this, emitFor(&FleetView::chartsRequested));
    connect(archives, &QPushButton::clicked, this, emitFor(&FleetView::archivesRequested));
    connect(runNow, &QPushButton::clicked, this, emitFor(&FleetView::runNowRequested));
    // A double click or Enter on a row: its run history.
    connect(m_table, &QTableView::activated, this, emitFor(&FleetView::historyRequested));
}

FleetView::~FleetView() = default;

void FleetView::setRefreshInterval(std::chrono::milliseconds interval)
{
    m_timer->setInterval(interval);
}

QJsonObject FleetView::selectedRow() const
{
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return {};
    return rows.first().data(RowObjectRole).toJsonObject();
}

QString FleetView::selectedNode() const
{
    return selectedRow().value("node"_L1).toString();
}

QString FleetView::selectedJob() const
{
    return selectedRow().value("job"_L1).toString();
}

} // namespace sparky::admin
