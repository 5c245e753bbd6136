#include "rolemap.h"

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

QString roleName(Role role)
{
    switch (role) {
    case Role::None:
        return u"none"_s;
    case Role::Viewer:
        return u"viewer"_s;
    case Role::Operator:
        return u"operator"_s;
    case Role::Admin:
        return u"admin"_s;
    }
    return u"none"_s;
}

std::optional<Role> roleFromName(QStringView name)
{
    if (name == u"viewer")
        return Role::Viewer;
    if (name == u"operator")
        return Role::Operator;
    if (name == u"admin")
        return Role::Admin;
    return std::nullopt;
}

RoleMap RoleMap::fromConfig(const config::Node &roles)
{
    RoleMap map;
    if (!roles.isDefined())
        return map;
    if (!roles.isMap()) {
        roles.error(u"expected a map of broker user → viewer | operator | admin"_s);
        return map;
    }
    for (const QString &user : roles.keys()) {
        const config::Node entry = roles.child(user);
        const auto text = entry.toString();
        const auto role = text ? roleFromName(*text) : std::nullopt;
        if (!role) {
            entry.error(u"role must be viewer, operator or admin"_s);
            continue;
        }
        map.set(user, *role);
    }
    return map;
}

} // namespace sparky::orchestrator
