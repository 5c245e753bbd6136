#pragma once

// Expected failures are values, not exceptions: every fallible call returns Expected<T>,
// which holds either a T or an Error with a code a caller can branch on and a message an
// operator can read. Exceptions never cross the event loop.

#include <QMetaType>
#include <QString>

#include <cassert>
#include <utility>
#include <variant>

namespace sparky {

enum class ErrorCode {
    None = 0,
    InvalidArgument, // a caller passed something impossible
    Parse,           // bytes that are not what they claim (JSON, YAML, PEM)
    Validation,      // well-formed but violates the schema or a rule
    Config,          // configuration is wrong; fatal at start-up
    Io,              // a file or process could not be read/written/started
    Permission,      // a file's mode or owner is unsafe, or the OS refused
    Timeout,
    Network,         // a connection could not be made or was lost
    Tls,             // TLS handshake or certificate verification failed
    Auth,            // the peer refused our credentials
    AccessRefused,   // authenticated, but not allowed to do this
    NotFound,
    Conflict,        // already exists, locked, or busy
    Unroutable,      // a mandatory message reached no queue
    Rejected,        // the broker or a peer refused the message (nack, queue full)
    Crypto,          // signing or signature verification failed
    Expired,
    Cancelled,
    Unavailable,     // the service is down or not connected
    Internal,
};

QString errorCodeName(ErrorCode code);

struct Error
{
    ErrorCode code = ErrorCode::Internal;
    QString message;

    Error() = default;
    Error(ErrorCode c, QString m)
        : code(c)
        , message(std::move(m))
    {
    }

    // "validation: body.job: expected a string" — code name, then the message.
    QString toString() const;
    // Prepends context to the message, keeping the code: "reading agent.yaml: …".
    Error wrapped(const QString &context) const;
};

struct Unexpected
{
    Error error;
};

inline Unexpected unexpected(ErrorCode code, QString message)
{
    return Unexpected{Error(code, std::move(message))};
}
inline Unexpected unexpected(Error error)
{
    return Unexpected{std::move(error)};
}

// A small std::expected stand-in (C++23's is not available with C++20 on GCC 12).
template<typename T>
class [[nodiscard]] Expected
{
public:
    Expected(T value)
        : m_v(std::in_place_index<0>, std::move(value))
    {
    }
    Expected(Unexpected u)
        : m_v(std::in_place_index<1>, std::move(u.error))
    {
    }
    Expected(Error e)
        : m_v(std::in_place_index<1>, std::move(e))
    {
    }

    bool hasValue() const { return m_v.index() == 0; }
    explicit operator bool() const { return hasValue(); }

    T &value() &
    {
        assert(hasValue());
        return std::get<0>(m_v);
    }
    const T &value() const &
    {
        assert(hasValue());
        return std::get<0>(m_v);
    }
    T &&value() &&
    {
        assert(hasValue());
        return std::get<0>(std::move(m_v));
    }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }

    const Error &error() const
    {
        assert(!hasValue());
        return std::get<1>(m_v);
    }

    template<typename U>
    T valueOr(U &&fallback) const &
    {
        return hasValue() ? value() : static_cast<T>(std::forward<U>(fallback));
    }

private:
    std::variant<T, Error> m_v;
};

template<>
class [[nodiscard]] Expected<void>
{
public:
    Expected() = default;
    Expected(Unexpected u)
        : m_error(std::move(u.error))
        , m_ok(false)
    {
    }
    Expected(Error e)
        : m_error(std::move(e))
        , m_ok(false)
    {
    }

    bool hasValue() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    const Error &error() const
    {
        assert(!m_ok);
        return m_error;
    }

private:
    Error m_error;
    bool m_ok = true;
};

using Result = Expected<void>;

} // namespace sparky

Q_DECLARE_METATYPE(sparky::Error)
