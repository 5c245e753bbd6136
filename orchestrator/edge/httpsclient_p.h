#pragma once

// Private helpers shared by the HTTPS clients of the edge (Exioma export, RabbitMQ
// management): the TLS configuration (system CAs plus an optional extra CA, peer
// verification always on) and the mapping of a finished QNetworkReply to an Error.

#include "sparky/error.h"

#include <QList>
#include <QSslConfiguration>
#include <QSslError>
#include <QString>

class QNetworkReply;

namespace sparky::orchestrator::detail {

// The system CA store plus every certificate in `caFile` (PEM; empty = none), peer
// verification on, TLS 1.2 or later. A named but unreadable or empty CA file is an error:
// silently falling back to the system store would hide a configuration mistake.
Expected<QSslConfiguration> clientTlsConfiguration(const QString &caFile);

// Error for a reply that finished without an HTTP status (connection refused, TLS
// verification, timeout…). `sslErrors` are those reported by QNetworkReply::sslErrors.
// `what` names the peer ("Exioma console https://…").
Error transportError(const QNetworkReply &reply, const QList<QSslError> &sslErrors,
    const QString &what, bool timedOut);

// A short, single-line excerpt of a response body for error messages (never a secret:
// callers pass only what a server sent back).
QString bodyExcerpt(const QByteArray &body, qsizetype max = 300);

} // namespace sparky::orchestrator::detail
