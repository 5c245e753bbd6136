#pragma once

// Archive browser: the archives of a node's job (archives.list, answered by the agent),
// one archive's directories page by page (archive.browse, fetched as the view scrolls),
// checked files → the restore dialog → restore.start, followed to its end (with the run's
// details from command.get: where the files went); and a restore drill (drill.start) for
// the job.
//
// Threading: GUI thread.

#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;
class QToolButton;

namespace sparky::admin {

class ArchiveBrowseModel;
class ArchiveListModel;
class CommandFollower;
class Dialogs;
class FleetModel;
class NodeJobSelector;
class RpcInvoker;

class ArchiveBrowserView final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ArchiveBrowserView)

public:
    ArchiveBrowserView(
        RpcInvoker *invoker, FleetModel *fleet, Dialogs *dialogs, QWidget *parent = nullptr);
    ~ArchiveBrowserView() override;

    void showFor(const QString &node, const QString &job);
    void listArchives();
    void openArchive(int sourceRow); // row of the archive list model
    void restoreChecked();
    void startDrill();

    ArchiveListModel *archives() const { return m_archives; }
    ArchiveBrowseModel *browser() const { return m_browser; }
    CommandFollower *follower() const { return m_follower; }

Q_SIGNALS:
    void errorOccurred(const QString &message);

private:
    void updateFollow();
    void updateSelection();

    ArchiveListModel *m_archives = nullptr;
    ArchiveBrowseModel *m_browser = nullptr;
    CommandFollower *m_follower = nullptr;
    Dialogs *m_dialogs = nullptr;
    QSortFilterProxyModel *m_archiveProxy = nullptr;
    QSortFilterProxyModel *m_browseProxy = nullptr;
    NodeJobSelector *m_selector = nullptr;
    QTableView *m_archiveTable = nullptr;
    QLabel *m_archiveStatus = nullptr;
    QToolButton *m_up = nullptr;
    QLabel *m_path = nullptr;
    QTableView *m_browseTable = nullptr;
    QLabel *m_selection = nullptr;
    QPushButton *m_restore = nullptr;
    QPushButton *m_drill = nullptr;
    QProgressBar *m_progress = nullptr;
    QLabel *m_followState = nullptr;
    QString m_followKind; // "restore" or "drill"
};

} // namespace sparky::admin
