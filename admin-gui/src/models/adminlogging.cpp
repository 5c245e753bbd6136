#include "adminlogging.h"

namespace sparky::admin {

Q_LOGGING_CATEGORY(lcAdmin, "sparky.admin", QtInfoMsg)
Q_LOGGING_CATEGORY(lcAdminRpc, "sparky.admin.rpc", QtInfoMsg)
Q_LOGGING_CATEGORY(lcAdminProfiles, "sparky.admin.profiles", QtInfoMsg)

} // namespace sparky::admin
