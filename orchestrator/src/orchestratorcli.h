#pragma once

class QCoreApplication;

namespace sparky::orchestrator {

// Parses the command line of sparky-orchestrator and runs the chosen command; returns the exit code.
int runCli(QCoreApplication &app);

} // namespace sparky::orchestrator
