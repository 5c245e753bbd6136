#pragma once

// Who may call which RPC method. The caller is the broker-validated AMQP user_id; its role
// comes from the `rpc.roles` map of the orchestrator's config (re-read on SIGHUP):
//
//   rpc:
//     roles:
//       sparky-operator: operator
//       alice: viewer
//       ops-admin: admin
//
// viewer < operator < admin: viewer reads (fleet, runs, nodes, commands, reports), operator
// also starts and cancels backups and pushes exports, admin may do everything. A user not
// in the map has no role and may call nothing. Plain value type.

#include "sparky/config.h"

#include <QHash>
#include <QString>
#include <optional>

namespace sparky::orchestrator {

enum class Role { None = 0, Viewer = 1, Operator = 2, Admin = 3 };

QString roleName(Role role);
std::optional<Role> roleFromName(QStringView name);

class RoleMap final
{
public:
    RoleMap() = default;
    static RoleMap fromConfig(const config::Node &roles); // the `rpc.roles` node
    void set(const QString &user, Role role) { m_roles.insert(user, role); }
    Role roleOf(const QString &user) const { return m_roles.value(user, Role::None); }
    qsizetype size() const { return m_roles.size(); }

private:
    QHash<QString, Role> m_roles;
};

} // namespace sparky::orchestrator
