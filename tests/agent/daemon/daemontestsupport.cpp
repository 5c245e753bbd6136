#include "daemontestsupport.h"

#include "sparky/secrets.h"
#include "sparky/signing.h"

#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QFileInfo>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QTcpServer>
#include <QTimer>
#include <QUrl>

namespace sparky::agent::test {

using namespace Qt::StringLiterals;

QByteArray AgentYaml::toYaml() const
{
    QString y;
    y += u"node: %1\n"_s.arg(node);
    y += u"state_dir: %1\n"_s.arg(stateDir);
    y += u"heartbeat_interval: %1\n"_s.arg(heartbeat);
    if (broker) {
        y += u"broker:\n  hosts: ["_s;
        QStringList hosts;
        for (const BrokerEndpoint &e : broker->endpoints)
            hosts << u"\"%1\""_s.arg(e.toString());
        y += hosts.join(u", "_s) + u"]\n"_s;
        y += u"  vhost: %1\n  user: %2\n  token_file: %3\n"_s.arg(broker->vhost, broker->user, broker->tokenFile);
        y += u"  reconnect_max: 1s\n  heartbeat: 10s\n"_s;
        y += u"  tls:\n    ca_file: %1\n"_s.arg(broker->caFile);
    }
    if (!orchestratorKey.isEmpty() || !allowed.isEmpty()) {
        y += u"commands:\n"_s;
        if (!orchestratorKey.isEmpty())
            y += u"  orchestrator_key: \"%1\"\n"_s.arg(orchestratorKey);
        if (!allowed.isEmpty())
            y += u"  allowed: [%1]\n"_s.arg(allowed.join(u", "_s));
    }
    y += u"metrics:\n  listen: \"%1\"\n"_s.arg(metricsListen);
    if (!textfile.isEmpty())
        y += u"  textfile: %1\n"_s.arg(textfile);
    if (!pushgateway.isEmpty())
        y += u"  pushgateway: %1\n"_s.arg(pushgateway);
    y += extra;
    y += u"repositories:\n  local:\n    url: %1\n    encryption: none\n"_s.arg(repositoryPath);
    y += u"jobs:\n"_s + jobs;
    return y.toUtf8();
}

Result AgentYaml::useUnreachableBroker(const QString &dir)
{
    auto b = unreachableBroker(dir, node);
    if (!b)
        return b.error();
    broker = *b;
    if (orchestratorKey.isEmpty())
        orchestratorKey = SigningKey::generate()->publicKeyBase64();
    return {};
}

Expected<QString> AgentYaml::write(const QString &path) const
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    if (auto ok = writeSecretFile(path, toYaml()); !ok)
        return ok.error();
    return path;
}

QString filesJob(const QString &name, const QString &source, const QString &schedule, const QString &extra)
{
    QString j = u"  %1:\n    repository: local\n    sources: [%2]\n    compression: lz4\n"_s.arg(name, source);
    if (!schedule.isEmpty())
        j += u"    schedule: \"%1\"\n    time_zone: UTC\n"_s.arg(schedule);
    j += extra;
    return j;
}

Expected<QString> makeSourceTree(const QString &dir)
{
    if (!QDir().mkpath(dir + u"/sub"_s))
        return unexpected(ErrorCode::Io, u"cannot create %1"_s.arg(dir));
    for (int i = 0; i < 5; ++i) {
        QFile f(dir + (i % 2 ? u"/sub/file%1.txt"_s : u"/file%1.txt"_s).arg(i));
        if (!f.open(QIODevice::WriteOnly))
            return unexpected(ErrorCode::Io, f.fileName() + u": "_s + f.errorString());
        QByteArray data;
        for (int k = 0; k < 200; ++k)
            data += "line " + QByteArray::number(k) + " of file " + QByteArray::number(i) + '\n';
        f.write(data);
    }
    return dir;
}

Result promtoolCheck(const QByteArray &exposition)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(u"promtool"_s, {u"check"_s, u"metrics"_s});
    if (!p.waitForStarted(10000))
        return unexpected(ErrorCode::Io, u"cannot start promtool: %1"_s.arg(p.errorString()));
    p.write(exposition);
    p.closeWriteChannel();
    if (!p.waitForFinished(30000))
        return unexpected(ErrorCode::Timeout, u"promtool timed out"_s);
    const QString out = QString::fromUtf8(p.readAll());
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return unexpected(ErrorCode::Validation, u"promtool check metrics failed (exit %1):\n%2"_s.arg(p.exitCode()).arg(out));
    return {};
}

Expected<QStringList> borgArchives(const QString &repository)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(u"BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"_s, u"yes"_s);
    env.insert(u"BORG_RELOCATED_REPO_ACCESS_IS_OK"_s, u"yes"_s);
    p.setProcessEnvironment(env);
    p.start(u"borg"_s, {u"list"_s, u"--short"_s, repository});
    if (!p.waitForFinished(60000) || p.exitCode() != 0)
        return unexpected(ErrorCode::Io, u"borg list %1 failed: %2"_s.arg(repository,
                                                                         QString::fromUtf8(p.readAllStandardError())));
    QStringList names = QString::fromUtf8(p.readAllStandardOutput()).split(u'\n', Qt::SkipEmptyParts);
    return names;
}

Expected<QByteArray> httpGet(quint16 port, const QString &path)
{
    QNetworkAccessManager nam;
    QNetworkRequest req(QUrl(u"http://127.0.0.1:%1%2"_s.arg(port).arg(path)));
    req.setTransferTimeout(10000);
    QNetworkReply *reply = nam.get(req);
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    reply->deleteLater();
    if (reply->error() != QNetworkReply::NoError)
        return unexpected(ErrorCode::Network, u"GET %1: %2"_s.arg(reply->url().toString(), reply->errorString()));
    return reply->readAll();
}

std::optional<double> sample(const QByteArray &exposition, const QString &series)
{
    const QByteArray prefix = series.toUtf8() + ' ';
    for (const QByteArray &line : exposition.split('\n'))
        if (line.startsWith(prefix)) {
            bool ok = false;
            const double v = line.mid(prefix.size()).trimmed().toDouble(&ok);
            if (ok)
                return v;
        }
    return std::nullopt;
}

quint16 freePort()
{
    QTcpServer s;
    if (!s.listen(QHostAddress::LocalHost, 0))
        return 0;
    return s.serverPort();
}

Expected<BrokerSettings> unreachableBroker(const QString &dir, const QString &node)
{
    QDir().mkpath(dir);
    BrokerSettings b;
    b.endpoints = {BrokerEndpoint{u"127.0.0.1"_s, freePort()}};
    b.user = node;
    b.tokenFile = dir + u"/token"_s;
    if (auto ok = writeSecretFile(b.tokenFile, "not-a-real-token"); !ok)
        return ok.error();
    b.caFile = dir + u"/ca.pem"_s;
    if (!QFile::exists(b.caFile)) {
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(u"openssl"_s, {u"req"_s, u"-x509"_s, u"-newkey"_s, u"ec"_s, u"-pkeyopt"_s,
                               u"ec_paramgen_curve:prime256v1"_s, u"-nodes"_s, u"-keyout"_s, dir + u"/ca.key"_s,
                               u"-out"_s, b.caFile, u"-days"_s, u"2"_s, u"-subj"_s, u"/CN=sparky-test-ca"_s});
        if (!p.waitForFinished(30000) || p.exitCode() != 0)
            return unexpected(ErrorCode::Io, u"openssl req failed: %1"_s.arg(QString::fromUtf8(p.readAll())));
    }
    return b;
}

} // namespace sparky::agent::test
