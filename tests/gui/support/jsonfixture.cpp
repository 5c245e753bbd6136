#include "jsonfixture.h"

#include <QJsonDocument>
#include <QJsonParseError>
#include <QtGlobal>

namespace sparky::admin::test {

namespace {

QJsonDocument parse(const QByteArray &text)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(text, &error);
    if (error.error != QJsonParseError::NoError)
        qFatal("bad JSON fixture at offset %d: %s\n%s", int(error.offset),
            qPrintable(error.errorString()), text.constData());
    return doc;
}

} // namespace

QJsonObject json(const QByteArray &text)
{
    return parse(text).object();
}

QJsonArray jsonArray(const QByteArray &text)
{
    return parse(text).array();
}

} // namespace sparky::admin::test
