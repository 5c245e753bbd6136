#pragma once

// The repository-host side of key rotation: the borg user's authorized_keys, in which this
// agent manages one kind of line —
//
//   command="borg serve --restrict-to-path <path>[ --append-only]",restrict <type> <base64>
//   sparky:<node>
//
// (the trailing comment marks the lines it manages). Every other line, comment, blank line
// and byte (CRLF, a missing final newline) is kept exactly as it was. Each change rewrites
// the file atomically: a temporary file in the same directory, same owner, mode 0600,
// fsync, rename, fsync of the directory (0700), all under an flock on that directory so
// two agents (or an agent and a CLI) never interleave.
//
// Refused, with the reason: a key that SshPublicKey::parse refuses; a node id that is not
// valid or not in repository_host.allowed_nodes; a repository path that is not a plain
// absolute path strictly below repository_host.base_dir (symlinks of existing ancestors
// resolved); a key that already appears on another node's line or on a line this agent
// does not manage (sshd uses the first line that matches a key, so either would decide
// what the key may do); more than max_keys_per_node keys for one node; an authorized_keys
// that is a symlink or not a regular file.
//
// Synchronous (a few small file operations); call from any one thread at a time.

#include "agentconfig.h"
#include "sparky/error.h"
#include "sshpublickey.h"

#include <QJsonObject>
#include <QList>
#include <QString>

namespace sparky::agent {

class AuthorizedKeys final
{
public:
    struct Entry
    {
        QString node;
        QString repositoryPath;
        bool appendOnly = false;
        QString type;
        QString base64;
        QString fingerprint;
        int line = 0; // 1-based line number in the file
        QJsonObject toJson() const;
    };

    struct Change
    {
        bool changed = false; // false: the file already said exactly this
        int added = 0;
        int removed = 0;
        QString fingerprint; // of the key authorized (authorize)
        QString path; // the authorized_keys file
        QList<Entry> entries; // the node's managed entries after the change
        QJsonObject toJson() const;
    };

    explicit AuthorizedKeys(RepositoryHostConfig config);

    // The authorized_keys path (configured, or ~<borg_user>/.ssh/authorized_keys).
    Expected<QString> filePath() const;

    // Authorizes `publicKey` for `node`, restricted to `repositoryPath`. Idempotent: the
    // same key for the same node replaces its line in place (path or append-only changed)
    // or changes nothing.
    Expected<Change> authorize(const QString &node, const QString &publicKey,
        const QString &repositoryPath, bool appendOnly);
    // Removes the node's managed lines: all of them, or only the key with `fingerprint`
    // ("SHA256:…"). Revoking what is not there is not an error (changed = false).
    Expected<Change> revoke(const QString &node, const QString &fingerprint = {});

    // The managed entries (all nodes, or one).
    Expected<QList<Entry>> entries(const QString &node = {}) const;

    // The exact line authorize() writes (without the newline).
    static QString entryLine(const QString &node, const SshPublicKey &key,
        const QString &repositoryPath, bool appendOnly);
    // Parses a managed line; nullopt for any line this class does not manage.
    static std::optional<Entry> parseEntry(const QByteArray &line);

    Result checkNode(const QString &node) const;
    Expected<QString> checkRepositoryPath(const QString &path) const;

private:
    RepositoryHostConfig m_config;
};

} // namespace sparky::agent
