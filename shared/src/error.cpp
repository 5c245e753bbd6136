#include "sparky/error.h"

namespace sparky {

QString errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::None: return QStringLiteral("none");
    case ErrorCode::InvalidArgument: return QStringLiteral("invalid-argument");
    case ErrorCode::Parse: return QStringLiteral("parse");
    case ErrorCode::Validation: return QStringLiteral("validation");
    case ErrorCode::Config: return QStringLiteral("config");
    case ErrorCode::Io: return QStringLiteral("io");
    case ErrorCode::Permission: return QStringLiteral("permission");
    case ErrorCode::Timeout: return QStringLiteral("timeout");
    case ErrorCode::Network: return QStringLiteral("network");
    case ErrorCode::Tls: return QStringLiteral("tls");
    case ErrorCode::Auth: return QStringLiteral("auth");
    case ErrorCode::AccessRefused: return QStringLiteral("access-refused");
    case ErrorCode::NotFound: return QStringLiteral("not-found");
    case ErrorCode::Conflict: return QStringLiteral("conflict");
    case ErrorCode::Unroutable: return QStringLiteral("unroutable");
    case ErrorCode::Rejected: return QStringLiteral("rejected");
    case ErrorCode::Crypto: return QStringLiteral("crypto");
    case ErrorCode::Expired: return QStringLiteral("expired");
    case ErrorCode::Cancelled: return QStringLiteral("cancelled");
    case ErrorCode::Unavailable: return QStringLiteral("unavailable");
    case ErrorCode::Internal: return QStringLiteral("internal");
    }
    return QStringLiteral("unknown");
}

QString Error::toString() const
{
    return errorCodeName(code) + QStringLiteral(": ") + message;
}

Error Error::wrapped(const QString &context) const
{
    return Error(code, context + QStringLiteral(": ") + message);
}

} // namespace sparky
