#include "commandsmodel.h"

#include "displayformat.h"
#include "modelroles.h"
#include "statusstyle.h"

#include <QColor>
#include <QJsonDocument>

namespace sparky::admin {

using namespace Qt::StringLiterals;

CommandsModel::CommandsModel(RpcInvoker *invoker, QObject *parent)
    : PagedTableModel(invoker, Paging { u"commands.query"_s, u"commands"_s }, parent)
{ }

CommandsModel::~CommandsModel() = default;

int CommandsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant CommandsModel::cell(const QJsonObject &c, int column, int role) const
{
    const QString state = c.value("state"_L1).toString();
    if (role == SeverityRole)
        return StatusStyle::severity(state);
    if (role == Qt::BackgroundRole)
        return column == StateColumn ? QVariant(StatusStyle::background(state)) : QVariant();
    if (role == Qt::ForegroundRole)
        return column == StateColumn ? QVariant(StatusStyle::foreground(state)) : QVariant();
    if (role == Qt::ToolTipRole && column == ErrorColumn)
        return c.value("error"_L1).toString();
    if (role == Qt::ToolTipRole && column == ParamsColumn) // the whole of it, however long
        return QString::fromUtf8(
            QJsonDocument(c.value("params"_L1).toObject()).toJson(QJsonDocument::Indented));
    if (role != Qt::DisplayRole && role != RawValueRole)
        return {};
    const bool rawRole = role == RawValueRole;
    switch (column) {
    case IssuedColumn:
        return rawRole ? QVariant(qlonglong(DisplayFormat::epochMs(c.value("issued_at"_L1))))
                       : QVariant(DisplayFormat::time(c.value("issued_at"_L1)));
    case NodeColumn:
        return c.value("node"_L1).toString();
    case TypeColumn:
        return c.value("type"_L1).toString();
    case StateColumn:
        return rawRole ? QVariant(StatusStyle::severity(state)) : QVariant(state);
    case IssuedByColumn:
        return c.value("issued_by"_L1).toString();
    case ParamsColumn:
        return QString::fromUtf8(
            QJsonDocument(c.value("params"_L1).toObject()).toJson(QJsonDocument::Compact));
    case RunColumn:
        return c.value("run_id"_L1).toString();
    case ErrorColumn:
        return c.value("error"_L1).toString();
    }
    return {};
}

QVariant CommandsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char *const names[]
        = { "Issued (UTC)", "Node", "Type", "State", "Issued by", "Params", "Run", "Error" };
    return section >= 0 && section < ColumnCount ? QString::fromLatin1(names[section]) : QVariant();
}

} // namespace sparky::admin
