#include "mainwindow.h"

#include "archivebrowserview.h"
#include "chartsview.h"
#include "commandsview.h"
#include "dialogs.h"
#include "fleetmodel.h"
#include "fleetview.h"
#include "reportexporter.h"
#include "rpcinvoker.h"
#include "runhistoryview.h"
#include "runnowview.h"

#include <QAction>
#include <QApplication>
#include <QDateTime>
#include <QDir>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QStatusBar>
#include <QTabWidget>

namespace sparky::admin {

using namespace Qt::StringLiterals;

MainWindow::MainWindow(RpcInvoker *invoker, Dialogs *dialogs, QWidget *parent)
    : QMainWindow(parent)
    , m_invoker(invoker)
    , m_dialogs(dialogs)
{
    setObjectName(u"mainWindow"_s);
    setWindowTitle(u"sparky-for-backup — admin console"_s);
    m_fleet = new FleetModel(invoker, this);
    m_exporter = new ReportExporter(invoker, this);

    m_tabs = new QTabWidget(this);
    m_tabs->setObjectName(u"mainTabs"_s);
    m_fleetView = new FleetView(m_fleet, m_tabs);
    m_runs = new RunHistoryView(invoker, m_fleet, m_tabs);
    m_charts = new ChartsView(invoker, m_fleet, m_tabs);
    m_runNow = new RunNowView(invoker, m_fleet, dialogs, m_tabs);
    m_archives = new ArchiveBrowserView(invoker, m_fleet, dialogs, m_tabs);
    m_commands = new CommandsView(invoker, m_fleet, m_tabs);
    m_tabs->addTab(m_fleetView, u"Fleet"_s);
    m_tabs->addTab(m_runs, u"Run history"_s);
    m_tabs->addTab(m_charts, u"Charts"_s);
    m_tabs->addTab(m_runNow, u"Run now"_s);
    m_tabs->addTab(m_archives, u"Archives && restore"_s);
    m_tabs->addTab(m_commands, u"Commands"_s);
    setCentralWidget(m_tabs);

    m_connection = new QLabel(u"not connected"_s, this);
    m_connection->setObjectName(u"connectionLabel"_s);
    m_message = new QLabel(this);
    m_message->setObjectName(u"messageLabel"_s);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    statusBar()->setObjectName(u"statusBar"_s);
    statusBar()->addWidget(m_message, 1);
    statusBar()->addPermanentWidget(m_connection);
    createMenus();

    // Every failed call, whichever screen made it, shows the orchestrator's message.
    connect(m_invoker, &RpcInvoker::callFinished, this, [this](const RpcReply &r) {
        if (!r.ok)
            showMessage(r.describe(), true);
    });
    auto showError = [this](const QString &m) { showMessage(m, true); };
    connect(m_runs, &RunHistoryView::errorOccurred, this, showError);
    connect(m_charts, &ChartsView::errorOccurred, this, showError);
    connect(m_runNow, &RunNowView::errorOccurred, this, showError);
    connect(m_archives, &ArchiveBrowserView::errorOccurred, this, showError);
    connect(m_commands, &CommandsView::errorOccurred, this, showError);
    connect(m_runNow, &RunNowView::runFinished, this, [this](bool ok, const QString &text) {
        if (ok)
            showMessage(text, false);
        m_fleet->refresh();
    });
    connect(m_exporter, &ReportExporter::finished, this,
        [this](bool ok, const QString &text) { showMessage(text, !ok); });

    connect(m_fleetView, &FleetView::historyRequested, this,
        [this](const QString &n, const QString &j) {
            m_runs->showFor(n, j);
            showPage(Page::Runs);
        });
    connect(
        m_fleetView, &FleetView::chartsRequested, this, [this](const QString &n, const QString &j) {
            m_charts->showFor(n, j);
            showPage(Page::Charts);
        });
    connect(m_fleetView, &FleetView::archivesRequested, this,
        [this](const QString &n, const QString &j) {
            showPage(Page::Archives);
            m_archives->showFor(n, j);
        });
    connect(
        m_fleetView, &FleetView::runNowRequested, this, [this](const QString &n, const QString &j) {
            m_runNow->select(n, j);
            showPage(Page::RunNow);
        });
    resize(1280, 800);
}

MainWindow::~MainWindow() = default;

void MainWindow::createMenus()
{
    QMenu *file = menuBar()->addMenu(u"&File"_s);
    QAction *exportAction = file->addAction(u"&Export report…"_s);
    exportAction->setObjectName(u"exportAction"_s);
    exportAction->setShortcut(QKeySequence(u"Ctrl+E"_s));
    connect(exportAction, &QAction::triggered, this, &MainWindow::exportReport);
    file->addSeparator();
    QAction *quit = file->addAction(u"&Quit"_s);
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);

    QMenu *view = menuBar()->addMenu(u"&View"_s);
    QAction *refresh = view->addAction(u"&Refresh"_s);
    refresh->setObjectName(u"refreshAction"_s);
    refresh->setShortcut(QKeySequence::Refresh);
    connect(refresh, &QAction::triggered, this, &MainWindow::refreshCurrent);
    view->addSeparator();
    // Ctrl+1 … Ctrl+6: straight to a page, in tab order.
    static const char *const pageNames[]
        = { "Fleet", "Runs", "Charts", "RunNow", "Archives", "Commands" };
    for (int i = 0; i < m_tabs->count(); ++i) {
        QAction *go = view->addAction(m_tabs->tabText(i)); // "&&" stays a literal "&"
        go->setObjectName(u"show%1Action"_s.arg(QLatin1StringView(pageNames[i])));
        go->setShortcut(QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)));
        connect(go, &QAction::triggered, this, [this, i] { m_tabs->setCurrentIndex(i); });
    }

    QMenu *connection = menuBar()->addMenu(u"&Connection"_s);
    QAction *edit = connection->addAction(u"&Edit profile…"_s);
    edit->setObjectName(u"editProfileAction"_s);
    connect(edit, &QAction::triggered, this, &MainWindow::editProfileRequested);
    QAction *reconnect = connection->addAction(u"Re&connect"_s);
    reconnect->setObjectName(u"reconnectAction"_s);
    connect(reconnect, &QAction::triggered, this, &MainWindow::reconnectRequested);
}

QWidget *MainWindow::page(Page p) const
{
    switch (p) {
    case Page::Fleet:
        return m_fleetView;
    case Page::Runs:
        return m_runs;
    case Page::Charts:
        return m_charts;
    case Page::RunNow:
        return m_runNow;
    case Page::Archives:
        return m_archives;
    case Page::Commands:
        return m_commands;
    }
    return nullptr;
}

void MainWindow::showPage(Page p)
{
    m_tabs->setCurrentWidget(page(p));
}

void MainWindow::setConnectionState(const QString &text, bool connected)
{
    m_connection->setText(text);
    m_connection->setStyleSheet(connected ? u"color: #155724;"_s : u"color: #721c24;"_s);
}

void MainWindow::showMessage(const QString &text, bool error)
{
    m_lastMessage = text;
    const QString stamp = QDateTime::currentDateTimeUtc().toString(u"HH:mm:ss"_s);
    m_message->setText(u"[%1] %2"_s.arg(stamp, text));
    m_message->setToolTip(text);
    m_message->setStyleSheet(error ? u"color: #a61b29; font-weight: bold;"_s : QString());
}

void MainWindow::refreshAll()
{
    m_fleet->refresh();
    m_runs->refresh();
    m_commands->refresh();
}

void MainWindow::refreshCurrent()
{
    m_fleet->refresh();
    QWidget *current = m_tabs->currentWidget();
    if (current == m_runs)
        m_runs->refresh();
    else if (current == m_commands)
        m_commands->refresh();
    else if (current == m_charts)
        m_charts->load();
}

void MainWindow::exportReport()
{
    const QString suggested = QDir::home().filePath(u"sparky-report-%1.json"_s.arg(
        QDateTime::currentDateTimeUtc().toString(u"yyyyMMdd-HHmm"_s)));
    const QString file = m_dialogs->saveFileName(this, u"Export report"_s, suggested,
        u"JSON report (*.json);;CSV, one row per node and job (*.csv)"_s);
    if (file.isEmpty())
        return;
    showMessage(u"exporting the report to %1 …"_s.arg(file), false);
    m_exporter->exportTo(file, ReportExporter::formatForFile(file));
}

} // namespace sparky::admin
