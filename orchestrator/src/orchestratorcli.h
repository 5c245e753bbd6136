#pragma once

class QCoreApplication;

namespace sparky::orchestrator {

// Parses the command line of sparky-orchestrator and runs the chosen command; returns the
// exit code (docs/orchestrator.md "Command line"):
//
//   sparky-orchestrator daemon [-c FILE]
//   sparky-orchestrator check-config [-c FILE]
//   sparky-orchestrator migrate [-c FILE]
//   sparky-orchestrator keygen --out FILE [--force]
//   sparky-orchestrator report [-c FILE] [--format table|json|csv] [--since TIME|DURATION]
//                              [--node NODE] [--out FILE]
//   sparky-orchestrator node add|remove|rotate-token NODE [-c FILE] [--token-file FILE]
int runCli(QCoreApplication &app);

} // namespace sparky::orchestrator
