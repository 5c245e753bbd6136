#include "sparky/config.h"

#include <QFile>
#include <QRegularExpression>
#include <QSet>

#include <limits>

namespace sparky::config {

using namespace Qt::StringLiterals;

Result Errors::toResult() const
{
    if (m_messages.isEmpty())
        return {};
    return unexpected(ErrorCode::Config, m_messages.join(u'\n'));
}

Node::Node(YAML::Node node, QString file, QString path, Errors *errors, int line, int column)
    : m_node(std::move(node))
    , m_file(std::move(file))
    , m_path(std::move(path))
    , m_errors(errors)
    , m_line(line)
    , m_column(column)
{
    if (m_node.IsDefined() && !m_node.Mark().is_null()) {
        m_line = m_node.Mark().line + 1;
        m_column = m_node.Mark().column + 1;
    }
}

bool Node::isDefined() const
{
    return m_node.IsDefined() && !m_node.IsNull();
}
bool Node::isMap() const
{
    return m_node.IsMap();
}
bool Node::isSequence() const
{
    return m_node.IsSequence();
}
bool Node::isScalar() const
{
    return m_node.IsScalar();
}

QString Node::location() const
{
    return u"%1:%2:%3"_s.arg(m_file).arg(m_line).arg(m_column);
}

void Node::error(const QString &message) const
{
    if (m_errors)
        m_errors->add(location() + u": "_s + (m_path.isEmpty() ? u"(top level)"_s : m_path)
                      + u": "_s + message);
}

Node Node::child(const QString &key) const
{
    const QString childPath = m_path.isEmpty() ? key : m_path + u'.' + key;
    if (!m_node.IsMap())
        return Node(YAML::Node(YAML::NodeType::Undefined), m_file, childPath, m_errors, m_line,
                    m_column);
    const YAML::Node &constNode = m_node; // const operator[] never inserts
    const YAML::Node c = constNode[key.toStdString()];
    return Node(c, m_file, childPath, m_errors, m_line, m_column);
}

QStringList Node::keys() const
{
    QStringList out;
    if (!m_node.IsMap())
        return out;
    for (auto it = m_node.begin(); it != m_node.end(); ++it)
        out.append(QString::fromStdString(it->first.Scalar()));
    return out;
}

void Node::allowKeys(std::initializer_list<const char *> allowed) const
{
    if (!m_node.IsMap()) {
        if (isDefined())
            error(u"expected a mapping of keys to values"_s);
        return;
    }
    QSet<QString> seen;
    for (auto it = m_node.begin(); it != m_node.end(); ++it) {
        const QString key = QString::fromStdString(it->first.Scalar());
        const Node keyNode(it->first, m_file, m_path.isEmpty() ? key : m_path + u'.' + key,
                           m_errors, m_line, m_column);
        if (seen.contains(key))
            keyNode.error(u"duplicate key"_s);
        seen.insert(key);
        bool ok = false;
        for (const char *a : allowed)
            ok = ok || key == QLatin1StringView(a);
        if (!ok) {
            QStringList names;
            for (const char *a : allowed)
                names.append(QString::fromLatin1(a));
            keyNode.error(u"unknown key (expected one of: %1)"_s.arg(names.join(u", "_s)));
        }
    }
}

std::optional<QString> Node::toString() const
{
    if (!m_node.IsScalar())
        return std::nullopt;
    return QString::fromStdString(m_node.Scalar());
}

QString Node::string(const QString &key, const QString &fallback) const
{
    const Node c = child(key);
    if (!c.isDefined())
        return fallback;
    auto s = c.toString();
    if (!s) {
        c.error(u"expected a string"_s);
        return fallback;
    }
    return *s;
}

QString Node::requiredString(const QString &key) const
{
    const Node c = child(key);
    if (!c.isDefined()) {
        c.error(u"required key is missing"_s);
        return {};
    }
    auto s = c.toString();
    if (!s || s->isEmpty()) {
        c.error(u"expected a non-empty string"_s);
        return {};
    }
    return *s;
}

qint64 Node::integer(const QString &key, qint64 fallback, qint64 min, qint64 max) const
{
    const Node c = child(key);
    if (!c.isDefined())
        return fallback;
    auto s = c.toString();
    bool ok = false;
    const qint64 v = s ? s->toLongLong(&ok) : 0;
    if (!ok) {
        c.error(u"expected an integer"_s);
        return fallback;
    }
    if (v < min || v > max) {
        c.error(u"%1 is out of range [%2, %3]"_s.arg(v).arg(min).arg(max));
        return fallback;
    }
    return v;
}

bool Node::boolean(const QString &key, bool fallback) const
{
    const Node c = child(key);
    if (!c.isDefined())
        return fallback;
    auto s = c.toString();
    const QString v = s ? s->toLower() : QString();
    if (v == "true"_L1 || v == "yes"_L1 || v == "on"_L1)
        return true;
    if (v == "false"_L1 || v == "no"_L1 || v == "off"_L1)
        return false;
    c.error(u"expected true or false"_s);
    return fallback;
}

std::chrono::seconds Node::duration(const QString &key, std::chrono::seconds fallback) const
{
    const Node c = child(key);
    if (!c.isDefined())
        return fallback;
    auto s = c.toString();
    auto d = s ? parseDuration(*s) : std::nullopt;
    if (!d) {
        c.error(u"expected a duration like 90s, 5m, 1h30m, 2d"_s);
        return fallback;
    }
    return *d;
}

qint64 Node::bytes(const QString &key, qint64 fallback) const
{
    const Node c = child(key);
    if (!c.isDefined())
        return fallback;
    auto s = c.toString();
    auto b = s ? parseByteSize(*s) : std::nullopt;
    if (!b) {
        c.error(u"expected a size like 1048576, 64KiB, 10MiB, 2GB"_s);
        return fallback;
    }
    return *b;
}

QStringList Node::stringList(const QString &key) const
{
    const Node c = child(key);
    QStringList out;
    if (!c.isDefined())
        return out;
    if (c.m_node.IsScalar())
        return {QString::fromStdString(c.m_node.Scalar())};
    if (!c.m_node.IsSequence()) {
        c.error(u"expected a string or a list of strings"_s);
        return out;
    }
    int i = 0;
    for (const YAML::Node &item : c.m_node) {
        const Node n(item, m_file, c.m_path + u'[' + QString::number(i++) + u']', m_errors,
                     c.m_line, c.m_column);
        if (auto s = n.toString())
            out.append(*s);
        else
            n.error(u"expected a string"_s);
    }
    return out;
}

QList<Node> Node::list(const QString &key) const
{
    const Node c = child(key);
    QList<Node> out;
    if (!c.isDefined())
        return out;
    if (!c.m_node.IsSequence()) {
        c.error(u"expected a list"_s);
        return out;
    }
    int i = 0;
    for (const YAML::Node &item : c.m_node)
        out.append(Node(item, m_file, c.m_path + u'[' + QString::number(i++) + u']', m_errors,
                        c.m_line, c.m_column));
    return out;
}

QList<std::pair<QString, Node>> Node::namedMap(const QString &key) const
{
    const Node c = child(key);
    QList<std::pair<QString, Node>> out;
    if (!c.isDefined())
        return out;
    if (!c.m_node.IsMap()) {
        c.error(u"expected a mapping of names to settings"_s);
        return out;
    }
    QSet<QString> seen;
    for (auto it = c.m_node.begin(); it != c.m_node.end(); ++it) {
        const QString name = QString::fromStdString(it->first.Scalar());
        Node n(it->second, m_file, c.m_path + u'.' + name, m_errors, c.m_line, c.m_column);
        if (seen.contains(name))
            Node(it->first, m_file, c.m_path + u'.' + name, m_errors).error(u"duplicate key"_s);
        seen.insert(name);
        out.append({name, std::move(n)});
    }
    return out;
}

Document::Document(YAML::Node root, QString file)
    : m_root(std::move(root))
    , m_file(std::move(file))
{
}

Expected<Document> Document::loadString(const QByteArray &text, const QString &name)
{
    try {
        YAML::Node root = YAML::Load(text.toStdString());
        return Document(root, name);
    } catch (const YAML::Exception &e) {
        return unexpected(ErrorCode::Config,
                          u"%1:%2:%3: YAML syntax error: %4"_s.arg(name)
                              .arg(e.mark.line + 1)
                              .arg(e.mark.column + 1)
                              .arg(QString::fromStdString(e.msg)));
    }
}

Expected<Document> Document::loadFile(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return unexpected(ErrorCode::Config, u"%1: cannot read: %2"_s.arg(path, f.errorString()));
    constexpr qint64 kMaxConfigBytes = 4 * 1024 * 1024;
    if (f.size() > kMaxConfigBytes)
        return unexpected(ErrorCode::Config, u"%1: larger than 4 MiB"_s.arg(path));
    return loadString(f.readAll(), path);
}

Node Document::root(Errors *errors) const
{
    return Node(m_root, m_file, QString(), errors, 1, 1);
}

QString formatDuration(std::chrono::seconds duration)
{
    const qint64 v = duration.count();
    if (v >= 3600 && v % 3600 == 0)
        return u"%1h"_s.arg(v / 3600);
    if (v >= 60 && v % 60 == 0)
        return u"%1m"_s.arg(v / 60);
    return u"%1s"_s.arg(v);
}

std::optional<std::chrono::seconds> parseDuration(QStringView text)
{
    const QString t = text.trimmed().toString();
    if (t.isEmpty())
        return std::nullopt;
    bool plain = false;
    const qint64 n = t.toLongLong(&plain);
    if (plain)
        return n >= 0 ? std::optional(std::chrono::seconds(n)) : std::nullopt;
    static const QRegularExpression whole(u"^(\\d+(w|d|h|m|s))+$"_s);
    if (!whole.match(t).hasMatch())
        return std::nullopt;
    static const QRegularExpression part(u"(\\d+)(w|d|h|m|s)"_s);
    qint64 total = 0;
    auto it = part.globalMatch(t);
    while (it.hasNext()) {
        const auto m = it.next();
        bool ok = false;
        const qint64 v = m.captured(1).toLongLong(&ok);
        if (!ok)
            return std::nullopt;
        const QChar unit = m.captured(2).at(0);
        const qint64 mult = unit == u'w' ? 604800 : unit == u'd' ? 86400
                          : unit == u'h' ? 3600   : unit == u'm' ? 60 : 1;
        if (v > std::numeric_limits<qint64>::max() / mult / 2)
            return std::nullopt;
        total += v * mult;
    }
    return std::chrono::seconds(total);
}

std::optional<qint64> parseByteSize(QStringView text)
{
    static const QRegularExpression re(u"^(\\d+)\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$"_s);
    const auto m = re.match(text.trimmed().toString());
    if (!m.hasMatch())
        return std::nullopt;
    bool ok = false;
    const qint64 v = m.captured(1).toLongLong(&ok);
    if (!ok)
        return std::nullopt;
    const QString unit = m.captured(2);
    qint64 mult = 1;
    if (unit == "KB"_L1) mult = 1000;
    else if (unit == "MB"_L1) mult = 1000LL * 1000;
    else if (unit == "GB"_L1) mult = 1000LL * 1000 * 1000;
    else if (unit == "TB"_L1) mult = 1000LL * 1000 * 1000 * 1000;
    else if (unit == "KiB"_L1) mult = 1024;
    else if (unit == "MiB"_L1) mult = 1024LL * 1024;
    else if (unit == "GiB"_L1) mult = 1024LL * 1024 * 1024;
    else if (unit == "TiB"_L1) mult = 1024LL * 1024 * 1024 * 1024;
    if (v > std::numeric_limits<qint64>::max() / mult)
        return std::nullopt;
    return v * mult;
}

} // namespace sparky::config
