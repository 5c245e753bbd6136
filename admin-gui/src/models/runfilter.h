#pragma once

// The filters of the run history, turned into runs.query params (docs/protocol.md): empty
// fields are left out; times go as RFC 3339 UTC. A plain value.

#include "sparky/error.h"

#include <QDateTime>
#include <QJsonObject>
#include <QString>

namespace sparky::admin {

struct RunFilter
{
    QString node;
    QString job;
    QString status; // success, warning, cancelled, failed, running
    QString kind; // backup, check, drill, restore
    QDateTime since;
    QDateTime until;

    // Checks what the orchestrator would refuse, naming the field.
    Result validate() const;
    QJsonObject toParams() const;
    bool operator==(const RunFilter &) const = default;
};

} // namespace sparky::admin
