#pragma once

// key.authorize / key.revoke on a repository host, as an AgentJob so the daemon treats
// every command with a result the same way. The work (AuthorizedKeys) is a few small
// synchronous file operations done in run(), i.e. from the event loop after start().
//
// Result: AuthorizedKeys::Change::toJson() — {"changed", "added", "removed",
// "fingerprint"?, "authorized_keys", "entries": [{"node", "repository_path",
// "append_only", "type", "fingerprint", "line"}]}.

#include "agentconfig.h"
#include "agentjob.h"

namespace sparky::agent {

class KeyJob final : public AgentJob
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(KeyJob)

public:
    struct Request
    {
        bool revoke = false;
        QString node;
        QString publicKey; // authorize
        QString repositoryPath; // authorize
        bool appendOnly = false;
        QString fingerprint; // revoke: one key; empty = all of the node's keys
    };

    KeyJob(RepositoryHostConfig config, Request request, QObject *parent = nullptr);
    ~KeyJob() override;

private:
    void run() override;

    RepositoryHostConfig m_config;
    Request m_request;
};

} // namespace sparky::agent
