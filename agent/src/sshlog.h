#pragma once

// ssh's own messages for one borg process on an ssh:// repository. borg gets `ssh -E FILE` in
// its BORG_RSH, so why a connection failed ("connect to host … Connection refused",
// "Permission denied (publickey)", "Host key verification failed") is read from the file after
// borg exits. borg alone relays them only when it happens to read ssh's stderr before it
// notices the closed connection, and otherwise says just "Connection closed by remote host".
//
// One per borg process; the file lives under <state_dir>/ssh/ and is removed by take() or the
// destructor. Not thread-safe; any thread.

#include "agentconfig.h"

#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

namespace sparky::agent {

class SshLog final
{
public:
    SshLog() = default;
    ~SshLog();
    SshLog(const SshLog &) = delete;
    SshLog &operator=(const SshLog &) = delete;

    // For a remote repository: a fresh, empty file, and BORG_RSH in `env` writing its log there.
    // Nothing for a local one (or when the file cannot be made: ssh then logs to stderr).
    void attach(const AgentConfig &config, const RepositoryConfig &repo, QProcessEnvironment &env);
    // What ssh wrote (at most 10 lines, each at most 500 characters); removes the file.
    QStringList take();

private:
    QString m_path;
};

} // namespace sparky::agent
