#pragma once

// The dashboard's sort and filter: sorts on RawValueRole (severity for the status, seconds
// for ages), filters rows by a text that any column may contain (case-insensitive), and
// optionally keeps only the rows that need attention: not success (a new job still inside
// its RPO grace, `pending`, is fine), RPO breached, or the node offline.
//
// Threading: GUI thread.

#include <QSortFilterProxyModel>

namespace sparky::admin {

class FleetFilterProxy final : public QSortFilterProxyModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FleetFilterProxy)

public:
    explicit FleetFilterProxy(QObject *parent = nullptr);
    ~FleetFilterProxy() override;

    void setText(const QString &text);
    void setProblemsOnly(bool on);
    bool problemsOnly() const { return m_problemsOnly; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    QString m_text;
    bool m_problemsOnly = false;
};

} // namespace sparky::admin
