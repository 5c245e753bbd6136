#include "archivebrowsemodel.h"

#include "displayformat.h"
#include "modelroles.h"

namespace sparky::admin {

using namespace Qt::StringLiterals;

ArchiveBrowseModel::ArchiveBrowseModel(RpcInvoker *invoker, QObject *parent)
    : PagedTableModel(invoker,
        Paging { u"archive.browse"_s, u"entries"_s, u"page_size"_s, 200,
            std::chrono::milliseconds(60000), true },
        parent)
{ }

ArchiveBrowseModel::~ArchiveBrowseModel() = default;

int ArchiveBrowseModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

void ArchiveBrowseModel::setLocation(
    const QString &node, const QString &job, const QString &archive, const QString &path)
{
    QString clean = path;
    while (clean.startsWith(u'/'))
        clean.remove(0, 1);
    while (clean.endsWith(u'/'))
        clean.chop(1);
    const bool otherArchive = node != m_node || job != m_job || archive != m_archive;
    m_node = node;
    m_job = job;
    m_archive = archive;
    m_path = clean;
    // Announced once the location is set, so listeners see the new archive.
    if (otherArchive && !m_checked.isEmpty()) {
        m_checked.clear();
        Q_EMIT checkedChanged(0);
    }
    QJsonObject params { { u"node"_s, node }, { u"job"_s, job }, { u"archive"_s, archive } };
    if (!clean.isEmpty())
        params.insert(u"path"_s, clean);
    setQuery(params);
    Q_EMIT locationChanged(m_path);
}

qint64 ArchiveBrowseModel::total() const
{
    return lastPage().value("total"_L1).toInteger(-1);
}

QString ArchiveBrowseModel::childPath(const QJsonObject &entry) const
{
    const QString name = entry.value("name"_L1).toString();
    return m_path.isEmpty() ? name : QString(m_path + u'/' + name);
}

bool ArchiveBrowseModel::isDirectory(int row) const
{
    return rowObject(row).value("type"_L1).toString() == u"dir";
}

QString ArchiveBrowseModel::fullPath(int row) const
{
    return row >= 0 && row < rowCount() ? childPath(rowObject(row)) : QString();
}

void ArchiveBrowseModel::enter(int row)
{
    if (isDirectory(row))
        setLocation(m_node, m_job, m_archive, fullPath(row));
}

void ArchiveBrowseModel::up()
{
    if (m_path.isEmpty())
        return;
    const qsizetype slash = m_path.lastIndexOf(u'/');
    setLocation(m_node, m_job, m_archive, slash < 0 ? QString() : m_path.left(slash));
}

void ArchiveBrowseModel::close()
{
    clear();
    m_node.clear();
    m_job.clear();
    m_archive.clear();
    m_path.clear();
    if (!m_checked.isEmpty()) {
        m_checked.clear();
        Q_EMIT checkedChanged(0);
    }
    Q_EMIT locationChanged(m_path);
}

QStringList ArchiveBrowseModel::checkedPaths() const
{
    QStringList out(m_checked.cbegin(), m_checked.cend());
    out.sort();
    return out;
}

void ArchiveBrowseModel::setChecked(const QString &fullPath, bool checked)
{
    const bool had = m_checked.contains(fullPath);
    if (had == checked)
        return;
    if (checked)
        m_checked.insert(fullPath);
    else
        m_checked.remove(fullPath);
    for (int row = 0; row < rowCount(); ++row)
        if (childPath(rowObject(row)) == fullPath)
            Q_EMIT dataChanged(
                index(row, NameColumn), index(row, NameColumn), { Qt::CheckStateRole });
    Q_EMIT checkedChanged(int(m_checked.size()));
}

void ArchiveBrowseModel::clearChecked()
{
    const QStringList all = checkedPaths();
    for (const QString &p : all)
        setChecked(p, false);
}

Qt::ItemFlags ArchiveBrowseModel::flags(const QModelIndex &index) const
{
    Qt::ItemFlags f = PagedTableModel::flags(index);
    if (index.isValid() && index.column() == NameColumn)
        f |= Qt::ItemIsUserCheckable;
    return f;
}

bool ArchiveBrowseModel::setData(const QModelIndex &index, const QVariant &value, int role)
{
    if (role != Qt::CheckStateRole || !index.isValid() || index.column() != NameColumn
        || index.row() >= rowCount())
        return false;
    setChecked(fullPath(index.row()), value.toInt() == Qt::Checked);
    return true;
}

QVariant ArchiveBrowseModel::cell(const QJsonObject &e, int column, int role) const
{
    const QString type = e.value("type"_L1).toString();
    if (role == Qt::CheckStateRole)
        return column == NameColumn
            ? QVariant(m_checked.contains(childPath(e)) ? Qt::Checked : Qt::Unchecked)
            : QVariant();
    if (role == Qt::ToolTipRole && column == NameColumn) {
        if (type == u"link")
            return QString(u"→ "_s + e.value("target"_L1).toString());
        if (e.value("synthetic"_L1).toBool())
            return u"a parent directory of a backed-up path (no item of its own)"_s;
        if (e.contains("healthy"_L1) && !e.value("healthy"_L1).toBool())
            return u"damaged: borg check --repair replaced missing chunks with zeros"_s;
        return childPath(e);
    }
    if (role != Qt::DisplayRole && role != RawValueRole)
        return {};
    const bool rawRole = role == RawValueRole;
    switch (column) {
    case NameColumn:
        if (rawRole) // directories first, then by name (the agent's order)
            return QString((type == u"dir" ? u"0"_s : u"1"_s) + e.value("name"_L1).toString());
        return type == u"dir" ? QString(e.value("name"_L1).toString() + u'/')
                              : e.value("name"_L1).toString();
    case TypeColumn:
        return type;
    case SizeColumn:
        if (rawRole)
            return qlonglong(e.value("size"_L1).toInteger(-1));
        return type == u"dir" || !e.value("size"_L1).isDouble()
            ? QVariant(QString())
            : QVariant(DisplayFormat::bytes(e.value("size"_L1).toInteger()));
    case ModifiedColumn:
        return rawRole
            ? QVariant(qlonglong(DisplayFormat::epochMs(e.value("mtime"_L1))))
            : QVariant(e.value("mtime"_L1).isString() ? DisplayFormat::time(e.value("mtime"_L1))
                                                      : QString());
    case ModeColumn:
        return e.value("mode"_L1).toString();
    }
    return {};
}

QVariant ArchiveBrowseModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char *const names[] = { "Name", "Type", "Size", "Modified (UTC)", "Mode" };
    return section >= 0 && section < ColumnCount ? QString::fromLatin1(names[section]) : QVariant();
}

} // namespace sparky::admin
