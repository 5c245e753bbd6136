#pragma once

// Two linked combo boxes — node, then one of its jobs — filled from the fleet model (and
// editable, for a node the dashboard does not list yet). Object names: <prefix>Node,
// <prefix>Job.
//
// Threading: GUI thread.

#include <QWidget>

class QComboBox;

namespace sparky::admin {

class FleetModel;

class NodeJobSelector final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(NodeJobSelector)

public:
    // `allowAny`: an empty first entry ("any") in both.
    NodeJobSelector(
        FleetModel *fleet, const QString &objectPrefix, bool allowAny, QWidget *parent = nullptr);
    ~NodeJobSelector() override;

    QString node() const;
    QString job() const;
    void select(const QString &node, const QString &job);
    QComboBox *nodeCombo() const { return m_node; }
    QComboBox *jobCombo() const { return m_job; }

Q_SIGNALS:
    void changed();

private:
    void fillNodes();
    void fillJobs();

    FleetModel *m_fleet = nullptr;
    QComboBox *m_node = nullptr;
    QComboBox *m_job = nullptr;
    bool m_allowAny = false;
};

} // namespace sparky::admin
