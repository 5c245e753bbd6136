// The repository-host role: SshPublicKey's strict parsing (data table, keys made by the
// real ssh-keygen) and AuthorizedKeys rewriting a real authorized_keys file — lines it does
// not manage kept byte for byte, idempotent authorize, revoke of one key or one node only,
// smuggled options and weak keys refused, repository paths outside the base refused, owner
// and mode kept (0600 file, 0700 directory), and ssh-keygen itself reading what was written.
// (sshd enforcing the forced command is the e2e harness's part.)
#include "agentcommands.h"
#include "agentconfig.h"
#include "agentjob.h"
#include "authorizedkeys.h"
#include "sparky/protocol.h"
#include "sshpublickey.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <sys/stat.h>
#include <unistd.h>

using namespace sparky;
using namespace sparky::agent;
using namespace Qt::StringLiterals;

class TestAuthorizedKeys : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QHash<QString, QString> m_keys; // name → "type base64 comment" from ssh-keygen

    QString path(const QString &p) const { return m_dir.filePath(p); }

    QString makeKey(const QString &name, const QStringList &args)
    {
        QProcess p;
        p.start(u"ssh-keygen"_s,
            QStringList { u"-q"_s, u"-N"_s, u""_s, u"-C"_s, name + u"@client"_s, u"-f"_s,
                path(u"keys/"_s + name) }
                + args);
        if (!p.waitForFinished(60000) || p.exitCode() != 0)
            qFatal("ssh-keygen %s failed: %s", qPrintable(args.join(u' ')),
                p.readAllStandardError().constData());
        QFile f(path(u"keys/"_s + name + u".pub"_s));
        f.open(QIODevice::ReadOnly);
        return QString::fromLatin1(f.readAll().trimmed());
    }

    static QString typeAndKey(const QString &pub) { return pub.section(u' ', 0, 1); }

    RepositoryHostConfig hostConfig(const QString &file, const QStringList &allowed = {}) const
    {
        RepositoryHostConfig c;
        c.borgUser = u"nobody"_s;
        c.authorizedKeys = file;
        c.baseDir = path(u"srv/borg"_s);
        c.allowedNodes = allowed;
        c.maxKeysPerNode = 3;
        return c;
    }

    static QByteArray read(const QString &file)
    {
        QFile f(file);
        return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray("<missing>");
    }

    static void write(const QString &file, const QByteArray &data)
    {
        QDir().mkpath(QFileInfo(file).path());
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(data);
    }

    // ssh-keygen -l reads an authorized_keys file (options included) and prints fingerprints.
    QStringList sshKeygenFingerprints(const QString &file)
    {
        QProcess p;
        p.start(u"ssh-keygen"_s, { u"-l"_s, u"-f"_s, file });
        p.waitForFinished(60000);
        QStringList out;
        for (const QString &line :
            QString::fromUtf8(p.readAllStandardOutput()).split(u'\n', Qt::SkipEmptyParts))
            out.append(line.section(u' ', 1, 1));
        return out;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(QDir().mkpath(path(u"keys"_s)));
        QVERIFY(QDir().mkpath(path(u"srv/borg"_s)));
        m_keys.insert(u"ed"_s, makeKey(u"ed"_s, { u"-t"_s, u"ed25519"_s }));
        m_keys.insert(u"ed2"_s, makeKey(u"ed2"_s, { u"-t"_s, u"ed25519"_s }));
        m_keys.insert(u"ed3"_s, makeKey(u"ed3"_s, { u"-t"_s, u"ed25519"_s }));
        m_keys.insert(u"ed4"_s, makeKey(u"ed4"_s, { u"-t"_s, u"ed25519"_s }));
        m_keys.insert(u"ec256"_s, makeKey(u"ec256"_s, { u"-t"_s, u"ecdsa"_s, u"-b"_s, u"256"_s }));
        m_keys.insert(u"ec384"_s, makeKey(u"ec384"_s, { u"-t"_s, u"ecdsa"_s, u"-b"_s, u"384"_s }));
        m_keys.insert(u"ec521"_s, makeKey(u"ec521"_s, { u"-t"_s, u"ecdsa"_s, u"-b"_s, u"521"_s }));
        m_keys.insert(
            u"rsa3072"_s, makeKey(u"rsa3072"_s, { u"-t"_s, u"rsa"_s, u"-b"_s, u"3072"_s }));
        m_keys.insert(
            u"rsa2048"_s, makeKey(u"rsa2048"_s, { u"-t"_s, u"rsa"_s, u"-b"_s, u"2048"_s }));
    }

    void acceptedKeys_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("bits");
        QTest::newRow("ed25519") << u"ed"_s << 256;
        QTest::newRow("ecdsa 256") << u"ec256"_s << 256;
        QTest::newRow("ecdsa 384") << u"ec384"_s << 384;
        QTest::newRow("ecdsa 521") << u"ec521"_s << 521;
        QTest::newRow("rsa 3072") << u"rsa3072"_s << 3072;
    }

    void acceptedKeys()
    {
        QFETCH(QString, name);
        QFETCH(int, bits);
        const QString pub = m_keys.value(name);
        auto key = SshPublicKey::parse(pub);
        QVERIFY2(key, key ? "" : qPrintable(key.error().message));
        QCOMPARE(key->bits, bits);
        QCOMPARE(key->toString(), typeAndKey(pub)); // the comment is dropped
        // Same fingerprint as OpenSSH computes.
        QCOMPARE(sshKeygenFingerprints(path(u"keys/"_s + name + u".pub"_s)),
            QStringList { key->fingerprint() });
        // Tabs between the fields are fine, the comment may be absent.
        QVERIFY(SshPublicKey::parse(pub.section(u' ', 0, 0) + u'\t' + pub.section(u' ', 1, 1)));
    }

    void refusedKeys_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("error");
        const QString ed = typeAndKey(m_keys.value(u"ed"_s));
        const QString edB64 = ed.section(u' ', 1, 1);
        const QByteArray blob = QByteArray::fromBase64(edB64.toLatin1());
        QTest::newRow("empty") << QString() << u"expected '<type> <base64>"_s;
        QTest::newRow("only the type") << u"ssh-ed25519"_s << u"expected '<type> <base64>"_s;
        QTest::newRow("forced command option")
            << u"command=/bin/sh "_s + ed << u"options are not accepted"_s;
        QTest::newRow("restrict,from= options")
            << u"restrict,from=* "_s + ed << u"options are not accepted"_s;
        QTest::newRow("quoted option") << u"command=\"/bin/sh\" "_s + ed << u"quotes"_s;
        QTest::newRow("second line smuggled")
            << ed + u" a\nssh-ed25519 "_s + edB64 << u"line breaks"_s;
        QTest::newRow("carriage return") << ed + u"\r"_s << u"line breaks"_s;
        QTest::newRow("NUL") << ed + QChar(u'\0') << u"line breaks"_s;
        QTest::newRow("quote in the comment") << ed + u" bob\"s key"_s << u"quotes"_s;
        QTest::newRow("backslash") << ed + u" a\\b"_s << u"backslashes"_s;
        QTest::newRow("dsa") << u"ssh-dss "_s + edB64 << u"type 'ssh-dss' is not accepted"_s;
        QTest::newRow("security key type")
            << u"sk-ssh-ed25519@openssh.com "_s + edB64 << u"is not accepted"_s;
        QTest::newRow("type does not match the data")
            << u"ssh-rsa "_s + edB64 << u"the key data says 'ssh-ed25519', not 'ssh-rsa'"_s;
        QTest::newRow("not base64") << u"ssh-ed25519 AAAA$$$$"_s << u"not canonical base64"_s;
        QTest::newRow("missing padding")
            << u"ssh-ed25519 "_s + QString::fromLatin1(blob.left(50).toBase64()).remove(u'=')
            << u"not canonical base64"_s;
        QTest::newRow("truncated key")
            << u"ssh-ed25519 "_s + QString::fromLatin1(blob.left(blob.size() - 1).toBase64())
            << u"malformed ssh-ed25519"_s;
        QTest::newRow("trailing bytes")
            << u"ssh-ed25519 "_s + QString::fromLatin1(QByteArray(blob + "xx").toBase64())
            << u"malformed ssh-ed25519"_s;
        QTest::newRow("rsa 2048") << m_keys.value(u"rsa2048"_s)
                                  << u"an RSA key of 2048 bits is too weak (at least 3072)"_s;
        QTest::newRow("too long") << ed + u' ' + QString(20000, u'x') << u"longer than"_s;
    }

    void refusedKeys()
    {
        QFETCH(QString, text);
        QFETCH(QString, error);
        auto key = SshPublicKey::parse(text);
        QVERIFY(!key);
        QCOMPARE(key.error().code, ErrorCode::Validation);
        QVERIFY2(key.error().message.contains(error), qPrintable(key.error().message));
    }

    void linesItDoesNotManageAreKeptByteForByte()
    {
        const QString file = path(u"home1/.ssh/authorized_keys"_s);
        const QByteArray original
            = "# keys of the backup host\r\n"
              "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeButUnmanaged admin@laptop\r\n"
              "\n"
              "   \t \n"
              "command=\"borg serve --restrict-to-path /srv/borg/legacy\",restrict "
            + typeAndKey(m_keys.value(u"ed4"_s)).toLatin1()
            + " sparky-not-quite:legacy\n"
              "from=\"10.0.0.0/8\" "
            + typeAndKey(m_keys.value(u"ec384"_s)).toLatin1() + " ops\n";
        write(file, original);
        ::chmod(QFile::encodeName(file).constData(), 0600);
        AuthorizedKeys keys(hostConfig(file));
        const QString repo = path(u"srv/borg/node-a"_s);
        auto added = keys.authorize(u"node-a"_s, m_keys.value(u"ed"_s), repo, true);
        QVERIFY2(added, added ? "" : qPrintable(added.error().message));
        QVERIFY(added->changed);
        QCOMPARE(added->added, 1);
        const QByteArray line = "command=\"borg serve --restrict-to-path " + repo.toLatin1()
            + " --append-only\",restrict " + typeAndKey(m_keys.value(u"ed"_s)).toLatin1()
            + " sparky:node-a";
        QCOMPARE(read(file), original + line + '\n');
        QCOMPARE(added->entries.size(), 1);
        QCOMPARE(added->entries.first().line, 7);
        QCOMPARE(added->entries.first().appendOnly, true);
        QCOMPARE(added->fingerprint, SshPublicKey::parse(m_keys.value(u"ed"_s))->fingerprint());
        // OpenSSH reads the result: every key, the managed one with its options.
        const QStringList fps = sshKeygenFingerprints(file);
        QVERIFY2(fps.contains(added->fingerprint), qPrintable(fps.join(u", "_s)));

        auto removed = keys.revoke(u"node-a"_s);
        QVERIFY(removed);
        QCOMPARE(removed->removed, 1);
        QCOMPARE(read(file), original); // exactly as before
    }

    void aFileWithoutAFinalNewlineGetsOneBeforeTheNewLine()
    {
        const QString file = path(u"home2/.ssh/authorized_keys"_s);
        write(file, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeButUnmanaged admin");
        AuthorizedKeys keys(hostConfig(file));
        QVERIFY(keys.authorize(u"node-a"_s, m_keys.value(u"ed"_s), path(u"srv/borg/a"_s), false));
        const QList<QByteArray> lines = read(file).split('\n');
        QCOMPARE(lines.size(), 3);
        QCOMPARE(
            lines.at(0), QByteArray("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeButUnmanaged admin"));
        QVERIFY(lines.at(1).endsWith(" sparky:node-a"));
        QCOMPARE(lines.at(2), QByteArray());
    }

    void authorizeIsIdempotentAndUpdatesInPlace()
    {
        const QString file = path(u"home3/.ssh/authorized_keys"_s);
        write(file, "# head\n");
        AuthorizedKeys keys(hostConfig(file));
        QVERIFY(keys.authorize(u"node-a"_s, m_keys.value(u"ed"_s), path(u"srv/borg/a"_s), false));
        QVERIFY(
            keys.authorize(u"node-b"_s, m_keys.value(u"ec256"_s), path(u"srv/borg/b"_s), false));
        const QByteArray once = read(file);
        struct stat before;
        QCOMPARE(::stat(QFile::encodeName(file).constData(), &before), 0);

        auto again
            = keys.authorize(u"node-a"_s, m_keys.value(u"ed"_s), path(u"srv/borg/a"_s), false);
        QVERIFY(again);
        QVERIFY(!again->changed);
        QCOMPARE(read(file), once);
        struct stat after;
        QCOMPARE(::stat(QFile::encodeName(file).constData(), &after), 0);
        QCOMPARE(after.st_ino, before.st_ino); // not even rewritten

        // The same key with another path and append-only: its line changes where it is.
        auto moved
            = keys.authorize(u"node-a"_s, m_keys.value(u"ed"_s), path(u"srv/borg/a2"_s), true);
        QVERIFY(moved && moved->changed);
        const QList<QByteArray> lines = read(file).split('\n');
        QCOMPARE(lines.size(), 4);
        QVERIFY(lines.at(1).contains(
            QByteArray(path(u"srv/borg/a2"_s).toLatin1() + " --append-only\"")));
        QVERIFY(lines.at(2).endsWith(" sparky:node-b"));
    }

    void rotationAndRevokeTouchOnlyWhatTheyName()
    {
        const QString file = path(u"home4/.ssh/authorized_keys"_s);
        write(file, "");
        AuthorizedKeys keys(hostConfig(file));
        const QString a = path(u"srv/borg/a"_s);
        QVERIFY(keys.authorize(u"node-a"_s, m_keys.value(u"ed"_s), a, false));
        QVERIFY(
            keys.authorize(u"node-b"_s, m_keys.value(u"ec256"_s), path(u"srv/borg/b"_s), false));
        // Rotation: the new key is added beside the old one …
        auto second = keys.authorize(u"node-a"_s, m_keys.value(u"ed2"_s), a, false);
        QVERIFY(second && second->changed);
        QCOMPARE(second->entries.size(), 2);
        // … and then only the old one is revoked, by fingerprint.
        const QString oldFp = SshPublicKey::parse(m_keys.value(u"ed"_s))->fingerprint();
        auto revoked = keys.revoke(u"node-a"_s, oldFp);
        QVERIFY(revoked);
        QCOMPARE(revoked->removed, 1);
        auto left = keys.entries();
        QVERIFY(left);
        QCOMPARE(left->size(), 2);
        QCOMPARE(left->at(0).node, u"node-b"_s);
        QCOMPARE(left->at(1).node, u"node-a"_s);
        QCOMPARE(
            left->at(1).fingerprint, SshPublicKey::parse(m_keys.value(u"ed2"_s))->fingerprint());
        // Revoking what is not there is no change and no error.
        auto none = keys.revoke(u"node-a"_s, oldFp);
        QVERIFY(none && !none->changed);
        // Revoking a node removes all its keys and no one else's.
        QVERIFY(keys.authorize(u"node-a"_s, m_keys.value(u"ed3"_s), a, false));
        auto all = keys.revoke(u"node-a"_s);
        QVERIFY(all);
        QCOMPARE(all->removed, 2);
        QCOMPARE(keys.entries()->size(), 1);
        QCOMPARE(keys.entries()->first().node, u"node-b"_s);
    }

    void conflictsAndLimitsAreRefused()
    {
        const QString file = path(u"home5/.ssh/authorized_keys"_s);
        write(file,
            "# old: " + typeAndKey(m_keys.value(u"ed3"_s)).toLatin1() + "\n"
                + typeAndKey(m_keys.value(u"ec521"_s)).toLatin1() + " hand-made\n");
        AuthorizedKeys keys(hostConfig(file, { u"node-a"_s, u"node-b"_s }));
        const QString a = path(u"srv/borg/a"_s);
        QVERIFY(keys.authorize(u"node-a"_s, m_keys.value(u"ed"_s), a, false));
        const QByteArray before = read(file);

        auto shared
            = keys.authorize(u"node-b"_s, m_keys.value(u"ed"_s), path(u"srv/borg/b"_s), false);
        QVERIFY(!shared);
        QCOMPARE(shared.error().code, ErrorCode::Conflict);
        QVERIFY(shared.error().message.contains(u"already authorized for node 'node-a'"_s));

        auto unmanaged
            = keys.authorize(u"node-b"_s, m_keys.value(u"ec521"_s), path(u"srv/borg/b"_s), false);
        QVERIFY(!unmanaged);
        QVERIFY2(
            unmanaged.error().message.contains(u"line 2"_s), qPrintable(unmanaged.error().message));

        // A key only mentioned in a comment is no conflict.
        QVERIFY(keys.authorize(u"node-b"_s, m_keys.value(u"ed3"_s), path(u"srv/borg/b"_s), false));

        auto stranger
            = keys.authorize(u"node-c"_s, m_keys.value(u"ed4"_s), path(u"srv/borg/c"_s), false);
        QVERIFY(!stranger);
        QCOMPARE(stranger.error().code, ErrorCode::AccessRefused);
        QVERIFY(stranger.error().message.contains(u"allowed_nodes"_s));

        QVERIFY(keys.authorize(u"node-a"_s, m_keys.value(u"ed2"_s), a, false));
        QVERIFY(keys.authorize(u"node-a"_s, m_keys.value(u"ec256"_s), a, false));
        auto fourth = keys.authorize(u"node-a"_s, m_keys.value(u"ec384"_s), a, false);
        QVERIFY(!fourth);
        QVERIFY(fourth.error().message.contains(u"max_keys_per_node"_s));
        QVERIFY(read(file).startsWith(before));
    }

    void repositoryPathsMustStayBelowTheBase_data()
    {
        QTest::addColumn<QString>("repo");
        QTest::addColumn<QString>("error");
        QTest::newRow("/etc") << u"/etc"_s << u"is not below the repository base directory"_s;
        QTest::newRow("the base itself") << path(u"srv/borg"_s) << u"is not below"_s;
        QTest::newRow("dot-dot") << path(u"srv/borg/../../etc"_s) << u"contains '..'"_s;
        QTest::newRow("symlink out") << path(u"srv/borg/escape/repo"_s) << u"is not below"_s;
        QTest::newRow("relative") << u"srv/borg/a"_s << u"must be an absolute path"_s;
        QTest::newRow("space (would split borg's arguments)")
            << path(u"srv/borg/a b"_s) << u"must be an absolute path of letters"_s;
        QTest::newRow("quote (would end the forced command)")
            << path(u"srv/borg/a\",no-restrict"_s) << u"must be an absolute path of letters"_s;
        QTest::newRow("sibling with the same prefix")
            << path(u"srv/borg2/a"_s) << u"is not below"_s;
    }

    void repositoryPathsMustStayBelowTheBase()
    {
        QFETCH(QString, repo);
        QFETCH(QString, error);
        QFile::link(path(u"outside"_s), path(u"srv/borg/escape"_s));
        const QString file = path(u"home6/.ssh/authorized_keys"_s);
        write(file, "# nothing yet\n");
        AuthorizedKeys keys(hostConfig(file));
        auto r = keys.authorize(u"node-a"_s, m_keys.value(u"ed"_s), repo, false);
        QVERIFY(!r);
        QVERIFY2(r.error().message.contains(error), qPrintable(r.error().message));
        QCOMPARE(read(file), QByteArray("# nothing yet\n"));
    }

    void ownerAndModeAreKept()
    {
        const QString file = path(u"home7/.ssh/authorized_keys"_s);
        write(file, "# owned by nobody\n");
        QCOMPARE(::chown(QFile::encodeName(file).constData(), 65534, 65534), 0);
        QCOMPARE(::chmod(QFile::encodeName(file).constData(), 0644), 0);
        QCOMPARE(::chmod(QFile::encodeName(path(u"home7/.ssh"_s)).constData(), 0755), 0);
        AuthorizedKeys keys(hostConfig(file));
        QVERIFY(keys.authorize(u"node-a"_s, m_keys.value(u"ed"_s), path(u"srv/borg/a"_s), false));
        struct stat st;
        QCOMPARE(::stat(QFile::encodeName(file).constData(), &st), 0);
        QCOMPARE(st.st_uid, uid_t(65534));
        QCOMPARE(st.st_gid, gid_t(65534));
        QCOMPARE(st.st_mode & 07777, mode_t(0600));
        QCOMPARE(::stat(QFile::encodeName(path(u"home7/.ssh"_s)).constData(), &st), 0);
        QCOMPARE(st.st_mode & 07777, mode_t(0700));
        // No temporary file left behind.
        QCOMPARE(QDir(path(u"home7/.ssh"_s))
                     .entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot),
            QStringList { u"authorized_keys"_s });
    }

    void aNewFileBelongsToTheBorgUser()
    {
        const QString file = path(u"home8/.ssh/authorized_keys"_s);
        QVERIFY(QDir().mkpath(path(u"home8"_s))); // the home exists, .ssh not yet
        AuthorizedKeys keys(hostConfig(file));
        QVERIFY(keys.authorize(u"node-a"_s, m_keys.value(u"ed"_s), path(u"srv/borg/a"_s), false));
        struct stat st;
        QCOMPARE(::stat(QFile::encodeName(file).constData(), &st), 0);
        QCOMPARE(st.st_uid, uid_t(65534)); // nobody, the configured borg_user
        QCOMPARE(st.st_mode & 07777, mode_t(0600));
        QCOMPARE(::stat(QFile::encodeName(path(u"home8/.ssh"_s)).constData(), &st), 0);
        QCOMPARE(st.st_uid, uid_t(65534));
        QCOMPARE(st.st_mode & 07777, mode_t(0700));
    }

    void aSymlinkedFileIsRefused()
    {
        const QString real = path(u"elsewhere/keys"_s);
        write(real, "# real\n");
        QVERIFY(QDir().mkpath(path(u"home9/.ssh"_s)));
        QVERIFY(QFile::link(real, path(u"home9/.ssh/authorized_keys"_s)));
        AuthorizedKeys keys(hostConfig(path(u"home9/.ssh/authorized_keys"_s)));
        auto r = keys.authorize(u"node-a"_s, m_keys.value(u"ed"_s), path(u"srv/borg/a"_s), false);
        QVERIFY(!r);
        QVERIFY2(r.error().message.contains(u"symlink"_s), qPrintable(r.error().message));
        QCOMPARE(read(real), QByteArray("# real\n"));
    }

    void keyCommandsThroughAgentCommands()
    {
        const QString file = path(u"home10/.ssh/authorized_keys"_s);
        QVERIFY(QDir().mkpath(path(u"home10"_s)));
        const QString cfgFile = path(u"host.yaml"_s);
        write(cfgFile,
            "node: repo-host\nstate_dir: " + path(u"state"_s).toUtf8()
                + "\ncommands:\n  allowed: [key.authorize, key.revoke]\n"
                  "repository_host:\n  borg_user: nobody\n  authorized_keys: "
                + file.toUtf8() + "\n  base_dir: " + path(u"srv/borg"_s).toUtf8()
                + "\n  allowed_nodes: [web-01]\n");
        auto cfg = loadAgentConfig(cfgFile);
        QVERIFY2(cfg, cfg ? "" : qPrintable(cfg.error().message));
        const QJsonObject body { { u"node"_s, u"web-01"_s },
            { u"public_key"_s, m_keys.value(u"ed"_s) },
            { u"repository_path"_s, path(u"srv/borg/web-01"_s) }, { u"append_only"_s, true } };
        QVERIFY(AgentCommands::validate(*cfg, QString(protocol::type::KeyAuthorize), body));
        auto job = AgentCommands::createJob(*cfg, QString(protocol::type::KeyAuthorize), body);
        QVERIFY(job);
        QSignalSpy done(job->get(), &AgentJob::finished);
        (*job)->start();
        QVERIFY(done.wait(10000));
        QVERIFY2(!(*job)->hasError(), qPrintable((*job)->error().message));
        const QJsonObject result = (*job)->result();
        QCOMPARE(result.value("changed"_L1).toBool(), true);
        QCOMPARE(result.value("authorized_keys"_L1).toString(), file);
        QCOMPARE(
            result.value("entries"_L1).toArray().at(0).toObject().value("append_only"_L1).toBool(),
            true);

        // Field-named refusals.
        QJsonObject bad = body;
        bad.insert(u"public_key"_s, QString(u"command=\"sh\" "_s + m_keys.value(u"ed"_s)));
        auto r = AgentCommands::validate(*cfg, QString(protocol::type::KeyAuthorize), bad);
        QVERIFY(!r);
        QVERIFY2(
            r.error().message.startsWith(u"body.public_key: "_s), qPrintable(r.error().message));
        bad = body;
        bad.insert(u"repository_path"_s, u"/etc"_s);
        r = AgentCommands::validate(*cfg, QString(protocol::type::KeyAuthorize), bad);
        QVERIFY(!r);
        QVERIFY(r.error().message.startsWith(u"body.repository_path: "_s));
        bad = body;
        bad.insert(u"node"_s, u"web-02"_s);
        r = AgentCommands::validate(*cfg, QString(protocol::type::KeyAuthorize), bad);
        QVERIFY(!r);
        QVERIFY(r.error().message.startsWith(u"body.node: "_s));
        r = AgentCommands::validate(*cfg, QString(protocol::type::KeyRevoke),
            { { u"node"_s, u"web-01"_s }, { u"fingerprint"_s, u"MD5:aa"_s } });
        QVERIFY(r); // the fingerprint's form is checked when the job runs
        auto revoke = AgentCommands::createJob(*cfg, QString(protocol::type::KeyRevoke),
            { { u"node"_s, u"web-01"_s }, { u"fingerprint"_s, u"MD5:aa"_s } });
        QVERIFY(revoke);
        QSignalSpy revoked(revoke->get(), &AgentJob::finished);
        (*revoke)->start();
        QVERIFY(revoked.wait(10000));
        QVERIFY((*revoke)->hasError());
        QVERIFY((*revoke)->error().message.contains(u"is not a key fingerprint"_s));

        // A config allowing key commands without the role is refused at load time.
        write(cfgFile, "node: client\nstate_dir: /tmp\ncommands:\n  allowed: [key.authorize]\n");
        auto noRole = loadAgentConfig(cfgFile);
        QVERIFY(!noRole);
        QVERIFY(
            noRole.error().message.contains(u"key.authorize needs a repository_host section"_s));
    }
};

QTEST_GUILESS_MAIN(TestAuthorizedKeys)
#include "tst_authorizedkeys.moc"
