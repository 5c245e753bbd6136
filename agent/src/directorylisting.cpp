#include "directorylisting.h"

#include "borgoutput.h"
#include "runlimits.h"
#include "sparky/envelope.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTimeZone>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

constexpr size_t kHashSeed = 0x5eed5a9c;

QString typeName(const QString &borgType)
{
    if (borgType == "d"_L1)
        return u"dir"_s;
    if (borgType == "-"_L1)
        return u"file"_s;
    if (borgType == "l"_L1)
        return u"link"_s;
    return u"other"_s;
}

} // namespace

DirectoryListing::DirectoryListing(QString directory, int pageSize, QString cursor, int page)
    : m_directory(std::move(directory))
    , m_pageSize(std::clamp(pageSize, 1, kMaxPageSize))
    , m_capacity(m_pageSize)
{
    m_prefix = m_directory.isEmpty() ? QString() : m_directory + u'/';
    m_found = m_directory.isEmpty();
    if (checkCursor(cursor, u"cursor"_s) && !cursor.isEmpty()) {
        m_haveCursor = true;
        m_cursor.notDir = cursor.startsWith(u'f');
        m_cursor.name = cursor.mid(2);
    } else if (page > 0) {
        const qint64 pages = std::min<qint64>(page, kMaxPagedEntries / m_pageSize - 1);
        m_skip = qsizetype(pages * m_pageSize);
        m_capacity = m_skip + m_pageSize;
    }
}

Result DirectoryListing::checkCursor(const QString &cursor, const QString &field)
{
    if (cursor.isEmpty())
        return {};
    if (cursor.size() < 3 || (!cursor.startsWith("d/"_L1) && !cursor.startsWith("f/"_L1))
        || cursor.indexOf(u'/', 2) >= 0)
        return unexpected(ErrorCode::Validation,
            u"%1: not a cursor from a previous page (expected d/<name> or f/<name>)"_s.arg(field));
    return {};
}

void DirectoryListing::addLine(const QByteArray &line)
{
    if (line.trimmed().isEmpty())
        return;
    if (addFast(line))
        return;
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(line, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject()) {
        ++m_malformed;
        return;
    }
    addItem(doc.object());
}

namespace {

// The raw value of a string field as borg's json.dumps() writes it (`"key": "value"`), or
// an empty view when it is absent or contains an escape (then the caller parses properly).
QByteArrayView rawString(const QByteArray &line, QByteArrayView key)
{
    const qsizetype at = line.indexOf(key);
    if (at < 0)
        return {};
    const qsizetype start = at + key.size();
    const qsizetype end = line.indexOf('"', start);
    if (end < 0)
        return {};
    const QByteArrayView value = QByteArrayView(line).sliced(start, end - start);
    return value.contains('\\') ? QByteArrayView() : value;
}

} // namespace

bool DirectoryListing::addFast(const QByteArray &line)
{
    // Most items of a big archive are not on the page: decide that from the path and type
    // alone and parse only the items that are (a JSON parse per item is the main cost).
    const QByteArrayView type = rawString(line, "\"type\": \"");
    const QByteArrayView rawPath = rawString(line, "\"path\": \"");
    if (type.isEmpty() || rawPath.isEmpty() || !line.startsWith('{'))
        return false;
    const QString path = QString::fromUtf8(rawPath);
    if (path == m_directory || (!m_prefix.isEmpty() && !path.startsWith(m_prefix)))
        return false; // rare: let addItem() handle them
    const QStringView rest = QStringView(path).mid(m_prefix.size());
    const qsizetype slash = rest.indexOf(u'/');
    if (slash == 0)
        return false;
    const Key key { slash > 0 ? false : type != "d",
        (slash > 0 ? rest.left(slash) : rest).toString() };
    const size_t h = qHash(key.name, kHashSeed);
    if (m_seen.contains(h)) {
        if (slash < 0 && m_page.count(key))
            return false; // may replace a synthesised entry: needs the details
        ++m_items;
        m_found = true;
        return true;
    }
    const bool beforeCursor = m_haveCursor && !(m_cursor < key);
    const bool pageFull = qsizetype(m_page.size()) >= m_capacity;
    const bool wouldKeep = !beforeCursor && (!pageFull || key < std::prev(m_page.end())->first);
    if (wouldKeep && slash < 0)
        return false; // on the page: parse it properly
    if (wouldKeep) {
        ++m_items;
        m_found = true;
        addChild(key, nullptr);
        return true;
    }
    ++m_items;
    m_found = true;
    m_seen.insert(h);
    ++m_total;
    if (beforeCursor)
        ++m_before;
    return true;
}

void DirectoryListing::addItem(const QJsonObject &item)
{
    const QString path = item.value("path"_L1).toString();
    if (path.isEmpty()) {
        ++m_malformed;
        return;
    }
    ++m_items;
    if (path == m_directory) {
        m_found = true;
        m_isFile = item.value("type"_L1).toString() != "d"_L1;
        return;
    }
    if (!m_prefix.isEmpty() && !path.startsWith(m_prefix))
        return; // borg's pp: match never gives these; a defensive skip
    m_found = true;
    const QStringView rest = QStringView(path).mid(m_prefix.size());
    const qsizetype slash = rest.indexOf(u'/');
    if (slash == 0)
        return;
    if (slash > 0) {
        addChild(Key { false, rest.left(slash).toString() }, nullptr);
        return;
    }
    Entry e;
    const QString borgType = item.value("type"_L1).toString();
    e.type = typeName(borgType);
    e.size = qint64(item.value("size"_L1).toDouble());
    e.mtime = item.value("mtime"_L1).toString();
    e.mode = item.value("mode"_L1).toString();
    if (borgType == "l"_L1)
        e.target = clipText(item.value("linktarget"_L1).toString(), kMaxLinkTarget);
    e.synthetic = false;
    e.healthy = item.value("healthy"_L1).toBool(true);
    addChild(Key { e.type != "dir"_L1, rest.toString() }, &e);
}

void DirectoryListing::addChild(const Key &key, const Entry *explicitEntry)
{
    const size_t h = qHash(key.name, kHashSeed);
    if (m_seen.contains(h)) {
        // Seen before: an explicit item replaces a synthesised directory on the page.
        if (explicitEntry) {
            auto it = m_page.find(key);
            if (it != m_page.end() && it->second.synthetic)
                it->second = *explicitEntry;
        }
        return;
    }
    m_seen.insert(h);
    ++m_total;
    if (m_haveCursor && !(m_cursor < key)) {
        ++m_before;
        return;
    }
    if (qsizetype(m_page.size()) >= m_capacity) {
        auto last = std::prev(m_page.end());
        if (!(key < last->first))
            return;
        m_page.erase(last);
    }
    Entry synthesised;
    synthesised.type = u"dir"_s;
    m_page.emplace(key, explicitEntry ? *explicitEntry : synthesised);
}

QJsonObject DirectoryListing::page() const
{
    QJsonArray entries;
    qsizetype bytes = 0;
    qsizetype count = 0;
    QString lastCursor;
    qsizetype index = 0;
    for (const auto &[key, e] : m_page) {
        if (index++ < m_skip)
            continue;
        QJsonObject o { { u"name"_s, key.name }, { u"type"_s, e.type } };
        if (e.type != "dir"_L1 || !e.synthetic)
            o.insert(u"size"_s, e.size);
        if (const QString t = BorgOutput::isoUtc(e.mtime); !t.isEmpty())
            o.insert(u"mtime"_s, t);
        if (!e.mode.isEmpty())
            o.insert(u"mode"_s, e.mode);
        if (!e.target.isEmpty())
            o.insert(u"target"_s, e.target);
        if (e.synthetic)
            o.insert(u"synthetic"_s, true);
        if (!e.healthy)
            o.insert(u"healthy"_s, false);
        // Worst case of the JSON text: every character escaped as \uXXXX.
        bytes += 64 + 6 * (key.name.size() + e.target.size() + e.mode.size());
        if (count > 0 && bytes > kMaxPageBytes)
            break;
        entries.append(o);
        ++count;
        lastCursor = (key.notDir ? u"f/"_s : u"d/"_s) + key.name;
    }
    const qint64 offset = m_before + std::min<qint64>(m_skip, qint64(m_page.size()));
    QJsonObject out { { u"path"_s, m_directory }, { u"entries"_s, entries },
        { u"total"_s, m_total }, { u"offset"_s, offset }, { u"page_size"_s, m_pageSize } };
    if (offset + count < m_total)
        out.insert(u"next_cursor"_s, lastCursor);
    return out;
}

} // namespace sparky::agent
