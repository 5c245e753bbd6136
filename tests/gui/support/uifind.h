#pragma once

// Finding what a GUI test touches: widgets by objectName (STYLE.md: every widget a test
// touches has one), and a table's row by the node and job of its RowObjectRole.

#include "modelroles.h"

#include <QAbstractItemView>
#include <QJsonObject>
#include <QString>
#include <QWidget>

namespace sparky::admin::test {

// The child `name` of `root`; a missing one is a broken test, so it aborts with the name.
template<typename T> T *child(const QObject *root, const QString &name)
{
    T *w = root->findChild<T *>(name);
    if (!w)
        qFatal("no %s named '%s' under '%s'", T::staticMetaObject.className(), qPrintable(name),
            qPrintable(root->objectName()));
    return w;
}

// The row of `view`'s model whose row object has this node (and job, unless empty); -1.
inline int rowOf(const QAbstractItemView *view, const QString &node, const QString &job = {})
{
    const QAbstractItemModel *m = view->model();
    for (int r = 0; r < m->rowCount(); ++r) {
        const QJsonObject o = m->index(r, 0).data(RowObjectRole).toJsonObject();
        if (o.value(QLatin1StringView("node")).toString() == node
            && (job.isEmpty() || o.value(QLatin1StringView("job")).toString() == job))
            return r;
    }
    return -1;
}

inline QString cellText(const QAbstractItemView *view, int row, int column)
{
    return view->model()->index(row, column).data().toString();
}

} // namespace sparky::admin::test
