#include "pagedtablemodel.h"

#include "modelroles.h"

#include <QJsonArray>

namespace sparky::admin {

using namespace Qt::StringLiterals;

PagedTableModel::PagedTableModel(RpcInvoker *invoker, Paging paging, QObject *parent)
    : QAbstractTableModel(parent)
    , m_invoker(invoker)
    , m_paging(std::move(paging))
{ }

PagedTableModel::~PagedTableModel() = default;

int PagedTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

bool PagedTableModel::canFetchMore(const QModelIndex &parent) const
{
    return !parent.isValid() && !m_cursor.isEmpty() && !m_loading;
}

void PagedTableModel::fetchMore(const QModelIndex &parent)
{
    if (canFetchMore(parent))
        loadPage(m_cursor);
}

QJsonObject PagedTableModel::rowObject(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row) : QJsonObject();
}

QVariant PagedTableModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const QJsonObject &row = m_rows.at(index.row());
    if (role == RowObjectRole)
        return row;
    return cell(row, index.column(), role);
}

void PagedTableModel::clear()
{
    ++m_generation;
    beginResetModel();
    m_rows.clear();
    m_query = {};
    m_cursor.clear();
    m_lastPage = {};
    m_pages = 0;
    endResetModel();
    setLoading(false);
}

void PagedTableModel::setQuery(const QJsonObject &params)
{
    ++m_generation;
    beginResetModel();
    m_rows.clear();
    m_query = params;
    m_cursor.clear();
    m_lastPage = {};
    m_pages = 0;
    endResetModel();
    setLoading(false);
    loadPage({});
}

void PagedTableModel::setLoading(bool loading)
{
    if (m_loading == loading)
        return;
    m_loading = loading;
    Q_EMIT loadingChanged(loading);
}

void PagedTableModel::loadPage(const QString &cursor)
{
    if (!m_invoker)
        return;
    QJsonObject params = m_query;
    if (m_paging.pageSize > 0)
        params.insert(m_paging.limitKey, m_paging.pageSize);
    if (!cursor.isEmpty())
        params.insert(u"cursor"_s, cursor);
    setLoading(true);
    const quint64 generation = m_generation;
    m_invoker->invoke(
        m_paging.method, params, this,
        [this, generation](const RpcReply &r) {
            if (generation != m_generation)
                return; // the query changed meanwhile
            setLoading(false);
            if (!r.ok) {
                Q_EMIT errorOccurred(r.describe());
                return;
            }
            const QJsonObject page
                = m_paging.resultInResult ? r.result.value("result"_L1).toObject() : r.result;
            const QJsonArray items = page.value(m_paging.arrayKey).toArray();
            m_lastPage = page;
            m_cursor = page.value("next_cursor"_L1).toString();
            ++m_pages;
            if (!items.isEmpty()) {
                const int first = int(m_rows.size());
                beginInsertRows({}, first, first + int(items.size()) - 1);
                for (const QJsonValue &v : items)
                    m_rows.append(v.toObject());
                endInsertRows();
            }
            Q_EMIT pageLoaded(int(items.size()));
        },
        m_paging.timeout);
}

} // namespace sparky::admin
