#pragma once

#include <QMainWindow>

namespace sparky::admin {

// The console's top-level window. Owned by main(); GUI thread only.
class MainWindow final : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)

public:
    explicit MainWindow(QWidget *parent = nullptr);
};

} // namespace sparky::admin
