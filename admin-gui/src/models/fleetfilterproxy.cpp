#include "fleetfilterproxy.h"

#include "fleetmodel.h"
#include "modelroles.h"

#include <QJsonObject>

namespace sparky::admin {

using namespace Qt::StringLiterals;

FleetFilterProxy::FleetFilterProxy(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    setSortRole(RawValueRole);
    setDynamicSortFilter(true);
}

FleetFilterProxy::~FleetFilterProxy() = default;

void FleetFilterProxy::setText(const QString &text)
{
    m_text = text.trimmed();
    invalidateRowsFilter();
}

void FleetFilterProxy::setProblemsOnly(bool on)
{
    m_problemsOnly = on;
    invalidateRowsFilter();
}

bool FleetFilterProxy::filterAcceptsRow(int row, const QModelIndex &parent) const
{
    const QAbstractItemModel *m = sourceModel();
    if (m_problemsOnly) {
        const QJsonObject o = m->index(row, 0, parent).data(RowObjectRole).toJsonObject();
        // A new job inside its RPO grace (pending) needs no attention yet.
        const bool pending = o.value("status"_L1).toString() == u"pending";
        const bool bad = (m->index(row, 0, parent).data(SeverityRole).toInt() > 0 && !pending)
            || o.value("rpo_breached"_L1).toBool() || !o.value("online"_L1).toBool();
        if (!bad)
            return false;
    }
    if (m_text.isEmpty())
        return true;
    for (int c = 0; c < m->columnCount(parent); ++c)
        if (m->index(row, c, parent)
                .data(Qt::DisplayRole)
                .toString()
                .contains(m_text, Qt::CaseInsensitive))
            return true;
    return false;
}

} // namespace sparky::admin
