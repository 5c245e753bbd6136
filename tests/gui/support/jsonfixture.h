#pragma once

// JSON for tests written as text: json(R"({"a": 1})") is the object, and a test that
// mistypes its fixture fails at once instead of testing an empty object.

#include <QByteArray>
#include <QJsonArray>
#include <QJsonObject>

namespace sparky::admin::test {

QJsonObject json(const QByteArray &text);
QJsonArray jsonArray(const QByteArray &text);

} // namespace sparky::admin::test
