#include "amqpconvert_p.h"

#include <QDateTime>
#include <QTimeZone>

namespace sparky::amqp {

using namespace Qt::StringLiterals;

amqp_bytes_t PropertiesStorage::keep(const QString &s)
{
    strings.push_back(s.toUtf8());
    return bytesOf(strings.back());
}

void fillProperties(PropertiesStorage &storage, const MessageProperties &in)
{
    // Reserve first so `keep` never reallocates under an amqp_bytes_t already handed out.
    storage.strings.reserve(8 + size_t(in.headers.size()) * 2);
    storage.headerEntries.reserve(size_t(in.headers.size()));
    amqp_basic_properties_t &p = storage.props;
    p._flags = 0;
    if (!in.contentType.isEmpty()) {
        p._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
        p.content_type = storage.keep(in.contentType);
    }
    p._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.delivery_mode = in.persistent ? AMQP_DELIVERY_PERSISTENT : AMQP_DELIVERY_NONPERSISTENT;
    if (!in.messageId.isEmpty()) {
        p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        p.message_id = storage.keep(in.messageId);
    }
    if (!in.type.isEmpty()) {
        p._flags |= AMQP_BASIC_TYPE_FLAG;
        p.type = storage.keep(in.type);
    }
    if (in.timestamp.isValid()) {
        p._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        p.timestamp = uint64_t(in.timestamp.toSecsSinceEpoch());
    }
    if (!in.userId.isEmpty()) {
        p._flags |= AMQP_BASIC_USER_ID_FLAG;
        p.user_id = storage.keep(in.userId);
    }
    if (!in.correlationId.isEmpty()) {
        p._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
        p.correlation_id = storage.keep(in.correlationId);
    }
    if (!in.replyTo.isEmpty()) {
        p._flags |= AMQP_BASIC_REPLY_TO_FLAG;
        p.reply_to = storage.keep(in.replyTo);
    }
    if (in.expirationMs) {
        p._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        p.expiration = storage.keep(QString::number(std::max<qint64>(*in.expirationMs, 0)));
    }
    if (!in.headers.isEmpty()) {
        for (auto it = in.headers.constBegin(); it != in.headers.constEnd(); ++it) {
            amqp_table_entry_t e{};
            e.key = storage.keep(it.key());
            const QVariant &v = it.value();
            switch (v.typeId()) {
            case QMetaType::Bool:
                e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
                e.value.value.boolean = v.toBool();
                break;
            case QMetaType::Int:
            case QMetaType::LongLong:
            case QMetaType::UInt:
            case QMetaType::ULongLong:
                e.value.kind = AMQP_FIELD_KIND_I64;
                e.value.value.i64 = v.toLongLong();
                break;
            default:
                e.value.kind = AMQP_FIELD_KIND_UTF8;
                e.value.value.bytes = storage.keep(v.toString());
                break;
            }
            storage.headerEntries.push_back(e);
        }
        p._flags |= AMQP_BASIC_HEADERS_FLAG;
        p.headers.num_entries = int(storage.headerEntries.size());
        p.headers.entries = storage.headerEntries.data();
    }
}

QVariant fieldValueToVariant(const amqp_field_value_t &v, int depth)
{
    if (depth > 8)
        return {};
    switch (v.kind) {
    case AMQP_FIELD_KIND_BOOLEAN: return bool(v.value.boolean);
    case AMQP_FIELD_KIND_I8: return int(v.value.i8);
    case AMQP_FIELD_KIND_U8: return int(v.value.u8);
    case AMQP_FIELD_KIND_I16: return int(v.value.i16);
    case AMQP_FIELD_KIND_U16: return int(v.value.u16);
    case AMQP_FIELD_KIND_I32: return int(v.value.i32);
    case AMQP_FIELD_KIND_U32: return qint64(v.value.u32);
    case AMQP_FIELD_KIND_I64: return qint64(v.value.i64);
    case AMQP_FIELD_KIND_U64: return quint64(v.value.u64);
    case AMQP_FIELD_KIND_TIMESTAMP: return quint64(v.value.u64);
    case AMQP_FIELD_KIND_F32: return double(v.value.f32);
    case AMQP_FIELD_KIND_F64: return v.value.f64;
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: return toQString(v.value.bytes);
    case AMQP_FIELD_KIND_ARRAY: {
        QVariantList list;
        for (int i = 0; i < v.value.array.num_entries; ++i)
            list.append(fieldValueToVariant(v.value.array.entries[i], depth + 1));
        return list;
    }
    case AMQP_FIELD_KIND_TABLE: {
        QVariantMap map;
        for (int i = 0; i < v.value.table.num_entries; ++i)
            map.insert(toQString(v.value.table.entries[i].key),
                       fieldValueToVariant(v.value.table.entries[i].value, depth + 1));
        return map;
    }
    default: return {};
    }
}

MessageProperties readProperties(const amqp_basic_properties_t &in)
{
    MessageProperties p;
    p.contentType.clear();
    p.persistent = false;
    if (in._flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
        p.contentType = toQString(in.content_type);
    if (in._flags & AMQP_BASIC_DELIVERY_MODE_FLAG)
        p.persistent = in.delivery_mode == AMQP_DELIVERY_PERSISTENT;
    if (in._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
        p.messageId = toQString(in.message_id);
    if (in._flags & AMQP_BASIC_TYPE_FLAG)
        p.type = toQString(in.type);
    if (in._flags & AMQP_BASIC_TIMESTAMP_FLAG)
        p.timestamp = QDateTime::fromSecsSinceEpoch(qint64(in.timestamp), Qt::UTC);
    if (in._flags & AMQP_BASIC_USER_ID_FLAG)
        p.userId = toQString(in.user_id);
    if (in._flags & AMQP_BASIC_CORRELATION_ID_FLAG)
        p.correlationId = toQString(in.correlation_id);
    if (in._flags & AMQP_BASIC_REPLY_TO_FLAG)
        p.replyTo = toQString(in.reply_to);
    if (in._flags & AMQP_BASIC_EXPIRATION_FLAG) {
        bool ok = false;
        const qint64 ms = toQString(in.expiration).toLongLong(&ok);
        if (ok)
            p.expirationMs = ms;
    }
    if (in._flags & AMQP_BASIC_HEADERS_FLAG) {
        for (int i = 0; i < in.headers.num_entries; ++i)
            p.headers.insert(toQString(in.headers.entries[i].key),
                             fieldValueToVariant(in.headers.entries[i].value));
    }
    return p;
}

void fillClientProperties(ClientPropertiesStorage &s, const QString &connectionName)
{
    s.strings.reserve(16);
    auto keep = [&s](const QString &v) {
        s.strings.push_back(v.toUtf8());
        return bytesOf(s.strings.back());
    };
    for (const char *cap : {"publisher_confirms", "basic.nack", "consumer_cancel_notify",
                            "connection.blocked", "authentication_failure_close",
                            "exchange_exchange_bindings"}) {
        amqp_table_entry_t e{};
        e.key = amqp_cstring_bytes(cap);
        e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
        e.value.value.boolean = 1;
        s.capabilities.push_back(e);
    }
    auto add = [&s](const char *key, amqp_bytes_t value) {
        amqp_table_entry_t e{};
        e.key = amqp_cstring_bytes(key);
        e.value.kind = AMQP_FIELD_KIND_UTF8;
        e.value.value.bytes = value;
        s.entries.push_back(e);
    };
    add("product", keep(u"sparky-for-backup"_s));
    add("version", keep(QStringLiteral(SPARKY_VERSION)));
    if (!connectionName.isEmpty())
        add("connection_name", keep(connectionName));
    amqp_table_entry_t caps{};
    caps.key = amqp_cstring_bytes("capabilities");
    caps.value.kind = AMQP_FIELD_KIND_TABLE;
    caps.value.value.table.num_entries = int(s.capabilities.size());
    caps.value.value.table.entries = s.capabilities.data();
    s.entries.push_back(caps);
    s.table.num_entries = int(s.entries.size());
    s.table.entries = s.entries.data();
}

} // namespace sparky::amqp
