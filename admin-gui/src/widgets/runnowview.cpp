#include "runnowview.h"

#include "commandfollower.h"
#include "dialogs.h"
#include "displayformat.h"
#include "nodejobselector.h"
#include "statusstyle.h"

#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

namespace sparky::admin {

using namespace Qt::StringLiterals;

RunNowView::RunNowView(RpcInvoker *invoker, FleetModel *fleet, Dialogs *dialogs, QWidget *parent)
    : QWidget(parent)
    , m_dialogs(dialogs)
{
    setObjectName(u"runNowView"_s);
    m_follower = new CommandFollower(invoker, this);
    auto *layout = new QVBoxLayout(this);
    auto *intro = new QLabel(
        u"Start a backup of one job now. The orchestrator signs a backup.run command for the "
        "node's agent; this page follows it until the run ends. Needs the operator role."_s,
        this);
    intro->setWordWrap(true);
    layout->addWidget(intro);
    auto *bar = new QHBoxLayout;
    m_selector = new NodeJobSelector(fleet, u"runNow"_s, false, this);
    bar->addWidget(m_selector);
    m_start = new QPushButton(u"Start backup"_s, this);
    m_start->setObjectName(u"runNowStart"_s);
    bar->addWidget(m_start);
    m_cancel = new QPushButton(u"Cancel run"_s, this);
    m_cancel->setObjectName(u"runNowCancel"_s);
    bar->addWidget(m_cancel);
    bar->addStretch(1);
    layout->addLayout(bar);

    auto *box = new QGroupBox(u"Progress"_s, this);
    auto *v = new QVBoxLayout(box);
    m_progress = new QProgressBar(box);
    m_progress->setObjectName(u"runNowProgress"_s);
    m_progress->setRange(0, 100);
    m_progress->setValue(0);
    v->addWidget(m_progress);
    m_state = new QLabel(box);
    m_state->setObjectName(u"runNowState"_s);
    m_state->setWordWrap(true);
    m_state->setTextInteractionFlags(Qt::TextSelectableByMouse);
    v->addWidget(m_state);
    m_warning = new QLabel(box);
    m_warning->setObjectName(u"runNowWarning"_s);
    m_warning->setWordWrap(true);
    m_warning->setStyleSheet(u"color: #856404;"_s);
    v->addWidget(m_warning);
    m_result = new QLabel(box);
    m_result->setObjectName(u"runNowResult"_s);
    m_result->setWordWrap(true);
    m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);
    v->addWidget(m_result);
    layout->addWidget(box);
    layout->addStretch(1);

    connect(m_start, &QPushButton::clicked, this, &RunNowView::start);
    connect(m_cancel, &QPushButton::clicked, this, &RunNowView::cancel);
    connect(m_follower, &CommandFollower::changed, this, &RunNowView::update);
    connect(m_follower, &CommandFollower::errorOccurred, this, &RunNowView::errorOccurred);
    connect(m_follower, &CommandFollower::finished, this, [this](bool ok, const QString &text) {
        const QString status = ok ? m_follower->runStatus() : u"failed"_s;
        m_result->setText(text);
        m_result->setStyleSheet(u"QLabel { background: %1; color: %2; padding: 4px; }"_s.arg(
            StatusStyle::background(status.isEmpty() ? u"success"_s : status).name(),
            StatusStyle::foreground(status.isEmpty() ? u"success"_s : status).name()));
        if (!ok)
            Q_EMIT errorOccurred(text);
        Q_EMIT runFinished(ok, text);
    });
    update();
}

RunNowView::~RunNowView() = default;

void RunNowView::select(const QString &node, const QString &job)
{
    m_selector->select(node, job);
}

void RunNowView::start()
{
    const QString node = m_selector->node();
    const QString job = m_selector->job();
    if (node.isEmpty() || job.isEmpty()) {
        Q_EMIT errorOccurred(u"Run now: choose a node and a job"_s);
        return;
    }
    m_result->clear();
    m_result->setStyleSheet(QString());
    m_follower->start(u"backup.start"_s, { { u"node"_s, node }, { u"job"_s, job } });
}

void RunNowView::cancel()
{
    if (!m_follower->isActive())
        return;
    if (!m_dialogs->confirm(this, u"Cancel the backup"_s,
            u"Cancel run %1 on node %2? borg stops; the archive of this run is not written."_s.arg(
                m_follower->runId(), m_selector->node())))
        return;
    m_follower->cancel();
}

void RunNowView::update()
{
    using Phase = CommandFollower::Phase;
    const Phase phase = m_follower->phase();
    const bool active = m_follower->isActive();
    m_start->setEnabled(!active);
    m_cancel->setEnabled(phase == Phase::Running && !m_follower->cancelRequested());
    m_state->setText(m_follower->statusText());
    m_warning->setText(m_follower->warning());
    const int percent = m_follower->percent();
    if (phase == Phase::Idle || phase == Phase::Failed) {
        m_progress->setRange(0, 100);
        m_progress->setValue(0);
        m_progress->setFormat(u"%p%"_s);
    } else if (phase == Phase::Finished) {
        m_progress->setRange(0, 100);
        m_progress->setValue(100);
        m_progress->setFormat(u"done"_s);
    } else if (percent >= 0) {
        m_progress->setRange(0, 100);
        m_progress->setValue(percent);
        m_progress->setFormat(u"%p% — "_s + DisplayFormat::bytes(m_follower->bytesDone()));
    } else {
        m_progress->setRange(0, 0); // busy: no size to compare with yet
    }
}

} // namespace sparky::admin
