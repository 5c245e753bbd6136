#include "sparky/envelope.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QRandomGenerator>
#include <QRegularExpression>

namespace sparky {

using namespace Qt::StringLiterals;

namespace {

constexpr qsizetype kMaxIdLength = 64;
constexpr qsizetype kMaxTypeLength = 64;
constexpr qsizetype kSignatureBytes = 64;

int depthOf(const QJsonValue &v, int limit)
{
    if (limit < 0)
        return 1;
    int deepest = 0;
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        for (auto it = o.constBegin(); it != o.constEnd(); ++it)
            deepest = std::max(deepest, depthOf(it.value(), limit - 1));
        return deepest + 1;
    }
    if (v.isArray()) {
        const QJsonArray a = v.toArray();
        for (const QJsonValue &item : a)
            deepest = std::max(deepest, depthOf(item, limit - 1));
        return deepest + 1;
    }
    return 0;
}

Unexpected invalid(const QString &what)
{
    return unexpected(ErrorCode::Validation, what);
}

Expected<QString> stringField(const QJsonObject &o, QLatin1StringView key)
{
    const auto it = o.constFind(key);
    if (it == o.constEnd())
        return invalid(u"missing field '%1'"_s.arg(key));
    if (!it->isString())
        return invalid(u"field '%1' must be a string"_s.arg(key));
    return it->toString();
}

} // namespace

bool isValidNodeId(QStringView node)
{
    static const QRegularExpression re(u"^[a-z0-9][a-z0-9-]{0,62}$"_s);
    return re.match(node).hasMatch();
}

bool isValidMessageType(QStringView type)
{
    static const QRegularExpression re(u"^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$"_s);
    return type.size() <= kMaxTypeLength && re.match(type).hasMatch();
}

bool isValidMessageId(QStringView id)
{
    static const QRegularExpression re(u"^[A-Za-z0-9._:-]+$"_s);
    return id.size() <= kMaxIdLength && re.match(id).hasMatch();
}

QString newMessageId()
{
    quint32 words[4];
    QRandomGenerator::system()->fillRange(words);
    return QString::fromLatin1(
        QByteArray(reinterpret_cast<const char *>(words), sizeof(words)).toHex());
}

QString formatTimestamp(const QDateTime &t)
{
    return t.toUTC().toString(Qt::ISODateWithMs);
}

std::optional<QDateTime> parseTimestamp(QStringView text)
{
    static const QRegularExpression re(
        u"^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,3})?Z$"_s);
    if (!re.match(text).hasMatch())
        return std::nullopt;
    QDateTime t = QDateTime::fromString(text.toString(), Qt::ISODateWithMs);
    if (!t.isValid())
        return std::nullopt;
    return t.toUTC();
}

Envelope Envelope::make(QString type, QString node, QJsonObject body)
{
    Envelope e;
    e.id = newMessageId();
    e.type = std::move(type);
    e.node = std::move(node);
    e.ts = QDateTime::currentDateTimeUtc();
    e.body = std::move(body);
    return e;
}

Expected<Envelope> parseEnvelope(QByteArrayView data, const ParseLimits &limits)
{
    if (data.size() > limits.maxBytes)
        return unexpected(ErrorCode::Validation,
                          u"message of %1 bytes exceeds the limit of %2 bytes"_s.arg(data.size())
                              .arg(limits.maxBytes));
    if (data.isEmpty())
        return unexpected(ErrorCode::Parse, u"empty message"_s);

    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(data.toByteArray(), &parseError);
    if (parseError.error != QJsonParseError::NoError)
        return unexpected(ErrorCode::Parse, u"malformed JSON at offset %1: %2"_s
                                                .arg(parseError.offset)
                                                .arg(parseError.errorString()));
    if (!doc.isObject())
        return invalid(u"the envelope must be a JSON object"_s);
    const QJsonObject o = doc.object();
    if (depthOf(o, limits.maxDepth + 1) > limits.maxDepth)
        return invalid(u"JSON nested deeper than %1 levels"_s.arg(limits.maxDepth));

    static const QLatin1StringView known[] = {"v"_L1,  "id"_L1,   "type"_L1, "node"_L1,
                                              "ts"_L1, "body"_L1, "exp"_L1,  "sig"_L1};
    for (auto it = o.constBegin(); it != o.constEnd(); ++it) {
        if (std::find(std::begin(known), std::end(known), it.key()) == std::end(known))
            return invalid(u"unknown field '%1'"_s.arg(it.key().left(64)));
    }

    Envelope e;
    const auto v = o.constFind("v"_L1);
    if (v == o.constEnd())
        return invalid(u"missing field 'v'"_s);
    if (!v->isDouble() || v->toDouble() != std::floor(v->toDouble()))
        return invalid(u"field 'v' must be an integer"_s);
    if (v->toDouble() != kEnvelopeVersion)
        return invalid(u"unsupported envelope version %1 (this build speaks %2)"_s
                           .arg(v->toDouble())
                           .arg(kEnvelopeVersion));
    e.version = kEnvelopeVersion;

    auto id = stringField(o, "id"_L1);
    if (!id)
        return id.error();
    if (!isValidMessageId(*id))
        return invalid(u"field 'id' must be 1-64 characters of [A-Za-z0-9._:-]"_s);
    e.id = *id;

    auto type = stringField(o, "type"_L1);
    if (!type)
        return type.error();
    if (!isValidMessageType(*type))
        return invalid(u"field 'type' is not a valid message type: '%1'"_s.arg(type->left(64)));
    e.type = *type;

    auto node = stringField(o, "node"_L1);
    if (!node)
        return node.error();
    if (!isValidNodeId(*node))
        return invalid(u"field 'node' is not a valid node id: '%1'"_s.arg(node->left(64)));
    e.node = *node;

    auto ts = stringField(o, "ts"_L1);
    if (!ts)
        return ts.error();
    const auto when = parseTimestamp(*ts);
    if (!when)
        return invalid(u"field 'ts' must be an RFC 3339 UTC timestamp like "
                       "2026-11-25T15:20:31.123Z"_s);
    e.ts = *when;

    const auto body = o.constFind("body"_L1);
    if (body == o.constEnd())
        return invalid(u"missing field 'body'"_s);
    if (!body->isObject())
        return invalid(u"field 'body' must be an object"_s);
    e.body = body->toObject();

    if (o.contains("exp"_L1)) {
        auto exp = stringField(o, "exp"_L1);
        if (!exp)
            return exp.error();
        const auto expires = parseTimestamp(*exp);
        if (!expires)
            return invalid(u"field 'exp' must be an RFC 3339 UTC timestamp"_s);
        e.expires = *expires;
    }
    if (o.contains("sig"_L1)) {
        auto sig = stringField(o, "sig"_L1);
        if (!sig)
            return sig.error();
        const auto decoded = QByteArray::fromBase64Encoding(
            sig->toLatin1(), QByteArray::Base64Encoding | QByteArray::AbortOnBase64DecodingErrors);
        if (!decoded || decoded.decoded.size() != kSignatureBytes)
            return invalid(u"field 'sig' must be a base64 ed25519 signature (64 bytes)"_s);
        e.signature = decoded.decoded;
    }
    return e;
}

namespace {

QJsonObject toJson(const Envelope &e, bool withSignature)
{
    QJsonObject o;
    o.insert("v"_L1, e.version);
    o.insert("id"_L1, e.id);
    o.insert("type"_L1, e.type);
    o.insert("node"_L1, e.node);
    o.insert("ts"_L1, formatTimestamp(e.ts));
    o.insert("body"_L1, e.body);
    if (e.expires)
        o.insert("exp"_L1, formatTimestamp(*e.expires));
    if (withSignature && !e.signature.isEmpty())
        o.insert("sig"_L1, QString::fromLatin1(e.signature.toBase64()));
    return o;
}

} // namespace

QByteArray serializeEnvelope(const Envelope &envelope)
{
    return QJsonDocument(toJson(envelope, true)).toJson(QJsonDocument::Compact);
}

QByteArray signingPayload(const Envelope &envelope)
{
    return QJsonDocument(toJson(envelope, false)).toJson(QJsonDocument::Compact);
}

MessageProperties propertiesFor(const Envelope &envelope, const QString &userId)
{
    MessageProperties p;
    p.messageId = envelope.id;
    p.type = envelope.type;
    p.timestamp = envelope.ts;
    p.userId = userId;
    p.persistent = true;
    if (envelope.expires) {
        const qint64 ms = QDateTime::currentDateTimeUtc().msecsTo(*envelope.expires);
        p.expirationMs = std::max<qint64>(ms, 1);
    }
    return p;
}

} // namespace sparky
