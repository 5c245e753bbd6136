#include "runfilter.h"

#include "sparky/envelope.h"

namespace sparky::admin {

using namespace Qt::StringLiterals;

Result RunFilter::validate() const
{
    if (!node.isEmpty() && !isValidNodeId(node))
        return unexpected(ErrorCode::Validation, u"node: '%1' is not a valid node id"_s.arg(node));
    static const QStringList statuses { u"success"_s, u"warning"_s, u"cancelled"_s, u"failed"_s,
        u"running"_s };
    if (!status.isEmpty() && !statuses.contains(status))
        return unexpected(ErrorCode::Validation,
            u"status: '%1' is not one of %2"_s.arg(status, statuses.join(u", "_s)));
    static const QStringList kinds { u"backup"_s, u"check"_s, u"drill"_s, u"restore"_s };
    if (!kind.isEmpty() && !kinds.contains(kind))
        return unexpected(
            ErrorCode::Validation, u"kind: '%1' is not one of %2"_s.arg(kind, kinds.join(u", "_s)));
    if (since.isValid() && until.isValid() && since > until)
        return unexpected(ErrorCode::Validation, u"since: is after until"_s);
    return {};
}

QJsonObject RunFilter::toParams() const
{
    QJsonObject p;
    if (!node.isEmpty())
        p.insert(u"node"_s, node);
    if (!job.isEmpty())
        p.insert(u"job"_s, job);
    if (!status.isEmpty())
        p.insert(u"status"_s, status);
    if (!kind.isEmpty())
        p.insert(u"kind"_s, kind);
    if (since.isValid())
        p.insert(u"since"_s, formatTimestamp(since.toUTC()));
    if (until.isValid())
        p.insert(u"until"_s, formatTimestamp(until.toUTC()));
    return p;
}

} // namespace sparky::admin
