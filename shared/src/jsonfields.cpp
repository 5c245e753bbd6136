#include "sparky/jsonfields.h"

#include <QJsonDocument>

#include <cmath>

namespace sparky::json {

using namespace Qt::StringLiterals;

namespace {

QString where(QLatin1StringView context, QLatin1StringView key)
{
    return context.isEmpty() ? QString(key) : QString(context) + u'.' + key;
}

Unexpected bad(QLatin1StringView context, QLatin1StringView key, const QString &what)
{
    return unexpected(ErrorCode::Validation, where(context, key) + u": "_s + what);
}

} // namespace

Expected<std::optional<QString>> optionalString(const QJsonObject &o, QLatin1StringView key,
                                                QLatin1StringView context, qsizetype maxLength)
{
    const auto it = o.constFind(key);
    if (it == o.constEnd() || it->isNull())
        return std::optional<QString>();
    if (!it->isString())
        return bad(context, key, u"expected a string"_s);
    QString s = it->toString();
    if (s.size() > maxLength)
        return bad(context, key, u"longer than %1 characters"_s.arg(maxLength));
    return std::optional<QString>(std::move(s));
}

Expected<QString> requireString(const QJsonObject &o, QLatin1StringView key,
                                QLatin1StringView context, qsizetype maxLength)
{
    auto s = optionalString(o, key, context, maxLength);
    if (!s)
        return s.error();
    if (!s->has_value())
        return bad(context, key, u"missing"_s);
    if ((*s)->isEmpty())
        return bad(context, key, u"must not be empty"_s);
    return **s;
}

Expected<std::optional<qint64>> optionalInteger(const QJsonObject &o, QLatin1StringView key,
                                                qint64 min, qint64 max, QLatin1StringView context)
{
    const auto it = o.constFind(key);
    if (it == o.constEnd() || it->isNull())
        return std::optional<qint64>();
    if (!it->isDouble())
        return bad(context, key, u"expected an integer"_s);
    const double d = it->toDouble();
    if (std::floor(d) != d || d < static_cast<double>(min) || d > static_cast<double>(max))
        return bad(context, key, u"expected an integer in [%1, %2]"_s.arg(min).arg(max));
    return std::optional<qint64>(static_cast<qint64>(d));
}

Expected<qint64> requireInteger(const QJsonObject &o, QLatin1StringView key, qint64 min, qint64 max,
                                QLatin1StringView context)
{
    auto v = optionalInteger(o, key, min, max, context);
    if (!v)
        return v.error();
    if (!v->has_value())
        return bad(context, key, u"missing"_s);
    return **v;
}

Expected<bool> optionalBool(const QJsonObject &o, QLatin1StringView key, bool fallback,
                            QLatin1StringView context)
{
    const auto it = o.constFind(key);
    if (it == o.constEnd() || it->isNull())
        return fallback;
    if (!it->isBool())
        return bad(context, key, u"expected true or false"_s);
    return it->toBool();
}

Expected<QStringList> requireStringList(const QJsonObject &o, QLatin1StringView key,
                                        qsizetype maxItems, QLatin1StringView context,
                                        qsizetype maxLength)
{
    const auto it = o.constFind(key);
    if (it == o.constEnd())
        return bad(context, key, u"missing"_s);
    if (!it->isArray())
        return bad(context, key, u"expected an array of strings"_s);
    const QJsonArray a = it->toArray();
    if (a.size() > maxItems)
        return bad(context, key, u"more than %1 items"_s.arg(maxItems));
    QStringList out;
    out.reserve(a.size());
    for (qsizetype i = 0; i < a.size(); ++i) {
        const QString item = where(context, key) + u'[' + QString::number(i) + u']';
        if (!a.at(i).isString())
            return unexpected(ErrorCode::Validation, item + u": expected a string"_s);
        QString s = a.at(i).toString();
        if (s.size() > maxLength)
            return unexpected(ErrorCode::Validation,
                              item + u": longer than %1 characters"_s.arg(maxLength));
        out.append(std::move(s));
    }
    return out;
}

Expected<QJsonObject> requireObject(const QJsonObject &o, QLatin1StringView key,
                                    QLatin1StringView context)
{
    const auto it = o.constFind(key);
    if (it == o.constEnd())
        return bad(context, key, u"missing"_s);
    if (!it->isObject())
        return bad(context, key, u"expected an object"_s);
    return it->toObject();
}

Result rejectUnknownKeys(const QJsonObject &o, std::initializer_list<QLatin1StringView> allowed,
                         QLatin1StringView context)
{
    for (auto it = o.constBegin(); it != o.constEnd(); ++it) {
        bool found = false;
        for (QLatin1StringView a : allowed)
            found = found || it.key() == a;
        if (!found)
            return unexpected(ErrorCode::Validation, u"%1: unknown field '%2'"_s.arg(
                                                         QString(context), it.key().left(64)));
    }
    return {};
}

QString compactText(const QJsonObject &o)
{
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

QString compactText(const QJsonArray &a)
{
    return QString::fromUtf8(QJsonDocument(a).toJson(QJsonDocument::Compact));
}

} // namespace sparky::json
