#pragma once

// The command-facing API of the runner for the daemon's command handler (and the CLI, which
// goes through the same code): given the config, a command type and its JSON body —
//
//   archives.list    {"job", "stats"?: bool = true, "last"?: 1…10000}
//   archive.browse   {"job", "archive", "path"?: "" , "page_size"?: 1…1000 = 200,
//                     "cursor"?: string | "page"?: 0…}
//   restore.extract  {"job", "archive", "paths"?: [string] (≤ 1000; none = everything),
//                     "target"?: absolute dir, "strip_components"?: 0…64,
//                     "database"?: name, "create_database"?: bool = false}
//   drill.run        {"job"}
//   key.authorize    {"node", "public_key", "repository_path", "append_only"?: bool = false}
//   key.revoke       {"node", "fingerprint"?: "SHA256:…"}
//
// — validate() checks the body strictly (unknown fields, types, ranges, the job exists, the
// archive path is a plain path, the restore target is allowed by this node's restore roots,
// this node is a repository host); its errors name the field ("body.paths[2]: …"). Then:
//
//   * createJob() for archives.list, archive.browse, key.authorize, key.revoke: an AgentJob
//     (not started) whose finished() carries the result object (see each job's header);
//   * runRequest() for restore.extract and drill.run: the RunRequest to start a
//     RunExecutor with (kind Restore / Drill; trigger "command"; the command id), whose
//     run.started / run.progress / run.finished are reported like a backup's.
//
// Stateless; call from the thread that will own the job.

#include "agentconfig.h"
#include "agentjob.h"
#include "runexecutor.h"
#include "sparky/error.h"

#include <QJsonObject>
#include <QStringList>
#include <memory>

namespace sparky::agent {

class AgentCommands final
{
public:
    static QStringList types();
    static bool isRunCommand(const QString &type); // restore.extract, drill.run
    static bool isJobCommand(const QString &type); // the other four

    // `commandId` names the default restore target (<first root>/<command id>), which is
    // checked too.
    static Result validate(const AgentConfig &config, const QString &type, const QJsonObject &body,
        const QString &commandId = {});

    // The caller owns the job (it has no QObject parent).
    static Expected<std::unique_ptr<AgentJob>> createJob(
        const AgentConfig &config, const QString &type, const QJsonObject &body);

    static Expected<RunRequest> runRequest(const AgentConfig &config, const QString &type,
        const QJsonObject &body, const QString &commandId,
        const QString &trigger = QStringLiteral("command"));
};

} // namespace sparky::agent
