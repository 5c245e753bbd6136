#pragma once

// Allow-lists for the extra options a config may pass to borg create, pg_dump and ssh.
// Anything that could run another program, redirect output, change the repository or the
// remote command, or undo the agent's own flags is refused: --rsh, --remote-path,
// --content-from-command, --paths-from-command, --paths-from-stdin, pg_dump --file, ssh
// ProxyCommand/LocalCommand, … docs/configuration.md lists what is allowed.
//
// Options may be given as "--opt=value" or as "--opt" followed by "value" (two items).
// Stateless; thread-safe.

#include "sparky/error.h"

#include <QStringList>

namespace sparky::agent {

class OptionPolicy final
{
public:
    // Each returns success or a Validation error naming the first refused item and why.
    static Result checkBorgCreateArgs(const QStringList &args);
    static Result checkPgDumpArgs(const QStringList &args);
    // Values for ssh -o: "Name=value" with Name from the allow-list.
    static Result checkSshOptions(const QStringList &options);

    static QStringList allowedBorgCreateOptions();
    static QStringList allowedPgDumpOptions();
    static QStringList allowedSshOptions();
};

} // namespace sparky::agent
