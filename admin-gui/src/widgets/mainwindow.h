#pragma once

// The console's main window: one tab per screen (fleet dashboard, run history, charts,
// run now, archives, commands; View → Ctrl+1 … Ctrl+6 go to them, F5 refreshes),
// File/View/Connection menus, and a status bar with the
// connection state and a message area where every failed call shows the orchestrator's
// own message ("Not allowed — …", "Node offline — …", "Timed out …").
//
// Owns its views and the fleet model; the RpcInvoker and Dialogs are not owned and must
// outlive it. GUI thread only.

#include <QMainWindow>

class QLabel;
class QTabWidget;

namespace sparky::admin {

class ArchiveBrowserView;
class ChartsView;
class CommandsView;
class Dialogs;
class FleetModel;
class FleetView;
class ReportExporter;
class RpcInvoker;
class RunHistoryView;
class RunNowView;

class MainWindow final : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)

public:
    enum class Page { Fleet, Runs, Charts, RunNow, Archives, Commands };
    Q_ENUM(Page)

    MainWindow(RpcInvoker *invoker, Dialogs *dialogs, QWidget *parent = nullptr);
    ~MainWindow() override;

    FleetModel *fleetModel() const { return m_fleet; }
    FleetView *fleetView() const { return m_fleetView; }
    RunHistoryView *runHistoryView() const { return m_runs; }
    ChartsView *chartsView() const { return m_charts; }
    RunNowView *runNowView() const { return m_runNow; }
    ArchiveBrowserView *archiveBrowserView() const { return m_archives; }
    CommandsView *commandsView() const { return m_commands; }
    QWidget *page(Page page) const;
    void showPage(Page page);

    // The connection line in the status bar.
    void setConnectionState(const QString &text, bool connected);
    // The message area: errors stay until the next message.
    void showMessage(const QString &text, bool error);
    QString lastMessage() const { return m_lastMessage; }

    void refreshAll(); // the fleet, and the data of every page that has some
    void refreshCurrent();
    void exportReport();

Q_SIGNALS:
    void editProfileRequested();
    void reconnectRequested();

private:
    void createMenus();

    RpcInvoker *m_invoker = nullptr;
    Dialogs *m_dialogs = nullptr;
    FleetModel *m_fleet = nullptr;
    ReportExporter *m_exporter = nullptr;
    QTabWidget *m_tabs = nullptr;
    FleetView *m_fleetView = nullptr;
    RunHistoryView *m_runs = nullptr;
    ChartsView *m_charts = nullptr;
    RunNowView *m_runNow = nullptr;
    ArchiveBrowserView *m_archives = nullptr;
    CommandsView *m_commands = nullptr;
    QLabel *m_connection = nullptr;
    QLabel *m_message = nullptr;
    QString m_lastMessage;
};

} // namespace sparky::admin
