#pragma once

// Logging categories of the admin console (sparky.admin.*). Secrets never reach them.

#include <QLoggingCategory>

namespace sparky::admin {

Q_DECLARE_LOGGING_CATEGORY(lcAdmin) // sparky.admin
Q_DECLARE_LOGGING_CATEGORY(lcAdminRpc) // sparky.admin.rpc
Q_DECLARE_LOGGING_CATEGORY(lcAdminProfiles) // sparky.admin.profiles

} // namespace sparky::admin
