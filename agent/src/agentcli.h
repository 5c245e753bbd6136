#pragma once

class QCoreApplication;

namespace sparky::agent {

// Parses the command line of sparky-agent and runs the chosen command; returns the exit code.
int runCli(QCoreApplication &app);

} // namespace sparky::agent
