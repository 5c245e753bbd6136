#pragma once

// Logging categories of the shared library, and the daemon log format.
// Each component declares its own categories next to its code (sparky.agent.*,
// sparky.orchestrator.*, sparky.admin.*); these are the ones shared/ uses.

#include <QLoggingCategory>

namespace sparky {

Q_DECLARE_LOGGING_CATEGORY(lcAmqp)     // sparky.shared.amqp
Q_DECLARE_LOGGING_CATEGORY(lcProtocol) // sparky.shared.protocol
Q_DECLARE_LOGGING_CATEGORY(lcConfig)   // sparky.shared.config
Q_DECLARE_LOGGING_CATEGORY(lcCrypto)   // sparky.shared.crypto

// Installs the message handler every daemon uses: one line per record,
//   2026-11-25T15:20:31.123Z INFO  sparky.agent.runner: message
// in UTC, to stderr (journald adds its own timestamp but keeps ours for grep across hosts).
// `debug` turns on sparky.*.debug. QT_LOGGING_RULES still applies on top.
void installLogHandler(bool debug = false);

} // namespace sparky
