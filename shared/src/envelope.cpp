#include "sparky/envelope.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QRandomGenerator>
#include <algorithm>
#include <cstring>

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

// The checks below run for every message (two or three timestamps each), so they are
// written out by hand: a QRegularExpression match or QDateTime::fromString() costs
// microseconds apiece. tst_envelope holds them to Qt's own parser and to the patterns in
// the comments.

namespace {

bool isLowerOrDigit(char16_t c)
{
    return (c >= u'a' && c <= u'z') || (c >= u'0' && c <= u'9');
}

} // namespace

bool isValidNodeId(QStringView node) // ^[a-z0-9][a-z0-9-]{0,62}$
{
    if (node.isEmpty() || node.size() > 63 || !isLowerOrDigit(node.front().unicode()))
        return false;
    return std::all_of(node.begin(), node.end(),
        [](QChar c) { return isLowerOrDigit(c.unicode()) || c == u'-'; });
}

bool isValidMessageType(QStringView type) // ^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$, ≤ 64
{
    if (type.isEmpty() || type.size() > kMaxTypeLength)
        return false;
    bool segmentStart = true;
    for (QChar ch : type) {
        const char16_t c = ch.unicode();
        if (segmentStart) {
            if (c < u'a' || c > u'z')
                return false;
            segmentStart = false;
        } else if (c == u'.') {
            segmentStart = true;
        } else if (!isLowerOrDigit(c) && c != u'_') {
            return false;
        }
    }
    return !segmentStart;
}

bool isValidMessageId(QStringView id) // ^[A-Za-z0-9._:-]+$, ≤ 64
{
    if (id.isEmpty() || id.size() > kMaxIdLength)
        return false;
    return std::all_of(id.begin(), id.end(), [](QChar ch) {
        const char16_t c = ch.unicode();
        return isLowerOrDigit(c) || (c >= u'A' && c <= u'Z') || c == u'.' || c == u'_'
            || c == u':' || c == u'-';
    });
}

QString newMessageId()
{
    // 12 hex digits of the current time in ms, then 80 random bits: ids made later sort
    // later (like UUIDv7), so the stores' unique indexes on them grow at one end instead of
    // dirtying a random page per id; the random part keeps them unique and unguessable.
    const quint64 now = quint64(QDateTime::currentMSecsSinceEpoch()) & 0xffffffffffffULL;
    quint32 random[3];
    QRandomGenerator::system()->fillRange(random);
    char bytes[16];
    for (int i = 0; i < 6; ++i)
        bytes[i] = char(now >> (40 - 8 * i));
    std::memcpy(bytes + 6, random, 10);
    return QString::fromLatin1(QByteArray::fromRawData(bytes, sizeof bytes).toHex());
}

QString formatTimestamp(const QDateTime &t) // 2026-11-25T15:20:31.123Z
{
    if (!t.isValid())
        return {};
    const qint64 ms = t.toMSecsSinceEpoch();
    constexpr qint64 kDay = 86400000;
    const qint64 days = ms >= 0 ? ms / kDay : -((-ms + kDay - 1) / kDay);
    const QDate date = QDate::fromJulianDay(days + 2440588); // 2440588: 1970-01-01
    if (date.year() < 1 || date.year() > 9999)
        return t.toUTC().toString(Qt::ISODateWithMs);
    const qint64 inDay = ms - days * kDay;
    char16_t out[24];
    auto put = [&out](int at, int value, int width) {
        for (int i = width - 1; i >= 0; --i, value /= 10)
            out[at + i] = char16_t(u'0' + value % 10);
    };
    put(0, date.year(), 4);
    out[4] = u'-';
    put(5, date.month(), 2);
    out[7] = u'-';
    put(8, date.day(), 2);
    out[10] = u'T';
    put(11, int(inDay / 3600000), 2);
    out[13] = u':';
    put(14, int(inDay / 60000 % 60), 2);
    out[16] = u':';
    put(17, int(inDay / 1000 % 60), 2);
    out[19] = u'.';
    put(20, int(inDay % 1000), 3);
    out[23] = u'Z';
    return QString(reinterpret_cast<const QChar *>(out), 24);
}

// ^YYYY-MM-DDTHH:MM:SS(.f{1,3})?Z$ with a date and time that exist.
std::optional<QDateTime> parseTimestamp(QStringView text)
{
    const qsizetype n = text.size();
    if (n < 20 || n == 21 || n > 24 || text.back() != u'Z')
        return std::nullopt;
    auto number = [text](qsizetype at, qsizetype width, int &out) {
        out = 0;
        for (qsizetype i = at; i < at + width; ++i) {
            const char16_t c = text[i].unicode();
            if (c < u'0' || c > u'9')
                return false;
            out = out * 10 + (c - u'0');
        }
        return true;
    };
    int year, month, day, hour, minute, second, msec = 0;
    if (!number(0, 4, year) || text[4] != u'-' || !number(5, 2, month) || text[7] != u'-'
        || !number(8, 2, day) || text[10] != u'T' || !number(11, 2, hour) || text[13] != u':'
        || !number(14, 2, minute) || text[16] != u':' || !number(17, 2, second))
        return std::nullopt;
    if (n > 20) {
        if (text[19] != u'.' || !number(20, n - 21, msec))
            return std::nullopt;
        for (qsizetype i = n - 21; i < 3; ++i)
            msec *= 10; // ".5" is half a second
    }
    const QDate date(year, month, day);
    const QTime time(hour, minute, second, msec);
    if (!date.isValid() || !time.isValid())
        return std::nullopt;
    return QDateTime(date, time, Qt::UTC);
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
