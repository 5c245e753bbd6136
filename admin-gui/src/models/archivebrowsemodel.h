#pragma once

// One directory of one archive (archive.browse, answered by the agent — docs/restore.md
// "Browsing"): its direct children, directories first, paged by cursor as the view
// scrolls. Entries can be checked for a restore; the checks are kept by full archive path,
// so they survive moving between directories.
//
// Threading: GUI thread.

#include "pagedtablemodel.h"

#include <QSet>

namespace sparky::admin {

class ArchiveBrowseModel final : public PagedTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ArchiveBrowseModel)

public:
    enum Column { NameColumn, TypeColumn, SizeColumn, ModifiedColumn, ModeColumn, ColumnCount };
    Q_ENUM(Column)

    explicit ArchiveBrowseModel(RpcInvoker *invoker, QObject *parent = nullptr);
    ~ArchiveBrowseModel() override;

    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    Qt::ItemFlags flags(const QModelIndex &index) const override;
    bool setData(const QModelIndex &index, const QVariant &value, int role) override;

    // Opens a directory ("" = the archive's root); a new archive clears the checks.
    void setLocation(
        const QString &node, const QString &job, const QString &archive, const QString &path = {});
    QString node() const { return m_node; }
    QString job() const { return m_job; }
    QString archive() const { return m_archive; }
    QString path() const { return m_path; }
    qint64 total() const; // entries in this directory, as the agent counted them

    bool isDirectory(int row) const;
    QString fullPath(int row) const;
    void enter(int row); // into a directory
    void up(); // to the parent directory

    // Forgets the archive: no rows, no location, no checks (a new archive list).
    void close();

    QStringList checkedPaths() const; // sorted
    void setChecked(const QString &fullPath, bool checked);
    void clearChecked();

Q_SIGNALS:
    void locationChanged(const QString &path);
    void checkedChanged(int count);

protected:
    QVariant cell(const QJsonObject &row, int column, int role) const override;

private:
    QString childPath(const QJsonObject &entry) const;

    QString m_node;
    QString m_job;
    QString m_archive;
    QString m_path;
    QSet<QString> m_checked;
};

} // namespace sparky::admin
