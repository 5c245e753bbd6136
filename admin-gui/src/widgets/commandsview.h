#pragma once

// The commands log: commands.query pages (newest first) with node and state filters.
//
// Threading: GUI thread.

#include <QWidget>

class QComboBox;
class QLabel;
class QTableView;

namespace sparky::admin {

class CommandsModel;
class FleetModel;
class RpcInvoker;

class CommandsView final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CommandsView)

public:
    CommandsView(RpcInvoker *invoker, FleetModel *fleet, QWidget *parent = nullptr);
    ~CommandsView() override;

    void refresh();
    CommandsModel *model() const { return m_model; }

Q_SIGNALS:
    void errorOccurred(const QString &message);

private:
    CommandsModel *m_model = nullptr;
    FleetModel *m_fleet = nullptr;
    QComboBox *m_node = nullptr;
    QComboBox *m_state = nullptr;
    QComboBox *m_type = nullptr;
    QTableView *m_table = nullptr;
    QLabel *m_count = nullptr;
};

} // namespace sparky::admin
