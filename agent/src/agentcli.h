#pragma once

// The sparky-agent command line, borgmatic-style subcommands:
//
//   sparky-agent check-config [-c FILE]     validate, print every problem with file:line
//   sparky-agent run JOB [-c FILE]          back up now in the foreground; exit 0/1/2 like borg
//   sparky-agent check JOB [-c FILE]        borg check now
//   sparky-agent list-jobs [-c FILE]        jobs and their next scheduled runs (after jitter)
//   sparky-agent archives JOB               the job's archives with borg's statistics
//   sparky-agent ls JOB ARCHIVE [PATH]      one directory of an archive, paged
//   sparky-agent restore JOB ARCHIVE [PATH…] [--to DIR] [--strip-components N]
//                        [--database DB [--create-database]]   restore, exit 0/1/2
//   sparky-agent drill JOB                  a restore drill now; exit 0/1/2
// archives/ls/restore/drill build the same command bodies the broker delivers and run them
// through AgentCommands, so the CLI exercises the daemon's code paths.
//   sparky-agent daemon / status            (agent/daemon, when built)
//
// Each command parses its own options with QCommandLineParser; addCommonOptions() gives
// them -c/--config, --conf-dir and -v/--verbose. Runs on the main thread.

#include "agentconfig.h"
#include "sparky/error.h"

#include <QStringList>

class QCoreApplication;
class QCommandLineParser;

namespace sparky::agent {

struct CliContext
{
    QCoreApplication *app = nullptr;
    QString command; // e.g. "run"
    QStringList arguments; // "sparky-agent <command>" followed by the command's arguments
};

using CliHandler = int (*)(const CliContext &context);

struct CliCommand
{
    const char *name;
    const char *summary;
    CliHandler run;
};

// Parses the command line of sparky-agent and runs the chosen command; returns the exit code.
int runCli(QCoreApplication &app);

// -c/--config FILE (default /etc/sparky/agent.yaml), --conf-dir DIR, -v/--verbose.
void addCommonOptions(QCommandLineParser &parser);
// Loads the config named by the common options; on failure prints every problem to stderr.
Expected<AgentConfig> loadConfigFromOptions(const QCommandLineParser &parser);

} // namespace sparky::agent
