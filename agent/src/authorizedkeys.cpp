#include "authorizedkeys.h"

#include "restoretarget.h"
#include "sparky/envelope.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sparky::agent {

using namespace Qt::StringLiterals;

Q_LOGGING_CATEGORY(lcKeys, "sparky.agent.keys")

namespace {

constexpr qsizetype kMaxFileBytes = 4 * 1024 * 1024;

QString sysError()
{
    return QString::fromLocal8Bit(strerror(errno));
}

// An open descriptor closed (and unlocked) on every path out.
struct Fd
{
    int fd = -1;
    explicit Fd(int f)
        : fd(f)
    { }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    ~Fd()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

struct Owner
{
    uid_t uid = 0;
    gid_t gid = 0;
    QString home;
};

Expected<Owner> lookupUser(const QString &user)
{
    errno = 0;
    const struct passwd *pw = ::getpwnam(user.toLocal8Bit().constData());
    if (!pw)
        return unexpected(
            ErrorCode::NotFound, u"the borg user '%1' does not exist on this host"_s.arg(user));
    return Owner { pw->pw_uid, pw->pw_gid, QFile::decodeName(pw->pw_dir) };
}

// One line of the file with its terminator (if it had one), kept as raw bytes.
struct Line
{
    QByteArray text;
    bool newline = true;
};

QList<Line> splitLines(const QByteArray &content)
{
    QList<Line> out;
    qsizetype at = 0;
    while (at < content.size()) {
        const qsizetype nl = content.indexOf('\n', at);
        if (nl < 0) {
            out.append(Line { content.mid(at), false });
            break;
        }
        out.append(Line { content.mid(at, nl - at), true });
        at = nl + 1;
    }
    return out;
}

QByteArray joinLines(const QList<Line> &lines)
{
    QByteArray out;
    for (const Line &l : lines) {
        out += l.text;
        if (l.newline)
            out += '\n';
    }
    return out;
}

bool lineMentionsKey(const QByteArray &line, const QByteArray &base64)
{
    // The key is a whitespace-separated token of the line (wherever options put it).
    qsizetype at = 0;
    while ((at = line.indexOf(base64, at)) >= 0) {
        const bool startOk = at == 0 || line.at(at - 1) == ' ' || line.at(at - 1) == '\t';
        const qsizetype end = at + base64.size();
        const bool endOk = end == line.size() || line.at(end) == ' ' || line.at(end) == '\t'
            || line.at(end) == '\r';
        if (startOk && endOk)
            return true;
        at = end;
    }
    return false;
}

// Read-modify-write of the file under an flock of its directory.
class KeysFile
{
public:
    explicit KeysFile(QString path)
        : m_path(std::move(path))
    { }

    Result open(const Owner &owner)
    {
        const QFileInfo fi(m_path);
        m_dir = fi.absolutePath();
        m_name = fi.fileName();
        const QByteArray dir = QFile::encodeName(m_dir);
        struct stat st;
        if (::lstat(dir.constData(), &st) != 0) {
            if (errno != ENOENT)
                return unexpected(ErrorCode::Io, u"cannot inspect %1: %2"_s.arg(m_dir, sysError()));
            if (::mkdir(dir.constData(), 0700) != 0)
                return unexpected(ErrorCode::Io,
                    u"cannot create %1: %2 (does the borg user's home directory exist?)"_s.arg(
                        m_dir, sysError()));
            if (::geteuid() == 0 && ::chown(dir.constData(), owner.uid, owner.gid) != 0)
                return unexpected(
                    ErrorCode::Permission, u"cannot chown %1: %2"_s.arg(m_dir, sysError()));
        } else if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
            return unexpected(ErrorCode::Permission,
                u"%1 is not a plain directory (a symlink?); refusing to write keys there"_s.arg(
                    m_dir));
        }
        m_dirFd = std::make_unique<Fd>(
            ::open(dir.constData(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (m_dirFd->fd < 0)
            return unexpected(ErrorCode::Io, u"cannot open %1: %2"_s.arg(m_dir, sysError()));
        if (::fchmod(m_dirFd->fd, 0700) != 0)
            return unexpected(
                ErrorCode::Permission, u"cannot set %1 to mode 0700: %2"_s.arg(m_dir, sysError()));
        if (::flock(m_dirFd->fd, LOCK_EX) != 0)
            return unexpected(ErrorCode::Io, u"cannot lock %1: %2"_s.arg(m_dir, sysError()));

        const QByteArray name = QFile::encodeName(m_name);
        Fd fd(::openat(m_dirFd->fd, name.constData(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        m_uid = owner.uid;
        m_gid = owner.gid;
        if (fd.fd < 0) {
            if (errno == ELOOP)
                return unexpected(ErrorCode::Permission,
                    u"%1 is a symlink; refusing to rewrite it"_s.arg(m_path));
            if (errno != ENOENT)
                return unexpected(ErrorCode::Io, u"cannot open %1: %2"_s.arg(m_path, sysError()));
            m_exists = false;
            return {};
        }
        m_exists = true;
        if (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode))
            return unexpected(
                ErrorCode::Permission, u"%1 is not a regular file; refusing"_s.arg(m_path));
        m_uid = st.st_uid;
        m_gid = st.st_gid;
        if (st.st_size > kMaxFileBytes)
            return unexpected(ErrorCode::Io, u"%1 is larger than 4 MiB; refusing"_s.arg(m_path));
        QByteArray buf(qsizetype(st.st_size) + 1, Qt::Uninitialized);
        qsizetype got = 0;
        while (true) {
            if (got == buf.size())
                buf.resize(buf.size() * 2);
            const ssize_t n = ::read(fd.fd, buf.data() + got, size_t(buf.size() - got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return unexpected(ErrorCode::Io, u"cannot read %1: %2"_s.arg(m_path, sysError()));
            if (n == 0)
                break;
            got += n;
            if (got > kMaxFileBytes)
                return unexpected(
                    ErrorCode::Io, u"%1 is larger than 4 MiB; refusing"_s.arg(m_path));
        }
        buf.truncate(got);
        m_content = buf;
        return {};
    }

    const QByteArray &content() const { return m_content; }
    bool exists() const { return m_exists; }

    Result write(const QByteArray &data)
    {
        const QByteArray tmpName = QFile::encodeName(u".%1.sparky-%2"_s.arg(m_name).arg(
            QRandomGenerator::global()->generate64(), 16, 16, QChar(u'0')));
        Fd fd(::openat(m_dirFd->fd, tmpName.constData(),
            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (fd.fd < 0)
            return unexpected(ErrorCode::Io,
                u"cannot create a temporary file in %1: %2"_s.arg(m_dir, sysError()));
        auto fail = [&](const QString &what) -> Result {
            const QString why = sysError();
            ::unlinkat(m_dirFd->fd, tmpName.constData(), 0);
            return unexpected(ErrorCode::Io, u"%1 (%2): %3"_s.arg(what, m_path, why));
        };
        if ((m_uid != ::geteuid() || m_gid != ::getegid()) && ::fchown(fd.fd, m_uid, m_gid) != 0)
            return fail(u"cannot keep the owner of authorized_keys"_s);
        if (::fchmod(fd.fd, 0600) != 0)
            return fail(u"cannot set mode 0600"_s);
        qsizetype done = 0;
        while (done < data.size()) {
            const ssize_t n = ::write(fd.fd, data.constData() + done, size_t(data.size() - done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return fail(u"cannot write the new authorized_keys"_s);
            done += n;
        }
        if (::fsync(fd.fd) != 0)
            return fail(u"cannot fsync the new authorized_keys"_s);
        if (::close(fd.fd) != 0) {
            fd.fd = -1;
            return fail(u"cannot close the new authorized_keys"_s);
        }
        fd.fd = -1;
        if (::renameat(m_dirFd->fd, tmpName.constData(), m_dirFd->fd,
                QFile::encodeName(m_name).constData())
            != 0)
            return fail(u"cannot replace authorized_keys"_s);
        if (::fsync(m_dirFd->fd) != 0)
            return unexpected(ErrorCode::Io, u"cannot fsync %1: %2"_s.arg(m_dir, sysError()));
        return {};
    }

private:
    QString m_path, m_dir, m_name;
    std::unique_ptr<Fd> m_dirFd; // locked while this object lives
    QByteArray m_content;
    uid_t m_uid = 0;
    gid_t m_gid = 0;
    bool m_exists = false;
};

const QRegularExpression &entryRegex()
{
    static const QRegularExpression re(
        u"^command=\"borg serve --restrict-to-path (/[A-Za-z0-9._/+@-]+)( --append-only)?\","
        "restrict (ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa)"
        " ([A-Za-z0-9+/]+={0,2}) sparky:([a-z0-9][a-z0-9-]{0,62})$"_s);
    return re;
}

} // namespace

QJsonObject AuthorizedKeys::Entry::toJson() const
{
    return { { u"node"_s, node }, { u"repository_path"_s, repositoryPath },
        { u"append_only"_s, appendOnly }, { u"type"_s, type }, { u"fingerprint"_s, fingerprint },
        { u"line"_s, line } };
}

QJsonObject AuthorizedKeys::Change::toJson() const
{
    QJsonArray list;
    for (const Entry &e : entries)
        list.append(e.toJson());
    QJsonObject o { { u"changed"_s, changed }, { u"added"_s, added }, { u"removed"_s, removed },
        { u"authorized_keys"_s, path }, { u"entries"_s, list } };
    if (!fingerprint.isEmpty())
        o.insert(u"fingerprint"_s, fingerprint);
    return o;
}

AuthorizedKeys::AuthorizedKeys(RepositoryHostConfig config)
    : m_config(std::move(config))
{ }

Expected<QString> AuthorizedKeys::filePath() const
{
    if (!m_config.authorizedKeys.isEmpty())
        return m_config.authorizedKeys;
    auto owner = lookupUser(m_config.borgUser);
    if (!owner)
        return owner.error();
    return QDir(owner->home).filePath(u".ssh/authorized_keys"_s);
}

QString AuthorizedKeys::entryLine(
    const QString &node, const SshPublicKey &key, const QString &repositoryPath, bool appendOnly)
{
    return u"command=\"borg serve --restrict-to-path %1%2\",restrict %3 %4 sparky:%5"_s.arg(
        repositoryPath, appendOnly ? u" --append-only"_s : QString(), key.type, key.base64(), node);
}

std::optional<AuthorizedKeys::Entry> AuthorizedKeys::parseEntry(const QByteArray &line)
{
    if (!line.startsWith("command=\"borg serve ") || !line.contains(" sparky:"))
        return std::nullopt;
    const auto m = entryRegex().match(QString::fromLatin1(line));
    if (!m.hasMatch())
        return std::nullopt;
    Entry e;
    e.repositoryPath = m.captured(1);
    e.appendOnly = !m.captured(2).isEmpty();
    e.type = m.captured(3);
    e.base64 = m.captured(4);
    e.node = m.captured(5);
    const QByteArray blob = QByteArray::fromBase64(e.base64.toLatin1());
    SshPublicKey k;
    k.blob = blob;
    e.fingerprint = k.fingerprint();
    return e;
}

Result AuthorizedKeys::checkNode(const QString &node) const
{
    if (!isValidNodeId(node))
        return unexpected(
            ErrorCode::Validation, u"'%1' is not a valid node id"_s.arg(node.left(80)));
    if (!m_config.allowedNodes.isEmpty() && !m_config.allowedNodes.contains(node))
        return unexpected(ErrorCode::AccessRefused,
            u"node '%1' is not in repository_host.allowed_nodes of this repository host"_s.arg(
                node));
    return {};
}

Expected<QString> AuthorizedKeys::checkRepositoryPath(const QString &path) const
{
    static const QRegularExpression re(u"^/[A-Za-z0-9._/+@-]+$"_s);
    if (!re.match(path).hasMatch())
        return unexpected(ErrorCode::Validation,
            u"repository path '%1' must be an absolute path of letters, digits and ._/+@-"_s.arg(
                path.left(200)));
    for (const QString &part : path.split(u'/', Qt::SkipEmptyParts))
        if (part == "."_L1 || part == ".."_L1)
            return unexpected(
                ErrorCode::Validation, u"repository path '%1' contains '%2'"_s.arg(path, part));
    const QString clean = QDir::cleanPath(path);
    const QString base = RestoreTarget::resolve(QDir::cleanPath(m_config.baseDir));
    const QString resolved = RestoreTarget::resolve(clean);
    if (base.isEmpty() || resolved.isEmpty() || resolved == base
        || !RestoreTarget::isUnder(resolved, base))
        return unexpected(ErrorCode::AccessRefused,
            u"repository path %1 is not below the repository base directory %2"_s.arg(
                clean, m_config.baseDir));
    return clean;
}

Expected<AuthorizedKeys::Change> AuthorizedKeys::authorize(
    const QString &node, const QString &publicKey, const QString &repositoryPath, bool appendOnly)
{
    if (auto r = checkNode(node); !r)
        return r.error();
    auto key = SshPublicKey::parse(publicKey);
    if (!key)
        return key.error();
    auto repo = checkRepositoryPath(repositoryPath);
    if (!repo)
        return repo.error();
    auto path = filePath();
    if (!path)
        return path.error();
    auto owner = lookupUser(m_config.borgUser);
    if (!owner)
        return owner.error();

    KeysFile file(*path);
    if (auto r = file.open(*owner); !r)
        return r.error();
    QList<Line> lines = splitLines(file.content());
    const QByteArray wanted = entryLine(node, *key, *repo, appendOnly).toLatin1();
    const QByteArray base64 = key->base64().toLatin1();

    Change change;
    change.path = *path;
    change.fingerprint = key->fingerprint();
    bool placed = false;
    int nodeKeys = 0;
    for (qsizetype i = 0; i < lines.size(); ++i) {
        const auto entry = parseEntry(lines.at(i).text);
        if (!entry) {
            if (!lines.at(i).text.trimmed().startsWith('#')
                && lineMentionsKey(lines.at(i).text, base64))
                return unexpected(ErrorCode::Conflict,
                    u"the key %1 already appears on line %2 of %3, which this agent does not "
                    "manage; remove it there first"_s.arg(change.fingerprint)
                        .arg(i + 1)
                        .arg(*path));
            continue;
        }
        if (entry->base64.toLatin1() != base64) {
            nodeKeys += entry->node == node ? 1 : 0;
            continue;
        }
        if (entry->node != node)
            return unexpected(ErrorCode::Conflict,
                u"the key %1 is already authorized for node '%2'; one key cannot serve two "
                "nodes"_s.arg(change.fingerprint, entry->node));
        if (placed) { // a duplicate of the line just handled
            lines.removeAt(i--);
            ++change.removed;
            change.changed = true;
            continue;
        }
        placed = true;
        if (lines.at(i).text != wanted) {
            lines[i].text = wanted;
            change.changed = true;
            ++change.added;
            ++change.removed;
        }
    }
    if (!placed) {
        if (nodeKeys >= m_config.maxKeysPerNode)
            return unexpected(ErrorCode::Conflict,
                u"node '%1' already has %2 keys here (repository_host.max_keys_per_node); "
                "revoke an old one first"_s.arg(node)
                    .arg(nodeKeys));
        if (!lines.isEmpty() && !lines.last().newline)
            lines.last().newline = true;
        lines.append(Line { wanted, true });
        change.changed = true;
        ++change.added;
    }
    if (change.changed || !file.exists()) {
        if (auto r = file.write(joinLines(lines)); !r)
            return r.error();
        qCInfo(lcKeys).noquote() << "authorized key" << change.fingerprint << "of node" << node
                                 << "for" << *repo << (appendOnly ? "(append-only)" : "") << "in"
                                 << *path;
    }
    for (qsizetype i = 0; i < lines.size(); ++i)
        if (auto e = parseEntry(lines.at(i).text); e && e->node == node) {
            e->line = int(i + 1);
            change.entries.append(*e);
        }
    return change;
}

Expected<AuthorizedKeys::Change> AuthorizedKeys::revoke(
    const QString &node, const QString &fingerprint)
{
    if (!isValidNodeId(node))
        return unexpected(
            ErrorCode::Validation, u"'%1' is not a valid node id"_s.arg(node.left(80)));
    static const QRegularExpression fpRe(u"^SHA256:[A-Za-z0-9+/]{43}$"_s);
    if (!fingerprint.isEmpty() && !fpRe.match(fingerprint).hasMatch())
        return unexpected(ErrorCode::Validation,
            u"'%1' is not a key fingerprint (SHA256:<43 base64 characters>)"_s.arg(
                fingerprint.left(80)));
    auto path = filePath();
    if (!path)
        return path.error();
    auto owner = lookupUser(m_config.borgUser);
    if (!owner)
        return owner.error();
    Change change;
    change.path = *path;
    change.fingerprint = fingerprint;
    KeysFile file(*path);
    if (auto r = file.open(*owner); !r)
        return r.error();
    if (!file.exists())
        return change;
    QList<Line> lines = splitLines(file.content());
    for (qsizetype i = 0; i < lines.size(); ++i) {
        const auto e = parseEntry(lines.at(i).text);
        if (e && e->node == node && (fingerprint.isEmpty() || e->fingerprint == fingerprint)) {
            lines.removeAt(i--);
            ++change.removed;
        }
    }
    if (change.removed > 0) {
        change.changed = true;
        if (auto r = file.write(joinLines(lines)); !r)
            return r.error();
        qCInfo(lcKeys).noquote() << "revoked" << change.removed << "key(s) of node" << node
                                 << (fingerprint.isEmpty() ? u"(all)"_s : fingerprint) << "in"
                                 << *path;
    }
    for (qsizetype i = 0; i < lines.size(); ++i)
        if (auto e = parseEntry(lines.at(i).text); e && e->node == node) {
            e->line = int(i + 1);
            change.entries.append(*e);
        }
    return change;
}

Expected<QList<AuthorizedKeys::Entry>> AuthorizedKeys::entries(const QString &node) const
{
    auto path = filePath();
    if (!path)
        return path.error();
    QFile f(*path);
    if (!f.exists())
        return QList<Entry>();
    if (QFileInfo(*path).isSymLink())
        return unexpected(ErrorCode::Permission, u"%1 is a symlink; refusing"_s.arg(*path));
    if (!f.open(QIODevice::ReadOnly))
        return unexpected(ErrorCode::Io, u"cannot read %1: %2"_s.arg(*path, f.errorString()));
    const QList<Line> lines = splitLines(f.read(kMaxFileBytes));
    QList<Entry> out;
    for (qsizetype i = 0; i < lines.size(); ++i)
        if (auto e = parseEntry(lines.at(i).text); e && (node.isEmpty() || e->node == node)) {
            e->line = int(i + 1);
            out.append(*e);
        }
    return out;
}

} // namespace sparky::agent
