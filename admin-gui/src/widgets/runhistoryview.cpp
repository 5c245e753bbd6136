#include "runhistoryview.h"

#include "fleetmodel.h"
#include "modelroles.h"
#include "nodejobselector.h"
#include "rundetails.h"
#include "runhistorymodel.h"
#include "tableviews.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTimeEdit>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonObject>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace sparky::admin {

using namespace Qt::StringLiterals;

RunHistoryView::RunHistoryView(RpcInvoker *invoker, FleetModel *fleet, QWidget *parent)
    : QWidget(parent)
{
    setObjectName(u"runHistoryView"_s);
    m_model = new RunHistoryModel(invoker, this);
    m_details = new RunDetails(invoker, this);
    auto *layout = new QVBoxLayout(this);

    auto *filters = new QHBoxLayout;
    m_selector = new NodeJobSelector(fleet, u"runFilter"_s, true, this);
    filters->addWidget(m_selector);
    filters->addWidget(new QLabel(u"Status:"_s, this));
    m_status = new QComboBox(this);
    m_status->setObjectName(u"runStatusFilter"_s);
    m_status->addItems(
        { QString(), u"success"_s, u"warning"_s, u"cancelled"_s, u"failed"_s, u"running"_s });
    filters->addWidget(m_status);
    filters->addWidget(new QLabel(u"Kind:"_s, this));
    m_kind = new QComboBox(this);
    m_kind->setObjectName(u"runKindFilter"_s);
    m_kind->addItems({ QString(), u"backup"_s, u"check"_s, u"drill"_s, u"restore"_s });
    filters->addWidget(m_kind);
    m_sinceOn = new QCheckBox(u"Since"_s, this);
    m_sinceOn->setObjectName(u"runSinceEnabled"_s);
    filters->addWidget(m_sinceOn);
    m_since = new QDateTimeEdit(QDateTime::currentDateTimeUtc().addDays(-7), this);
    m_since->setObjectName(u"runSince"_s);
    m_since->setTimeSpec(Qt::UTC);
    m_since->setDisplayFormat(u"yyyy-MM-dd HH:mm"_s);
    m_since->setCalendarPopup(true);
    filters->addWidget(m_since);
    m_untilOn = new QCheckBox(u"Until"_s, this);
    m_untilOn->setObjectName(u"runUntilEnabled"_s);
    filters->addWidget(m_untilOn);
    m_until = new QDateTimeEdit(QDateTime::currentDateTimeUtc(), this);
    m_until->setObjectName(u"runUntil"_s);
    m_until->setTimeSpec(Qt::UTC);
    m_until->setDisplayFormat(u"yyyy-MM-dd HH:mm"_s);
    m_until->setCalendarPopup(true);
    filters->addWidget(m_until);
    auto *applyButton = new QPushButton(u"Apply"_s, this);
    applyButton->setObjectName(u"runApplyFilter"_s);
    filters->addWidget(applyButton);
    filters->addStretch(1);
    layout->addLayout(filters);

    auto *split = new QSplitter(Qt::Vertical, this);
    split->setObjectName(u"runSplitter"_s);
    auto *top = new QWidget(split);
    auto *topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(RawValueRole);
    m_table = makeRowTable(u"runTable"_s, top);
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->horizontalHeader()->setSortIndicator(-1, Qt::DescendingOrder); // server order
    topLayout->addWidget(m_table, 1);
    m_count = new QLabel(top);
    m_count->setObjectName(u"runCount"_s);
    topLayout->addWidget(m_count);
    split->addWidget(top);

    auto *bottom = new QWidget(split);
    auto *detail = new QVBoxLayout(bottom);
    detail->setContentsMargins(0, 0, 0, 0);
    m_headline = new QLabel(bottom);
    m_headline->setObjectName(u"runHeadline"_s);
    m_headline->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QFont bold = m_headline->font();
    bold.setBold(true);
    m_headline->setFont(bold);
    detail->addWidget(m_headline);
    m_stats = new QLabel(bottom);
    m_stats->setObjectName(u"runStats"_s);
    m_stats->setWordWrap(true);
    m_stats->setTextInteractionFlags(Qt::TextSelectableByMouse);
    detail->addWidget(m_stats);
    m_error = new QLabel(bottom);
    m_error->setObjectName(u"runError"_s);
    m_error->setWordWrap(true);
    m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_error->setStyleSheet(u"color: #a61b29;"_s);
    detail->addWidget(m_error);
    auto *lower = new QSplitter(Qt::Horizontal, bottom);
    m_steps = makeRowTable(u"runStepsTable"_s, lower);
    m_steps->setModel(m_details->steps());
    lower->addWidget(m_steps);
    m_log = new QPlainTextEdit(lower);
    m_log->setObjectName(u"runLogTail"_s);
    m_log->setReadOnly(true);
    m_log->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_log->setPlaceholderText(u"log tail of the selected run"_s);
    lower->addWidget(m_log);
    detail->addWidget(lower, 1);
    split->addWidget(bottom);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);

    connect(applyButton, &QPushButton::clicked, this, &RunHistoryView::apply);
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        &RunHistoryView::showDetails);
    connect(m_details, &RunDetails::loaded, this, [this] {
        const QJsonObject r = m_details->run();
        m_headline->setText(RunDetails::headline(r));
        QStringList stats { RunDetails::statsText(r), RunDetails::detailsText(r) };
        stats.removeAll(QString());
        m_stats->setText(stats.join(u" · "_s));
        const QString error = r.value("error"_L1).toString();
        const QString step = r.value("failed_step"_L1).toString();
        m_error->setText(error.isEmpty()
                ? QString()
                : (step.isEmpty() ? error : u"step %1: %2"_s.arg(step, error)));
        m_log->setPlainText(r.value("log_tail"_L1).toString());
        m_steps->resizeColumnsToContents();
    });
    connect(m_details, &RunDetails::errorOccurred, this, &RunHistoryView::errorOccurred);
    connect(m_model, &RunHistoryModel::errorOccurred, this, &RunHistoryView::errorOccurred);
    connect(m_model, &RunHistoryModel::pageLoaded, this, [this] {
        updateCount();
        if (m_model->pagesLoaded() == 1) {
            m_table->resizeColumnsToContents();
            if (m_model->rowCount() > 0 && !m_table->currentIndex().isValid())
                m_table->selectRow(0);
        }
    });
    connect(m_model, &RunHistoryModel::modelReset, this, [this] {
        updateCount();
        m_details->clear();
    });
    updateCount();
}

RunHistoryView::~RunHistoryView() = default;

RunFilter RunHistoryView::currentFilter() const
{
    RunFilter f;
    f.node = m_selector->node();
    f.job = m_selector->job();
    f.status = m_status->currentText();
    f.kind = m_kind->currentText();
    if (m_sinceOn->isChecked())
        f.since = m_since->dateTime().toUTC();
    if (m_untilOn->isChecked())
        f.until = m_until->dateTime().toUTC();
    return f;
}

void RunHistoryView::apply()
{
    const RunFilter f = currentFilter();
    if (auto ok = f.validate(); !ok) {
        Q_EMIT errorOccurred(u"Run history filter: "_s + ok.error().message);
        return;
    }
    m_model->setFilter(f);
}

void RunHistoryView::refresh()
{
    apply();
}

void RunHistoryView::showFor(const QString &node, const QString &job)
{
    m_selector->select(node, job);
    m_status->setCurrentIndex(0);
    m_kind->setCurrentIndex(0);
    m_sinceOn->setChecked(false);
    m_untilOn->setChecked(false);
    apply();
}

void RunHistoryView::showDetails()
{
    const QModelIndex current = m_table->currentIndex();
    if (!current.isValid())
        return;
    const QJsonObject run = current.data(RowObjectRole).toJsonObject();
    m_headline->setText(RunDetails::headline(run));
    m_stats->setText(RunDetails::statsText(run));
    m_error->setText(run.value("error"_L1).toString());
    m_log->clear();
    m_details->load(run.value("node"_L1).toString(), run.value("run_id"_L1).toString());
}

void RunHistoryView::updateCount()
{
    if (m_model->isLoading() && m_model->rowCount() == 0) {
        m_count->setText(u"loading…"_s);
        return;
    }
    m_count->setText(u"%1 run(s) loaded%2"_s.arg(m_model->rowCount())
                         .arg(m_model->hasMore() ? u"; more load as you scroll"_s : QString()));
}

} // namespace sparky::admin
