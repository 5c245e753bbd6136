#include "optionpolicy.h"

#include <QHash>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

enum class Arity { Flag, Value };

struct Spec
{
    const char *name;
    Arity arity;
};

// borg 1.2 `create` options that change what is read or how it is stored, nothing else.
constexpr Spec kBorgCreate[] = {
    { "--exclude-caches", Arity::Flag },
    { "--exclude-if-present", Arity::Value },
    { "--keep-exclude-tags", Arity::Flag },
    { "--exclude-nodump", Arity::Flag },
    { "--exclude-from", Arity::Value },
    { "--pattern", Arity::Value },
    { "--patterns-from", Arity::Value },
    { "--one-file-system", Arity::Flag },
    { "-x", Arity::Flag },
    { "--numeric-ids", Arity::Flag },
    { "--noatime", Arity::Flag },
    { "--noctime", Arity::Flag },
    { "--nobirthtime", Arity::Flag },
    { "--noflags", Arity::Flag },
    { "--nobsdflags", Arity::Flag },
    { "--noacls", Arity::Flag },
    { "--noxattrs", Arity::Flag },
    { "--sparse", Arity::Flag },
    { "--files-cache", Arity::Value },
    { "--checkpoint-interval", Arity::Value },
    { "--chunker-params", Arity::Value },
    { "--comment", Arity::Value },
    { "--timestamp", Arity::Value },
    { "--upload-ratelimit", Arity::Value },
    { "--upload-buffer", Arity::Value },
    { "--remote-ratelimit", Arity::Value },
};

// pg_dump options that select or shape the dump; connection, output and format are ours.
constexpr Spec kPgDump[] = {
    { "--schema", Arity::Value },
    { "-n", Arity::Value },
    { "--exclude-schema", Arity::Value },
    { "-N", Arity::Value },
    { "--table", Arity::Value },
    { "-t", Arity::Value },
    { "--exclude-table", Arity::Value },
    { "-T", Arity::Value },
    { "--exclude-table-data", Arity::Value },
    { "--extension", Arity::Value },
    { "-e", Arity::Value },
    { "--no-owner", Arity::Flag },
    { "-O", Arity::Flag },
    { "--no-privileges", Arity::Flag },
    { "-x", Arity::Flag },
    { "--no-comments", Arity::Flag },
    { "--compress", Arity::Value },
    { "-Z", Arity::Value },
    { "--encoding", Arity::Value },
    { "-E", Arity::Value },
    { "--schema-only", Arity::Flag },
    { "-s", Arity::Flag },
    { "--data-only", Arity::Flag },
    { "-a", Arity::Flag },
    { "--blobs", Arity::Flag },
    { "-b", Arity::Flag },
    { "--no-blobs", Arity::Flag },
    { "-B", Arity::Flag },
    { "--clean", Arity::Flag },
    { "-c", Arity::Flag },
    { "--if-exists", Arity::Flag },
    { "--create", Arity::Flag },
    { "-C", Arity::Flag },
    { "--lock-wait-timeout", Arity::Value },
    { "--no-publications", Arity::Flag },
    { "--no-subscriptions", Arity::Flag },
    { "--no-tablespaces", Arity::Flag },
    { "--no-unlogged-table-data", Arity::Flag },
    { "--no-security-labels", Arity::Flag },
    { "--no-toast-compression", Arity::Flag },
    { "--quote-all-identifiers", Arity::Flag },
    { "--serializable-deferrable", Arity::Flag },
    { "--snapshot", Arity::Value },
    { "--strict-names", Arity::Flag },
    { "--section", Arity::Value },
    { "--role", Arity::Value },
    { "--inserts", Arity::Flag },
    { "--column-inserts", Arity::Flag },
    { "--attribute-inserts", Arity::Flag },
    { "--rows-per-insert", Arity::Value },
    { "--on-conflict-do-nothing", Arity::Flag },
    { "--disable-triggers", Arity::Flag },
    { "--enable-row-security", Arity::Flag },
    { "--load-via-partition-root", Arity::Flag },
    { "--use-set-session-authorization", Arity::Flag },
    { "--no-sync", Arity::Flag },
};

// ssh -o options that tune the connection; nothing that runs a command or forwards.
constexpr const char *kSsh[] = {
    "StrictHostKeyChecking",
    "UserKnownHostsFile",
    "GlobalKnownHostsFile",
    "ConnectTimeout",
    "ConnectionAttempts",
    "ServerAliveInterval",
    "ServerAliveCountMax",
    "Port",
    "IdentitiesOnly",
    "Compression",
    "HostKeyAlias",
    "CheckHostIP",
    "IPQoS",
    "AddressFamily",
    "Ciphers",
    "KexAlgorithms",
    "MACs",
    "HostKeyAlgorithms",
    "PubkeyAcceptedAlgorithms",
    "LogLevel",
    "UpdateHostKeys",
    "BindAddress",
    "HashKnownHosts",
    "TCPKeepAlive",
    "VerifyHostKeyDNS",
    "RekeyLimit",
};

template<size_t N>
Result checkArgs(const QStringList &args, const Spec (&specs)[N], QLatin1StringView program)
{
    QHash<QString, Arity> allowed;
    for (const Spec &s : specs)
        allowed.insert(QString::fromLatin1(s.name), s.arity);
    for (qsizetype i = 0; i < args.size(); ++i) {
        const QString &arg = args.at(i);
        if (!arg.startsWith(u'-'))
            return unexpected(ErrorCode::Validation,
                u"'%1' is not an option (paths and values only after an allowed "
                "option)"_s.arg(arg));
        const qsizetype eq = arg.indexOf(u'=');
        const QString name = arg.startsWith("--"_L1) && eq > 0 ? arg.left(eq) : arg;
        const auto it = allowed.constFind(name);
        if (it == allowed.constEnd())
            return unexpected(ErrorCode::Validation,
                u"option '%1' is not allowed for %2 (see the allow-list in "
                "docs/configuration.md)"_s.arg(name, program));
        if (*it == Arity::Flag) {
            if (name != arg)
                return unexpected(ErrorCode::Validation, u"option '%1' takes no value"_s.arg(name));
            continue;
        }
        if (name != arg)
            continue; // --opt=value
        if (i + 1 >= args.size())
            return unexpected(ErrorCode::Validation, u"option '%1' needs a value"_s.arg(name));
        ++i; // the value, taken as a value whatever it looks like
    }
    return {};
}

template<size_t N> QStringList names(const Spec (&specs)[N])
{
    QStringList out;
    for (const Spec &s : specs)
        out.append(
            QString::fromLatin1(s.name) + (s.arity == Arity::Value ? u" VALUE"_s : QString()));
    return out;
}

} // namespace

Result OptionPolicy::checkBorgCreateArgs(const QStringList &args)
{
    return checkArgs(args, kBorgCreate, "borg create"_L1);
}

Result OptionPolicy::checkPgDumpArgs(const QStringList &args)
{
    return checkArgs(args, kPgDump, "pg_dump"_L1);
}

Result OptionPolicy::checkSshOptions(const QStringList &options)
{
    for (const QString &o : options) {
        const qsizetype eq = o.indexOf(u'=');
        const QString name = eq > 0 ? o.left(eq).trimmed() : QString();
        bool ok = false;
        for (const char *a : kSsh)
            ok = ok || name.compare(QLatin1StringView(a), Qt::CaseInsensitive) == 0;
        if (!ok)
            return unexpected(ErrorCode::Validation,
                u"ssh option '%1' is not allowed (expected Name=value with Name one "
                "of: %2)"_s.arg(o, allowedSshOptions().join(u", "_s)));
        if (o.contains(u'\n') || o.contains(u'\0'))
            return unexpected(
                ErrorCode::Validation, u"ssh option '%1' contains a line break"_s.arg(o));
    }
    return {};
}

QStringList OptionPolicy::allowedBorgCreateOptions()
{
    return names(kBorgCreate);
}

QStringList OptionPolicy::allowedPgDumpOptions()
{
    return names(kPgDump);
}

QStringList OptionPolicy::allowedSshOptions()
{
    QStringList out;
    for (const char *a : kSsh)
        out.append(QString::fromLatin1(a));
    return out;
}

} // namespace sparky::agent
