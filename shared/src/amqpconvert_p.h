#pragma once

// Conversions between sparky's transport-neutral types and rabbitmq-c structures.
// Private to the transport: rabbitmq-c appears in no public header.

#include "sparky/envelope.h"

#include <amqp.h>
#include <amqp_framing.h>

#include <QByteArray>
#include <QList>
#include <QString>
#include <QVariant>

#include <vector>

namespace sparky::amqp {

inline QString toQString(amqp_bytes_t b)
{
    return QString::fromUtf8(static_cast<const char *>(b.bytes), qsizetype(b.len));
}

inline QByteArray toByteArray(amqp_bytes_t b)
{
    return QByteArray(static_cast<const char *>(b.bytes), qsizetype(b.len));
}

// Borrowing view: valid while `a` lives and is not modified.
inline amqp_bytes_t bytesOf(const QByteArray &a)
{
    amqp_bytes_t b;
    b.len = size_t(a.size());
    b.bytes = const_cast<char *>(a.constData());
    return b;
}

// Owns the memory an amqp_basic_properties_t points into while a publish is in progress.
struct PropertiesStorage
{
    amqp_basic_properties_t props{};
    std::vector<QByteArray> strings;
    std::vector<amqp_table_entry_t> headerEntries;

    amqp_bytes_t keep(const QString &s);
};

void fillProperties(PropertiesStorage &storage, const MessageProperties &in);
MessageProperties readProperties(const amqp_basic_properties_t &in);
QVariant fieldValueToVariant(const amqp_field_value_t &v, int depth = 0);

// Client properties sent at login: product, version, connection name, capabilities
// (publisher confirms, basic.nack, consumer cancel notify, connection.blocked,
// authentication failure close).
struct ClientPropertiesStorage
{
    std::vector<QByteArray> strings;
    std::vector<amqp_table_entry_t> capabilities;
    std::vector<amqp_table_entry_t> entries;
    amqp_table_t table{};
};
void fillClientProperties(ClientPropertiesStorage &storage, const QString &connectionName);

} // namespace sparky::amqp
