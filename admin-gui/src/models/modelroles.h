#pragma once

// Roles every console model answers beside Qt's. Each model has a column enum; RawValueRole
// gives the cell's sortable value (numbers, epoch milliseconds, severities), which the
// QSortFilterProxyModel sorts on (setSortRole(RawValueRole)).

#include <Qt>

namespace sparky::admin {

enum ModelRole {
    RawValueRole = Qt::UserRole + 1, // sortable raw value of the cell
    SeverityRole, // int: the row's status severity (StatusStyle::severity)
    RowObjectRole, // QJsonObject: the whole row as the orchestrator sent it
};

} // namespace sparky::admin
