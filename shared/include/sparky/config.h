#pragma once

// Typed YAML configuration with errors that name file, line and field:
//
//   /etc/sparky/agent.yaml:14:5: jobs[0].schedule: invalid cron expression "* * *": …
//
// Reading never stops at the first mistake: every typed getter records a problem in the
// Errors collector and returns the fallback, so `check-config` reports all problems at
// once. Not thread-safe; config is read on one thread at start-up or reload.

#include "sparky/error.h"

#include <QList>
#include <QString>
#include <QStringList>

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>

namespace sparky::config {

class Errors final
{
public:
    void add(const QString &message) { m_messages.append(message); }
    bool isEmpty() const { return m_messages.isEmpty(); }
    const QStringList &messages() const { return m_messages; }
    // One Config error listing every message, one per line; success if none.
    Result toResult() const;

private:
    QStringList m_messages;
};

class Node final
{
public:
    Node(YAML::Node node, QString file, QString path, Errors *errors, int line = 0, int column = 0);

    bool isDefined() const;
    bool isMap() const;
    bool isSequence() const;
    bool isScalar() const;
    QString path() const { return m_path; }
    QString file() const { return m_file; }
    int line() const { return m_line; }      // 1-based
    QString location() const;                // "file:line:col"

    // Records "file:line:col: path: message".
    void error(const QString &message) const;

    // Map access. A missing key yields an undefined Node located at its parent.
    Node child(const QString &key) const;
    QStringList keys() const;
    // Records an error for every key not in `allowed`, and for duplicate keys.
    void allowKeys(std::initializer_list<const char *> allowed) const;

    // Scalars of this node.
    std::optional<QString> toString() const;

    // Typed children with defaults. Wrong types and out-of-range values are recorded.
    QString string(const QString &key, const QString &fallback = {}) const;
    QString requiredString(const QString &key) const;
    qint64 integer(const QString &key, qint64 fallback, qint64 min, qint64 max) const;
    bool boolean(const QString &key, bool fallback) const;
    // "90", "90s", "5m", "1h30m", "2d", "1w".
    std::chrono::seconds duration(const QString &key, std::chrono::seconds fallback) const;
    // "1024", "64KiB", "10MiB", "2GB".
    qint64 bytes(const QString &key, qint64 fallback) const;
    // Either one string or a list of strings.
    QStringList stringList(const QString &key) const;
    // A sequence; each item as a Node (maps usually).
    QList<Node> list(const QString &key) const;
    // A map whose keys are names: name → Node.
    QList<std::pair<QString, Node>> namedMap(const QString &key) const;

private:
    YAML::Node m_node;
    QString m_file;
    QString m_path;
    Errors *m_errors = nullptr;
    int m_line = 0;
    int m_column = 0;
};

class Document final
{
public:
    // A YAML syntax error is returned at once, with file:line:col.
    static Expected<Document> loadFile(const QString &path);
    static Expected<Document> loadString(const QByteArray &text, const QString &name);

    Node root(Errors *errors) const;
    QString file() const { return m_file; }

private:
    Document(YAML::Node root, QString file);
    YAML::Node m_root;
    QString m_file;
};

// Parsers behind the getters, usable on their own (and unit-tested).
std::optional<std::chrono::seconds> parseDuration(QStringView text);
// The inverse for messages: the largest whole unit, "2h", "90m" → "90m", "45s", "0s".
QString formatDuration(std::chrono::seconds duration);
std::optional<qint64> parseByteSize(QStringView text);

} // namespace sparky::config
