#pragma once

// The console's list tables look and behave alike: whole rows selected one at a time, read
// only, alternating rows, no row numbers, the last column stretched.

#include <QString>

class QTableView;
class QWidget;

namespace sparky::admin {

// A new table view named `objectName` (tests find it by that name), owned by `parent`.
QTableView *makeRowTable(const QString &objectName, QWidget *parent);

} // namespace sparky::admin
