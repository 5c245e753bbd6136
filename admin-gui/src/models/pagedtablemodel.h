#pragma once

// Base of the models that page through an RPC method by keyset cursor (runs.query,
// commands.query, archive.browse): setQuery() resets and loads the first page;
// canFetchMore()/fetchMore() load the next one when the view scrolls near the end (Qt's
// lazy population), passing the previous page's `next_cursor` back as `cursor`. Rows are
// the JSON objects of the page's array. A reply to an older query is dropped.
//
// Subclasses give the columns (columnCount, headerData, cell()).
//
// Threading: GUI thread.

#include "rpcinvoker.h"

#include <QAbstractTableModel>
#include <QJsonObject>
#include <QPointer>

namespace sparky::admin {

class PagedTableModel : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PagedTableModel)

public:
    struct Paging
    {
        QString method; // runs.query
        QString arrayKey; // runs
        QString limitKey = QStringLiteral("limit");
        int pageSize = 50;
        std::chrono::milliseconds timeout { 30000 };
        bool resultInResult = false; // the page is result.result (methods that wait for an agent)
    };

    PagedTableModel(RpcInvoker *invoker, Paging paging, QObject *parent = nullptr);
    ~PagedTableModel() override;

    int rowCount(const QModelIndex &parent = {}) const override;
    bool canFetchMore(const QModelIndex &parent) const override;
    void fetchMore(const QModelIndex &parent) override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;

    // Resets the model and loads the first page of this query.
    void setQuery(const QJsonObject &params);
    QJsonObject query() const { return m_query; }
    void reload() { setQuery(m_query); }
    void clear(); // no rows, no query

    void setPageSize(int rows) { m_paging.pageSize = rows; }
    int pageSize() const { return m_paging.pageSize; }
    bool isLoading() const { return m_loading; }
    bool hasMore() const { return !m_cursor.isEmpty(); }
    int pagesLoaded() const { return m_pages; }
    QJsonObject rowObject(int row) const;
    // The last page's whole result (totals, path …).
    QJsonObject lastPage() const { return m_lastPage; }

Q_SIGNALS:
    void loadingChanged(bool loading);
    void pageLoaded(int rows);
    void errorOccurred(const QString &message);

protected:
    // One cell of a row for a role (Display, RawValue, Background …); the base answers
    // RowObjectRole itself.
    virtual QVariant cell(const QJsonObject &row, int column, int role) const = 0;
    // The row whose cell is asked (for subclasses that keep state per row).
    const QList<QJsonObject> &rows() const { return m_rows; }

private:
    void loadPage(const QString &cursor);
    void setLoading(bool loading);

    QPointer<RpcInvoker> m_invoker;
    Paging m_paging;
    QJsonObject m_query;
    QList<QJsonObject> m_rows;
    QJsonObject m_lastPage;
    QString m_cursor; // empty: no more pages
    quint64 m_generation = 0;
    int m_pages = 0;
    bool m_loading = false;
};

} // namespace sparky::admin
