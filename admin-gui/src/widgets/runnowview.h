#pragma once

// Run now: backup.start for a node and job, then its live progress (CommandFollower:
// command state, run status, bytes and files so far, a percentage against the job's last
// good backup), and cancel (backup.cancel) once the agent runs it.
//
// Threading: GUI thread.

#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;

namespace sparky::admin {

class CommandFollower;
class Dialogs;
class FleetModel;
class NodeJobSelector;
class RpcInvoker;

class RunNowView final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunNowView)

public:
    RunNowView(RpcInvoker *invoker, FleetModel *fleet, Dialogs *dialogs, QWidget *parent = nullptr);
    ~RunNowView() override;

    void select(const QString &node, const QString &job);
    void start();
    void cancel();
    CommandFollower *follower() const { return m_follower; }

Q_SIGNALS:
    void errorOccurred(const QString &message);
    void runFinished(bool ok, const QString &text);

private:
    void update();

    CommandFollower *m_follower = nullptr;
    Dialogs *m_dialogs = nullptr;
    NodeJobSelector *m_selector = nullptr;
    QPushButton *m_start = nullptr;
    QPushButton *m_cancel = nullptr;
    QProgressBar *m_progress = nullptr;
    QLabel *m_state = nullptr;
    QLabel *m_warning = nullptr;
    QLabel *m_result = nullptr;
};

} // namespace sparky::admin
