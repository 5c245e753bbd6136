#pragma once

// Status codes as the operator sees them: severity order (the worst wins, docs/protocol.md:
// success < unknown < warning < cancelled < failed; a running run sits with unknown) and
// the colour of each. Command states map onto the same scale. Stateless helpers.

#include <QColor>
#include <QString>

namespace sparky::admin {

class StatusStyle final
{
public:
    StatusStyle() = delete;

    static int severity(const QString &status); // 0 success … 4 failed; -1 for none
    static QString worst(const QString &a, const QString &b);
    // Run status or report status (success, unknown, warning, cancelled, failed, running) or
    // command state (pending … succeeded, failed, rejected, expired).
    static QColor background(const QString &status);
    static QColor foreground(const QString &status);
    static QColor staleBackground(); // an RPO breach
    static QColor offlineForeground();
    // "Success", "Failed", … for display.
    static QString label(const QString &status);
};

} // namespace sparky::admin
