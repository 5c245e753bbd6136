#include "commandsview.h"

#include "commandsmodel.h"
#include "fleetmodel.h"
#include "modelroles.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

namespace sparky::admin {

using namespace Qt::StringLiterals;

CommandsView::CommandsView(RpcInvoker *invoker, FleetModel *fleet, QWidget *parent)
    : QWidget(parent)
    , m_fleet(fleet)
{
    setObjectName(u"commandsView"_s);
    m_model = new CommandsModel(invoker, this);
    auto *layout = new QVBoxLayout(this);
    auto *bar = new QHBoxLayout;
    bar->addWidget(new QLabel(u"Node:"_s, this));
    m_node = new QComboBox(this);
    m_node->setObjectName(u"commandsNodeFilter"_s);
    m_node->setEditable(true);
    m_node->setMinimumContentsLength(14);
    m_node->setInsertPolicy(QComboBox::NoInsert);
    bar->addWidget(m_node);
    bar->addWidget(new QLabel(u"State:"_s, this));
    m_state = new QComboBox(this);
    m_state->setObjectName(u"commandsStateFilter"_s);
    m_state->addItems({ QString(), u"pending"_s, u"published"_s, u"received"_s, u"running"_s,
        u"succeeded"_s, u"failed"_s, u"rejected"_s, u"expired"_s });
    bar->addWidget(m_state);
    bar->addWidget(new QLabel(u"Type:"_s, this));
    m_type = new QComboBox(this);
    m_type->setObjectName(u"commandsTypeFilter"_s);
    m_type->addItems({ QString(), u"backup.run"_s, u"backup.cancel"_s, u"restore.extract"_s,
        u"drill.run"_s, u"archives.list"_s, u"archive.browse"_s, u"agent.ping"_s });
    bar->addWidget(m_type);
    auto *refreshButton = new QPushButton(u"Refresh"_s, this);
    refreshButton->setObjectName(u"commandsRefresh"_s);
    bar->addWidget(refreshButton);
    bar->addStretch(1);
    layout->addLayout(bar);

    auto *proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(m_model);
    proxy->setSortRole(RawValueRole);
    m_table = new QTableView(this);
    m_table->setObjectName(u"commandsTable"_s);
    m_table->setModel(proxy);
    m_table->setSortingEnabled(true);
    m_table->horizontalHeader()->setSortIndicator(-1, Qt::DescendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false); // one line per command; long params are elided
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    layout->addWidget(m_table, 1);
    m_count = new QLabel(this);
    m_count->setObjectName(u"commandsCount"_s);
    layout->addWidget(m_count);

    auto fillNodes = [this] {
        const QString keep = m_node->currentText();
        const QSignalBlocker block(m_node);
        m_node->clear();
        m_node->addItem(QString());
        m_node->addItems(m_fleet->nodes());
        m_node->setCurrentText(keep);
    };
    fillNodes();
    connect(m_fleet, &FleetModel::refreshed, this, fillNodes);
    connect(refreshButton, &QPushButton::clicked, this, &CommandsView::refresh);
    connect(m_state, &QComboBox::currentIndexChanged, this, &CommandsView::refresh);
    connect(m_type, &QComboBox::currentIndexChanged, this, &CommandsView::refresh);
    connect(m_model, &CommandsModel::errorOccurred, this, &CommandsView::errorOccurred);
    connect(m_model, &CommandsModel::pageLoaded, this, [this] {
        if (m_model->pagesLoaded() == 1) {
            m_table->resizeColumnsToContents();
            // Long params (a restore's paths) would push the run and the error out of sight;
            // the tooltip has all of them.
            if (m_table->columnWidth(CommandsModel::ParamsColumn) > 360)
                m_table->setColumnWidth(CommandsModel::ParamsColumn, 360);
        }
        m_count->setText(u"%1 command(s) loaded%2"_s.arg(m_model->rowCount())
                             .arg(m_model->hasMore() ? u"; more load as you scroll"_s : QString()));
    });
}

CommandsView::~CommandsView() = default;

void CommandsView::refresh()
{
    QJsonObject params;
    if (!m_node->currentText().trimmed().isEmpty())
        params.insert(u"node"_s, m_node->currentText().trimmed());
    if (!m_state->currentText().isEmpty())
        params.insert(u"state"_s, m_state->currentText());
    if (!m_type->currentText().isEmpty())
        params.insert(u"type"_s, m_type->currentText());
    m_model->setQuery(params);
}

} // namespace sparky::admin
