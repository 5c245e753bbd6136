#pragma once

// Human-readable output of sparky-admin-cli: aligned tables and short summaries built from
// RPC results (docs/protocol.md). The agent's results (archives, listings, run details) are
// read defensively — a field the agent did not send is shown as "-" — so the CLI does not
// break when an agent adds or leaves out fields. `--json` bypasses all of this.
//
// Stateless.

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

namespace sparky::ctl {

class CtlFormat final
{
public:
    static QString bytes(const QJsonValue &v); // "7.0 MiB", "-" for null
    static QString duration(double seconds); // "3.2 s", "4 min 10 s", "2 h 5 min"
    static QString time(const QJsonValue &v); // "2026-11-25 02:00:04" (UTC), "-"
    // Rows (the first is the header) as columns aligned with two spaces.
    static QString table(const QList<QStringList> &rows);

    static QString fleet(const QJsonObject &summary); // fleet.summary
    static QString runs(const QJsonObject &page); // runs.query
    static QString commands(const QJsonObject &page); // commands.query
    static QString command(const QJsonObject &command); // command.get
    static QString archives(const QJsonObject &agentResult); // archives.list result
    static QString listing(const QJsonObject &agentResult); // archive.browse result
    static QString runReport(const QJsonObject &run); // run.get after it finished
    static QString progress(const QJsonObject &run); // one line for a running run
};

} // namespace sparky::ctl
