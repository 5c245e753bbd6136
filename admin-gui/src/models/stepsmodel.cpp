#include "stepsmodel.h"

#include "displayformat.h"
#include "modelroles.h"
#include "statusstyle.h"

#include <QColor>
#include <QJsonObject>

namespace sparky::admin {

using namespace Qt::StringLiterals;

StepsModel::StepsModel(QObject *parent)
    : QAbstractTableModel(parent)
{ }

StepsModel::~StepsModel() = default;

int StepsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_steps.size());
}

int StepsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

void StepsModel::setSteps(const QJsonArray &steps)
{
    beginResetModel();
    m_steps = steps;
    endResetModel();
}

QVariant StepsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const QJsonObject s = m_steps.at(index.row()).toObject();
    const QString status = s.value("status"_L1).toString();
    const qint64 start = DisplayFormat::epochMs(s.value("started_at"_L1));
    const qint64 end = DisplayFormat::epochMs(s.value("finished_at"_L1));
    const double seconds = start >= 0 && end >= start ? double(end - start) / 1000.0 : -1.0;
    switch (role) {
    case RowObjectRole:
        return s;
    case SeverityRole:
        return StatusStyle::severity(status);
    case Qt::BackgroundRole:
        return index.column() == StatusColumn ? QVariant(StatusStyle::background(status))
                                              : QVariant();
    case Qt::ForegroundRole:
        return index.column() == StatusColumn ? QVariant(StatusStyle::foreground(status))
                                              : QVariant();
    case Qt::ToolTipRole:
        return index.column() == ErrorColumn ? QVariant(s.value("error"_L1).toString())
                                             : QVariant();
    case Qt::DisplayRole:
        switch (index.column()) {
        case NameColumn:
            return s.value("name"_L1).toString();
        case StatusColumn:
            return StatusStyle::label(status);
        case StartedColumn:
            return DisplayFormat::time(s.value("started_at"_L1));
        case DurationColumn:
            return seconds >= 0 ? DisplayFormat::duration(seconds) : QString();
        case ExitCodeColumn:
            return s.value("exit_code"_L1).isDouble() ? QVariant(s.value("exit_code"_L1).toInt())
                                                      : QVariant(QString());
        case ErrorColumn:
            return s.value("error"_L1).toString();
        }
        return {};
    case RawValueRole:
        switch (index.column()) {
        case NameColumn:
            return index.row(); // the order the agent ran them in
        case StatusColumn:
            return StatusStyle::severity(status);
        case StartedColumn:
            return qlonglong(start);
        case DurationColumn:
            return seconds;
        case ExitCodeColumn:
            return s.value("exit_code"_L1).toInt(-1);
        case ErrorColumn:
            return s.value("error"_L1).toString();
        }
        return {};
    }
    return {};
}

QVariant StepsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char *const names[]
        = { "Step", "Status", "Started (UTC)", "Duration", "Exit code", "Error" };
    return section >= 0 && section < ColumnCount ? QString::fromLatin1(names[section]) : QVariant();
}

} // namespace sparky::admin
