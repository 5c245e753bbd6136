#include "archivebrowserview.h"

#include "archivebrowsemodel.h"
#include "archivelistmodel.h"
#include "commandfollower.h"
#include "dialogs.h"
#include "modelroles.h"
#include "nodejobselector.h"
#include "rundetails.h"
#include "tableviews.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonObject>
#include <QKeySequence>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

namespace sparky::admin {

using namespace Qt::StringLiterals;

ArchiveBrowserView::ArchiveBrowserView(
    RpcInvoker *invoker, FleetModel *fleet, Dialogs *dialogs, QWidget *parent)
    : QWidget(parent)
    , m_dialogs(dialogs)
{
    setObjectName(u"archiveBrowserView"_s);
    m_archives = new ArchiveListModel(invoker, this);
    m_browser = new ArchiveBrowseModel(invoker, this);
    m_follower = new CommandFollower(invoker, this);
    auto *layout = new QVBoxLayout(this);

    auto *bar = new QHBoxLayout;
    m_selector = new NodeJobSelector(fleet, u"archive"_s, false, this);
    bar->addWidget(m_selector);
    auto *list = new QPushButton(u"List archives"_s, this);
    list->setObjectName(u"archiveListButton"_s);
    bar->addWidget(list);
    m_drill = new QPushButton(u"Run restore drill"_s, this);
    m_drill->setObjectName(u"drillButton"_s);
    m_drill->setToolTip(
        u"Restore the newest archives to a scratch directory on the node and verify them"_s);
    bar->addWidget(m_drill);
    bar->addStretch(1);
    layout->addLayout(bar);

    auto *split = new QSplitter(Qt::Vertical, this);
    auto *top = new QWidget(split);
    auto *topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    m_archiveProxy = new QSortFilterProxyModel(this);
    m_archiveProxy->setSourceModel(m_archives);
    m_archiveProxy->setSortRole(RawValueRole);
    m_archiveTable = makeRowTable(u"archiveTable"_s, top);
    m_archiveTable->setModel(m_archiveProxy);
    m_archiveTable->setSortingEnabled(true);
    m_archiveTable->sortByColumn(ArchiveListModel::StartColumn, Qt::DescendingOrder);
    topLayout->addWidget(m_archiveTable, 1);
    m_archiveStatus
        = new QLabel(u"Choose a node and job, then list its archives (the agent answers)."_s, top);
    m_archiveStatus->setObjectName(u"archiveStatus"_s);
    topLayout->addWidget(m_archiveStatus);
    split->addWidget(top);

    auto *bottom = new QWidget(split);
    auto *b = new QVBoxLayout(bottom);
    b->setContentsMargins(0, 0, 0, 0);
    auto *pathBar = new QHBoxLayout;
    m_up = new QToolButton(bottom);
    m_up->setObjectName(u"browseUpButton"_s);
    m_up->setText(u"Up"_s);
    m_up->setShortcut(QKeySequence(Qt::ALT | Qt::Key_Up));
    m_up->setToolTip(u"The parent directory (Alt+Up)"_s);
    m_up->setEnabled(false);
    pathBar->addWidget(m_up);
    m_path = new QLabel(bottom);
    m_path->setObjectName(u"browsePath"_s);
    m_path->setTextInteractionFlags(Qt::TextSelectableByMouse);
    pathBar->addWidget(m_path, 1);
    b->addLayout(pathBar);
    m_browseProxy = new QSortFilterProxyModel(this);
    m_browseProxy->setSourceModel(m_browser);
    m_browseProxy->setSortRole(RawValueRole);
    m_browseTable = makeRowTable(u"browseTable"_s, bottom);
    m_browseTable->setModel(m_browseProxy);
    m_browseTable->setSortingEnabled(true);
    m_browseTable->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder); // agent order
    b->addWidget(m_browseTable, 1);
    auto *actions = new QHBoxLayout;
    m_selection = new QLabel(bottom);
    m_selection->setObjectName(u"browseSelection"_s);
    actions->addWidget(m_selection, 1);
    m_restore = new QPushButton(u"Restore…"_s, bottom);
    m_restore->setObjectName(u"restoreButton"_s);
    actions->addWidget(m_restore);
    b->addLayout(actions);
    m_progress = new QProgressBar(bottom);
    m_progress->setObjectName(u"restoreProgress"_s);
    m_progress->setRange(0, 100);
    m_progress->setValue(0);
    b->addWidget(m_progress);
    m_followState = new QLabel(bottom);
    m_followState->setObjectName(u"restoreState"_s);
    m_followState->setWordWrap(true);
    m_followState->setTextInteractionFlags(Qt::TextSelectableByMouse);
    b->addWidget(m_followState);
    split->addWidget(bottom);
    layout->addWidget(split, 1);

    connect(list, &QPushButton::clicked, this, &ArchiveBrowserView::listArchives);
    connect(m_drill, &QPushButton::clicked, this, &ArchiveBrowserView::startDrill);
    connect(m_restore, &QPushButton::clicked, this, &ArchiveBrowserView::restoreChecked);
    connect(m_up, &QToolButton::clicked, m_browser, &ArchiveBrowseModel::up);
    // activated: a double click, or Enter on the current row (the keyboard's way in).
    connect(m_archiveTable, &QTableView::activated, this,
        [this](const QModelIndex &i) { openArchive(m_archiveProxy->mapToSource(i).row()); });
    connect(m_archiveTable->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this](const QModelIndex &i) {
            if (i.isValid())
                openArchive(m_archiveProxy->mapToSource(i).row());
        });
    connect(m_browseTable, &QTableView::activated, this,
        [this](const QModelIndex &i) { m_browser->enter(m_browseProxy->mapToSource(i).row()); });
    connect(m_archives, &ArchiveListModel::loaded, this, [this] {
        if (m_archives->isLoading() || !m_archives->errorString().isEmpty())
            return; // an error stays on the status line (errorOccurred put it there)
        m_archiveStatus->setText(
            u"%1 archive(s) of %2/%3%4"_s.arg(m_archives->rowCount())
                .arg(m_archives->node(), m_archives->job(),
                    m_archives->truncated() ? u" (the newest 1000)"_s : QString()));
        m_archiveTable->resizeColumnsToContents();
    });
    connect(m_archives, &ArchiveListModel::errorOccurred, this, [this](const QString &m) {
        m_archiveStatus->setText(m);
        Q_EMIT errorOccurred(m);
    });
    connect(
        m_browser, &ArchiveBrowseModel::errorOccurred, this, &ArchiveBrowserView::errorOccurred);
    connect(m_browser, &ArchiveBrowseModel::locationChanged, this, [this](const QString &path) {
        m_path->setText(m_browser->archive() + u":/"_s + path);
        m_up->setEnabled(!path.isEmpty());
        updateSelection(); // Restore… needs an open archive
    });
    connect(m_browser, &ArchiveBrowseModel::pageLoaded, this, [this] {
        if (m_browser->pagesLoaded() == 1)
            m_browseTable->resizeColumnsToContents();
        const qint64 total = m_browser->total();
        m_path->setText(
            u"%1:/%2 — %3 of %4 entries loaded"_s.arg(m_browser->archive(), m_browser->path())
                .arg(m_browser->rowCount())
                .arg(total >= 0 ? QString::number(total) : u"?"_s));
    });
    connect(
        m_browser, &ArchiveBrowseModel::checkedChanged, this, &ArchiveBrowserView::updateSelection);
    connect(m_follower, &CommandFollower::changed, this, &ArchiveBrowserView::updateFollow);
    connect(m_follower, &CommandFollower::errorOccurred, this, &ArchiveBrowserView::errorOccurred);
    connect(m_follower, &CommandFollower::finished, this, [this](bool ok, const QString &text) {
        if (!ok)
            Q_EMIT errorOccurred(text);
    });
    updateSelection();
    updateFollow();
}

ArchiveBrowserView::~ArchiveBrowserView() = default;

void ArchiveBrowserView::showFor(const QString &node, const QString &job)
{
    m_selector->select(node, job);
    listArchives();
}

void ArchiveBrowserView::listArchives()
{
    if (m_selector->node().isEmpty() || m_selector->job().isEmpty()) {
        Q_EMIT errorOccurred(u"Archives: choose a node and a job"_s);
        return;
    }
    // Forget the open archive, or selecting the same one again would show nothing.
    m_browser->close();
    m_path->clear();
    m_archiveStatus->setText(u"asking node '%1' for the archives of job '%2'…"_s.arg(
        m_selector->node(), m_selector->job()));
    m_archives->load(m_selector->node(), m_selector->job());
}

void ArchiveBrowserView::openArchive(int row)
{
    const QJsonObject a = m_archives->archive(row);
    if (a.isEmpty())
        return;
    const QString name = a.value("name"_L1).toString();
    if (name == m_browser->archive() && m_browser->node() == m_archives->node())
        return;
    m_browser->setLocation(m_archives->node(), m_archives->job(), name);
}

void ArchiveBrowserView::updateSelection()
{
    const int n = int(m_browser->checkedPaths().size());
    m_selection->setText(n == 0 ? u"Nothing checked: Restore… restores the whole archive."_s
                                : u"%1 path(s) checked for restore"_s.arg(n));
    m_restore->setEnabled(!m_browser->archive().isEmpty() && !m_follower->isActive());
}

void ArchiveBrowserView::restoreChecked()
{
    if (m_browser->archive().isEmpty()) {
        Q_EMIT errorOccurred(u"Restore: open an archive first"_s);
        return;
    }
    RestoreRequest proposal;
    proposal.node = m_browser->node();
    proposal.job = m_browser->job();
    proposal.archive = m_browser->archive();
    proposal.paths = m_browser->checkedPaths();
    for (int r = 0; r < m_archives->rowCount(); ++r) {
        const QJsonObject a = m_archives->archive(r);
        if (a.value("name"_L1).toString() == proposal.archive) {
            proposal.databaseArchive = a.value("kind"_L1).toString() == u"database";
            // Never the source database itself: restoring over a live database is the
            // operator's explicit choice in the dialog, not its default.
            proposal.sourceDatabase = a.value("database"_L1).toString();
        }
    }
    const std::optional<RestoreRequest> chosen = m_dialogs->restoreOptions(this, proposal);
    if (!chosen)
        return;
    if (auto ok = chosen->validate(); !ok) {
        Q_EMIT errorOccurred(u"Restore: "_s + ok.error().message);
        return;
    }
    m_followKind = u"restore"_s;
    m_follower->start(u"restore.start"_s, chosen->toParams());
}

void ArchiveBrowserView::startDrill()
{
    if (m_selector->node().isEmpty() || m_selector->job().isEmpty()) {
        Q_EMIT errorOccurred(u"Drill: choose a node and a job"_s);
        return;
    }
    m_followKind = u"drill"_s;
    m_follower->start(
        u"drill.start"_s, { { u"node"_s, m_selector->node() }, { u"job"_s, m_selector->job() } });
}

void ArchiveBrowserView::updateFollow()
{
    using Phase = CommandFollower::Phase;
    const Phase phase = m_follower->phase();
    QString text = phase == Phase::Idle
        ? QString()
        : QString(m_followKind + u": "_s + m_follower->statusText());
    // command.get brings the finished run's details: where the files went, what a drill
    // checked.
    if (phase == Phase::Finished) {
        if (const QString details = RunDetails::detailsText(m_follower->run()); !details.isEmpty())
            text += u" — "_s + details;
    }
    m_followState->setText(text);
    if (phase == Phase::Finished) {
        m_progress->setRange(0, 100);
        m_progress->setValue(100);
    } else if (m_follower->isActive()) {
        m_progress->setRange(0, 0);
    } else {
        m_progress->setRange(0, 100);
        m_progress->setValue(0);
    }
    m_drill->setEnabled(!m_follower->isActive());
    updateSelection();
}

} // namespace sparky::admin
