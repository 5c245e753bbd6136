#pragma once

// One page of one directory of an archive, built while `borg list --json-lines` streams:
// add() takes the items one at a time (borg lists the whole subtree), keeps only the
// direct children of the directory that fall on the requested page, and counts the rest.
// Directories that have no item of their own (a source like /srv/www makes "srv" appear
// only as a prefix) are synthesised from deeper paths.
//
// Order: directories first, then everything else, each by name (UTF-16 code units);
// stable across calls, so paging with the cursor is consistent. Memory: the page (at most
// kMaxPageSize entries) plus one 64-bit hash per distinct child name of the directory —
// never the archive. page() stays under kMaxPageBytes of JSON: a page of long names or
// link targets ends early and says where to continue.
//
// Not thread-safe; one per browse.

#include "sparky/error.h"

#include <QJsonObject>
#include <QSet>
#include <QString>
#include <map>

namespace sparky::agent {

class DirectoryListing final
{
public:
    static constexpr int kMaxPageSize = 1000;
    static constexpr int kDefaultPageSize = 200;
    static constexpr qsizetype kMaxPageBytes = 512 * 1024;
    static constexpr qsizetype kMaxLinkTarget = 1024;

    // Page numbers reach at most this far into a directory (memory grows with them);
    // beyond, the cursor pages on with constant memory.
    static constexpr qint64 kMaxPagedEntries = 100000;

    // `directory` normalised (ArchivePath::normalize; "" is the root). `cursor` is a
    // previous page's next_cursor (or empty); without one, `page` (0-based) selects the
    // page, (page + 1) * pageSize ≤ kMaxPagedEntries.
    DirectoryListing(QString directory, int pageSize, QString cursor = {}, int page = 0);

    // Checks a cursor's form ("d/<name>" or "f/<name>"); the error names `field`.
    static Result checkCursor(const QString &cursor, const QString &field);

    // One line of `borg list --json-lines` output. Lines that are not item objects are
    // counted (malformedLines()) and otherwise ignored.
    void addLine(const QByteArray &line);
    void addItem(const QJsonObject &item);

    // After the last item: whether the directory exists in the archive (as an item or as a
    // prefix of one) and is a directory.
    bool found() const { return m_found; }
    bool isFile() const { return m_isFile; }
    qint64 total() const { return m_total; }
    qint64 itemsSeen() const { return m_items; }
    qint64 malformedLines() const { return m_malformed; }

    // {"path", "entries": [...], "total", "offset", "page_size", "next_cursor"?}
    // entries: {"name", "type": dir|file|link|other, "size", "mtime"?, "mode"?,
    //           "target"? (links), "synthetic"? (true), "healthy"? (false only)}
    QJsonObject page() const;

private:
    struct Key
    {
        bool notDir = false; // directories (false) sort first
        QString name;
        bool operator<(const Key &o) const { return notDir != o.notDir ? !notDir : name < o.name; }
    };
    struct Entry
    {
        QString type; // dir | file | link | other
        qint64 size = 0;
        QString mtime; // borg's (TZ=UTC) naive ISO time, converted in page()
        QString mode;
        QString target;
        bool synthetic = true;
        bool healthy = true;
    };
    void addChild(const Key &key, const Entry *explicitEntry);
    bool addFast(const QByteArray &line);

    QString m_directory;
    QString m_prefix; // directory + "/" (or "" for the root)
    int m_pageSize;
    qsizetype m_capacity; // entries kept: the page, and the pages before it
    qsizetype m_skip = 0; // entries before the requested page (page numbers)
    bool m_haveCursor = false;
    Key m_cursor;

    std::map<Key, Entry> m_page; // the smallest m_capacity keys after the cursor
    QSet<size_t> m_seen; // hashes of the distinct child names
    qint64 m_total = 0;
    qint64 m_before = 0; // children at or before the cursor
    qint64 m_items = 0;
    qint64 m_malformed = 0;
    bool m_found = false;
    bool m_isFile = false;
};

} // namespace sparky::agent
