#include "mainwindow.h"

#include <QLabel>

namespace sparky::admin {

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent)
{
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(QStringLiteral("sparky-for-backup"));
    auto *placeholder = new QLabel(QStringLiteral("Not connected"), this);
    placeholder->setObjectName(QStringLiteral("statusPlaceholder"));
    setCentralWidget(placeholder);
}

} // namespace sparky::admin
