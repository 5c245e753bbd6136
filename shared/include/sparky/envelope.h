#pragma once

// The versioned JSON envelope every sparky message travels in (docs/protocol.md):
//
//   {"v":1,"id":"…","type":"run.finished","node":"web-01","ts":"2026-11-25T15:20:31.123Z",
//    "body":{…}, "exp":"…", "sig":"…"}
//
// `exp` and `sig` are present on commands only. Parsing is strict and bounded: unknown
// fields, wrong types, oversized input or over-deep nesting are errors that name the field,
// never a crash. Plain value types; thread-compatible.

#include "sparky/error.h"

#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QString>
#include <QVariantMap>

#include <optional>

namespace sparky {

inline constexpr int kEnvelopeVersion = 1;
inline constexpr qsizetype kDefaultMaxMessageBytes = 1024 * 1024;
inline constexpr QLatin1StringView kJsonContentType{"application/json"};

struct ParseLimits
{
    qsizetype maxBytes = kDefaultMaxMessageBytes;
    int maxDepth = 16; // nesting of objects/arrays inside the whole document
};

struct Envelope
{
    int version = kEnvelopeVersion;
    QString id;    // unique per message; the deduplication key
    QString type;  // dotted lower case, e.g. "run.finished", "backup.run"
    QString node;  // events: the sender; commands: the target
    QDateTime ts;  // when it was created, UTC, millisecond precision
    QJsonObject body;
    std::optional<QDateTime> expires; // commands: not valid after this
    QByteArray signature;             // commands: raw ed25519 signature (64 bytes)

    // A new envelope with a fresh random id and ts = now (UTC, ms).
    static Envelope make(QString type, QString node, QJsonObject body = {});

    bool isSigned() const { return !signature.isEmpty(); }
};

// Strict parse of one message body.
Expected<Envelope> parseEnvelope(QByteArrayView data, const ParseLimits &limits = {});

// Compact JSON; keys sorted (QJsonObject keeps them sorted), so equal envelopes serialise
// to equal bytes.
QByteArray serializeEnvelope(const Envelope &envelope);

// The exact bytes a command signature covers: the envelope without `sig`, compact JSON.
QByteArray signingPayload(const Envelope &envelope);

// Identifier rules shared by the whole system.
bool isValidNodeId(QStringView node);     // ^[a-z0-9][a-z0-9-]{0,62}$ (no dots: routing keys)
bool isValidMessageType(QStringView type); // ^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$, ≤ 64
bool isValidMessageId(QStringView id);     // ^[A-Za-z0-9._:-]{1,64}$

QString newMessageId(); // 32 hex chars: 48 bits of ms time (ids sort by age), 80 from a CSPRNG
QString formatTimestamp(const QDateTime &t); // 2026-11-25T15:20:31.123Z
std::optional<QDateTime> parseTimestamp(QStringView text);

// AMQP basic properties as sparky sets them; transport-neutral (no rabbitmq-c here).
struct MessageProperties
{
    QString messageId;
    QString type;
    QDateTime timestamp; // sent with second precision (AMQP), UTC
    QString contentType = QString(kJsonContentType);
    QString userId;      // the broker validates it equals the authenticated user
    QString correlationId;
    QString replyTo;
    std::optional<qint64> expirationMs; // per-message TTL for the broker
    bool persistent = true;
    QVariantMap headers; // read-only on receive (e.g. x-death); string/number values sent
};

// Properties for an envelope: message_id, type, timestamp, content_type, user_id, persistent,
// and for commands an expiration that ends when the command expires.
MessageProperties propertiesFor(const Envelope &envelope, const QString &userId);

} // namespace sparky

Q_DECLARE_METATYPE(sparky::Envelope)
