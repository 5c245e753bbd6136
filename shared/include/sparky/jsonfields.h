#pragma once

// Typed, strict reads of message bodies. Each function names the field in its error
// ("body.paths[2]: expected a string"), so a rejected message says exactly what is wrong.

#include "sparky/error.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QStringList>

#include <optional>

namespace sparky::json {

Expected<QString> requireString(const QJsonObject &o, QLatin1StringView key,
                                QLatin1StringView context = QLatin1StringView("body"),
                                qsizetype maxLength = 4096);
Expected<std::optional<QString>> optionalString(const QJsonObject &o, QLatin1StringView key,
                                                QLatin1StringView context = QLatin1StringView("body"),
                                                qsizetype maxLength = 4096);
// Integral JSON numbers only (no 1.5), within [min, max].
Expected<qint64> requireInteger(const QJsonObject &o, QLatin1StringView key, qint64 min, qint64 max,
                                QLatin1StringView context = QLatin1StringView("body"));
Expected<std::optional<qint64>> optionalInteger(const QJsonObject &o, QLatin1StringView key,
                                                qint64 min, qint64 max,
                                                QLatin1StringView context = QLatin1StringView("body"));
Expected<bool> optionalBool(const QJsonObject &o, QLatin1StringView key, bool fallback,
                            QLatin1StringView context = QLatin1StringView("body"));
Expected<QStringList> requireStringList(const QJsonObject &o, QLatin1StringView key,
                                        qsizetype maxItems,
                                        QLatin1StringView context = QLatin1StringView("body"),
                                        qsizetype maxLength = 4096);
Expected<QJsonObject> requireObject(const QJsonObject &o, QLatin1StringView key,
                                    QLatin1StringView context = QLatin1StringView("body"));

// The document as one line of JSON (for the store, logs and audit rows).
QString compactText(const QJsonObject &o);
QString compactText(const QJsonArray &a);

// Errors for keys not in `allowed` (catches typos and smuggled fields).
Result rejectUnknownKeys(const QJsonObject &o, std::initializer_list<QLatin1StringView> allowed,
                         QLatin1StringView context = QLatin1StringView("body"));

} // namespace sparky::json
