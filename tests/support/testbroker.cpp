#include "testbroker.h"

#include "sparky/secrets.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QProcessEnvironment>
#include <QTemporaryFile>

namespace sparky::test {

using namespace Qt::StringLiterals;

QString sourcePath(const QString &relative)
{
    return qEnvironmentVariable("SPARKY_SOURCE_DIR") + u'/' + relative;
}

QString binaryPath(const QString &relative)
{
    return qEnvironmentVariable("SPARKY_BINARY_DIR") + u'/' + relative;
}

Result TestBroker::runFixture(const QStringList &args, int timeoutMs)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(sourcePath(u"tests/fixtures/broker.sh"_s), args);
    if (!p.waitForStarted(10000))
        return unexpected(ErrorCode::Io, u"cannot run %1: %2 (is SPARKY_SOURCE_DIR set? run through ctest)"_s
                                             .arg(p.program(), p.errorString()));
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        return unexpected(ErrorCode::Timeout, u"broker.sh %1 timed out"_s.arg(args.join(u' ')));
    }
    const QString out = QString::fromUtf8(p.readAll());
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return unexpected(ErrorCode::Io, u"broker.sh %1 failed (exit %2):\n%3"_s.arg(
                                             args.join(u' ')).arg(p.exitCode()).arg(out));
    return {};
}

Result TestBroker::loadEnv()
{
    QFile f(m_dir + u"/broker.env"_s);
    if (!f.open(QIODevice::ReadOnly))
        return unexpected(ErrorCode::NotFound,
                          u"%1: %2 — is the ctest fixture 'broker' running?"_s.arg(f.fileName(),
                                                                                   f.errorString()));
    m_env.clear();
    const QList<QByteArray> lines = f.readAll().split('\n');
    for (const QByteArray &raw : lines) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.isEmpty() || line.startsWith(u'#'))
            continue;
        const qsizetype eq = line.indexOf(u'=');
        if (eq <= 0)
            continue;
        QString value = line.mid(eq + 1);
        if (value.size() >= 2 && (value.startsWith(u'"') || value.startsWith(u'\''))
            && value.endsWith(value.at(0)))
            value = value.mid(1, value.size() - 2);
        m_env.insert(line.left(eq), value);
    }
    return {};
}

Expected<std::shared_ptr<TestBroker>> TestBroker::shared()
{
    static std::shared_ptr<TestBroker> instance;
    if (instance)
        return instance;
    auto b = std::shared_ptr<TestBroker>(new TestBroker);
    b->m_dir = qEnvironmentVariable("SPARKY_TEST_BROKER_DIR");
    if (b->m_dir.isEmpty())
        return unexpected(ErrorCode::Config, u"SPARKY_TEST_BROKER_DIR is not set (run through ctest)"_s);
    if (auto ok = b->loadEnv(); !ok)
        return ok.error();
    instance = b;
    return b;
}

Expected<std::shared_ptr<TestBroker>> TestBroker::startPrivate(const QString &dir)
{
    auto b = std::shared_ptr<TestBroker>(new TestBroker);
    b->m_dir = dir;
    b->m_private = true;
    // The broker runs as the rabbitmq user: the temporary parent (0700) must let it through.
    const QString parent = QFileInfo(dir).absolutePath();
    QFile::setPermissions(parent, QFile::permissions(parent) | QFile::ExeOther | QFile::ExeGroup);
    if (auto ok = runFixture({u"start"_s, dir}); !ok)
        return ok.error();
    if (auto ok = b->loadEnv(); !ok)
        return ok.error();
    return b;
}

TestBroker::~TestBroker()
{
    if (m_private)
        (void)runFixture({u"clean"_s, m_dir});
}

Result TestBroker::stop()
{
    return runFixture({u"stop"_s, m_dir});
}

Result TestBroker::start()
{
    if (auto ok = runFixture({u"start"_s, m_dir}); !ok)
        return ok;
    return loadEnv();
}

BrokerSettings TestBroker::settings(const QString &user, const QString &tokenFile) const
{
    BrokerSettings s;
    s.endpoints = {BrokerEndpoint{host(), port()}};
    s.vhost = value(u"SPARKY_BROKER_VHOST"_s);
    if (s.vhost.isEmpty())
        s.vhost = u"sparky"_s;
    s.user = user;
    s.tokenFile = tokenFile;
    s.caFile = caFile();
    s.heartbeat = std::chrono::seconds(10);
    s.reconnectMin = std::chrono::milliseconds(100);
    s.reconnectMax = std::chrono::milliseconds(2000);
    s.connectTimeout = std::chrono::milliseconds(5000);
    s.rpcTimeout = std::chrono::milliseconds(10000);
    s.connectionName = u"sparky-test"_s;
    return s;
}

BrokerSettings TestBroker::orchestrator() const
{
    return settings(value(u"SPARKY_BROKER_ORCHESTRATOR_USER"_s),
                    value(u"SPARKY_BROKER_ORCHESTRATOR_PASSWORD_FILE"_s));
}

BrokerSettings TestBroker::admin() const
{
    return settings(value(u"SPARKY_BROKER_ADMIN_USER"_s),
                    value(u"SPARKY_BROKER_ADMIN_PASSWORD_FILE"_s));
}

BrokerSettings TestBroker::operatorUser() const
{
    return settings(value(u"SPARKY_BROKER_OPERATOR_USER"_s),
                    value(u"SPARKY_BROKER_OPERATOR_PASSWORD_FILE"_s));
}

Expected<BrokerSettings> TestBroker::node(const QString &nodeId)
{
    const QString tokenFile = m_dir + u"/nodes/"_s + nodeId + u".token"_s;
    if (!QFile::exists(tokenFile)) {
        if (auto ok = runFixture({u"add-node"_s, m_dir, nodeId}); !ok)
            return ok.error();
    }
    return settings(nodeId, tokenFile);
}

Expected<QByteArray> TestBroker::management(const QString &method, const QString &path,
                                            const QByteArray &body) const
{
    auto password = readSecretFile(value(u"SPARKY_BROKER_ADMIN_PASSWORD_FILE"_s));
    if (!password)
        return password.error();
    // Credentials go to curl through a config on stdin, never on its command line.
    const QByteArray config = "user = \"" + value(u"SPARKY_BROKER_ADMIN_USER"_s).toUtf8() + ':'
                              + *password + "\"\n";
    QProcess p;
    QStringList args{u"-sS"_s, u"--fail-with-body"_s, u"-K"_s, u"-"_s, u"--cacert"_s, caFile(),
                     u"-X"_s, method, u"-H"_s, u"content-type: application/json"_s};
    if (!body.isEmpty())
        args << u"--data-binary"_s << QString::fromUtf8(body);
    args << u"https://%1:%2/api%3"_s.arg(host()).arg(managementPort()).arg(path);
    p.start(u"curl"_s, args);
    p.write(config);
    p.closeWriteChannel();
    if (!p.waitForFinished(30000))
        return unexpected(ErrorCode::Timeout, u"management API %1 %2 timed out"_s.arg(method, path));
    if (p.exitCode() != 0)
        return unexpected(ErrorCode::Io, u"management API %1 %2 failed: %3 %4"_s.arg(
                                             method, path, QString::fromUtf8(p.readAllStandardError()),
                                             QString::fromUtf8(p.readAllStandardOutput())));
    return p.readAllStandardOutput();
}

} // namespace sparky::test
