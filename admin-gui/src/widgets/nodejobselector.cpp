#include "nodejobselector.h"

#include "fleetmodel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>

namespace sparky::admin {

using namespace Qt::StringLiterals;

NodeJobSelector::NodeJobSelector(
    FleetModel *fleet, const QString &prefix, bool allowAny, QWidget *parent)
    : QWidget(parent)
    , m_fleet(fleet)
    , m_allowAny(allowAny)
{
    setObjectName(prefix + u"Selector"_s);
    auto *h = new QHBoxLayout(this);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(new QLabel(u"Node:"_s, this));
    m_node = new QComboBox(this);
    m_node->setObjectName(prefix + u"Node"_s);
    m_node->setEditable(true);
    m_node->setMinimumContentsLength(14);
    m_node->setInsertPolicy(QComboBox::NoInsert);
    h->addWidget(m_node);
    h->addWidget(new QLabel(u"Job:"_s, this));
    m_job = new QComboBox(this);
    m_job->setObjectName(prefix + u"Job"_s);
    m_job->setEditable(true);
    m_job->setMinimumContentsLength(10);
    m_job->setInsertPolicy(QComboBox::NoInsert);
    h->addWidget(m_job);
    fillNodes();
    connect(m_fleet, &FleetModel::refreshed, this, &NodeJobSelector::fillNodes);
    connect(m_node, &QComboBox::currentTextChanged, this, [this] {
        fillJobs();
        Q_EMIT changed();
    });
    connect(m_job, &QComboBox::currentTextChanged, this, &NodeJobSelector::changed);
}

NodeJobSelector::~NodeJobSelector() = default;

QString NodeJobSelector::node() const
{
    return m_node->currentText().trimmed();
}

QString NodeJobSelector::job() const
{
    return m_job->currentText().trimmed();
}

void NodeJobSelector::select(const QString &node, const QString &job)
{
    m_node->setCurrentText(node);
    fillJobs();
    m_job->setCurrentText(job);
}

void NodeJobSelector::fillNodes()
{
    const QString node = m_node->currentText();
    const QString job = m_job->currentText();
    {
        const QSignalBlocker block(m_node);
        m_node->clear();
        if (m_allowAny)
            m_node->addItem(QString());
        m_node->addItems(m_fleet->nodes());
        if (!node.isEmpty() || m_allowAny)
            m_node->setCurrentText(node);
    }
    fillJobs();
    if (!job.isEmpty())
        m_job->setCurrentText(job);
}

void NodeJobSelector::fillJobs()
{
    const QString job = m_job->currentText();
    const QSignalBlocker block(m_job);
    m_job->clear();
    if (m_allowAny)
        m_job->addItem(QString());
    m_job->addItems(m_fleet->jobs(node()));
    const int keep = m_job->findText(job);
    if (keep >= 0)
        m_job->setCurrentIndex(keep);
}

} // namespace sparky::admin
