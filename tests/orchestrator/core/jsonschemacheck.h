#pragma once

// A small JSON Schema (2020-12) validator for the subset docs/report.schema.json uses:
// type (incl. integer and type lists), const, enum, properties, required,
// additionalProperties: false, items, minimum, pattern, format (date-time, date), anyOf,
// and $ref to "#/$defs/NAME". Any other keyword in the schema is an error, so the schema
// cannot silently grow past what this checks.

#include <QJsonObject>
#include <QJsonValue>
#include <QStringList>

namespace sparky::test {

class JsonSchemaCheck final
{
public:
    explicit JsonSchemaCheck(QJsonObject schema);
    // Every violation, as "path: message"; empty when `value` is valid.
    QStringList validate(const QJsonValue &value) const;

private:
    void check(const QJsonValue &v, const QJsonObject &schema, const QString &path,
        QStringList &errors) const;
    QJsonObject m_root;
};

} // namespace sparky::test
