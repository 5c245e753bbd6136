#include "jsonschemacheck.h"

#include "sparky/envelope.h"

#include <QDate>
#include <QJsonArray>
#include <QRegularExpression>

namespace sparky::test {

using namespace Qt::StringLiterals;

namespace {

bool isInteger(const QJsonValue &v)
{
    return v.isDouble() && v.toDouble() == std::floor(v.toDouble());
}

bool hasType(const QJsonValue &v, const QString &type)
{
    if (type == u"object")
        return v.isObject();
    if (type == u"array")
        return v.isArray();
    if (type == u"string")
        return v.isString();
    if (type == u"boolean")
        return v.isBool();
    if (type == u"null")
        return v.isNull();
    if (type == u"number")
        return v.isDouble();
    if (type == u"integer")
        return isInteger(v);
    return false;
}

} // namespace

JsonSchemaCheck::JsonSchemaCheck(QJsonObject schema)
    : m_root(std::move(schema))
{ }

QStringList JsonSchemaCheck::validate(const QJsonValue &value) const
{
    QStringList errors;
    check(value, m_root, u"$"_s, errors);
    return errors;
}

void JsonSchemaCheck::check(
    const QJsonValue &v, const QJsonObject &s, const QString &path, QStringList &errors) const
{
    static const QStringList known { u"$schema"_s, u"$id"_s, u"title"_s, u"description"_s,
        u"type"_s, u"const"_s, u"enum"_s, u"properties"_s, u"required"_s, u"additionalProperties"_s,
        u"items"_s, u"minimum"_s, u"pattern"_s, u"format"_s, u"anyOf"_s, u"$ref"_s, u"$defs"_s };
    for (const QString &k : s.keys())
        if (!known.contains(k))
            errors.append(
                path + u": schema keyword '%1' is not supported by this checker"_s.arg(k));

    if (s.contains("$ref"_L1)) {
        const QString ref = s.value("$ref"_L1).toString();
        const QString prefix = u"#/$defs/"_s;
        const QJsonObject target
            = m_root.value("$defs"_L1).toObject().value(ref.mid(prefix.size())).toObject();
        if (!ref.startsWith(prefix) || target.isEmpty())
            errors.append(path + u": unresolvable $ref "_s + ref);
        else
            check(v, target, path, errors);
    }
    if (s.contains("anyOf"_L1)) {
        bool any = false;
        for (const QJsonValue &alt : s.value("anyOf"_L1).toArray()) {
            QStringList sub;
            check(v, alt.toObject(), path, sub);
            any = any || sub.isEmpty();
        }
        if (!any)
            errors.append(path + u": matches none of anyOf"_s);
    }
    if (s.contains("type"_L1)) {
        const QJsonValue t = s.value("type"_L1);
        QStringList types;
        if (t.isArray())
            for (const QJsonValue &x : t.toArray())
                types.append(x.toString());
        else
            types.append(t.toString());
        bool ok = false;
        for (const QString &type : std::as_const(types))
            ok = ok || hasType(v, type);
        if (!ok) {
            errors.append(path + u": expected type %1"_s.arg(types.join(u'|')));
            return;
        }
    }
    if (s.contains("const"_L1) && v != s.value("const"_L1))
        errors.append(path + u": expected the constant %1"_s.arg(s.value("const"_L1).toString()));
    if (s.contains("enum"_L1) && !s.value("enum"_L1).toArray().contains(v))
        errors.append(path + u": '%1' is not in the enum"_s.arg(v.toVariant().toString()));
    if (s.contains("minimum"_L1) && v.isDouble() && v.toDouble() < s.value("minimum"_L1).toDouble())
        errors.append(path
            + u": %1 is below the minimum %2"_s.arg(v.toDouble())
                  .arg(s.value("minimum"_L1).toDouble()));
    if (s.contains("pattern"_L1) && v.isString()) {
        const QRegularExpression re(s.value("pattern"_L1).toString());
        if (!re.match(v.toString()).hasMatch())
            errors.append(path + u": '%1' does not match %2"_s.arg(v.toString(), re.pattern()));
    }
    if (s.contains("format"_L1) && v.isString()) {
        const QString f = s.value("format"_L1).toString();
        if (f == u"date-time" && !parseTimestamp(v.toString()))
            errors.append(path + u": '%1' is not an RFC 3339 UTC date-time"_s.arg(v.toString()));
        else if (f == u"date" && !QDate::fromString(v.toString(), Qt::ISODate).isValid())
            errors.append(path + u": '%1' is not a date"_s.arg(v.toString()));
        else if (f != u"date-time" && f != u"date")
            errors.append(path + u": format '%1' is not supported by this checker"_s.arg(f));
    }
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        const QJsonObject props = s.value("properties"_L1).toObject();
        for (const QJsonValue &r : s.value("required"_L1).toArray())
            if (!o.contains(r.toString()))
                errors.append(path + u": missing required property '%1'"_s.arg(r.toString()));
        for (auto it = o.constBegin(); it != o.constEnd(); ++it) {
            if (props.contains(it.key()))
                check(it.value(), props.value(it.key()).toObject(), path + u'.' + it.key(), errors);
            else if (s.value("additionalProperties"_L1) == QJsonValue(false))
                errors.append(path + u": property '%1' is not allowed"_s.arg(it.key()));
        }
    }
    if (v.isArray() && s.contains("items"_L1)) {
        const QJsonArray a = v.toArray();
        for (qsizetype i = 0; i < a.size(); ++i)
            check(a.at(i), s.value("items"_L1).toObject(), path + u'[' + QString::number(i) + u']',
                errors);
    }
}

} // namespace sparky::test
