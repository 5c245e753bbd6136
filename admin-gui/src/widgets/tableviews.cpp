#include "tableviews.h"

#include <QHeaderView>
#include <QTableView>

namespace sparky::admin {

QTableView *makeRowTable(const QString &objectName, QWidget *parent)
{
    auto *t = new QTableView(parent);
    t->setObjectName(objectName);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->setSelectionMode(QAbstractItemView::SingleSelection);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setAlternatingRowColors(true);
    t->verticalHeader()->hide();
    t->horizontalHeader()->setStretchLastSection(true);
    return t;
}

} // namespace sparky::admin
