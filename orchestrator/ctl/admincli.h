#pragma once

// sparky-admin-cli: the orchestrator's RPC from a terminal (docs/operations.md).
//
//   sparky-admin-cli [-c FILE] [--json] [--timeout 30s] COMMAND …
//     status [--node N]                       fleet at a glance
//     runs [--node N] [--job J] [--status S] [--kind K] [--limit N] [--cursor C]
//     run NODE JOB [--wait]                   backup now; --wait follows it, exit 0/1/2
//     archives NODE JOB [--last N] [--no-stats]
//     ls NODE JOB ARCHIVE [PATH] [--page N | --cursor C] [--page-size N]
//     restore NODE JOB ARCHIVE [PATH…] [--to DIR] [--strip-components N]
//             [--database DB [--create-database]] [--wait]
//     drill NODE JOB [--wait]
//     commands [--node N] [--state S] [--limit N] [--cursor C]
//     command ID                              one command (and its run)
//     cancel NODE RUN
//     ping NODE
//
// Exit codes: 0 ok (a followed run succeeded); 1 the followed run ended with a warning;
// 2 failure — the run failed or was cancelled, the call was refused (node offline, not
// allowed, agent refused, timeout …), or bad usage. Messages go to stderr and name what
// failed; results to stdout (`--json`: the RPC result as JSON, errors as {"ok":false,…}).
//
// Links only sparky_rpcclient and sparky::core, never the orchestrator's internals.

#include <QCoreApplication>

namespace sparky::ctl {

int runAdminCli(QCoreApplication &app);

} // namespace sparky::ctl
