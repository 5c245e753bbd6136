#include "ctlconfig.h"

#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

namespace sparky::ctl {

using namespace Qt::StringLiterals;

namespace {

Expected<CtlConfig> fromDocument(const config::Document &doc)
{
    config::Errors errors;
    const config::Node root = doc.root(&errors);
    CtlConfig c;
    c.file = doc.file();
    if (!root.isMap()) {
        root.error(u"expected a map with a broker section"_s);
        return errors.toResult().error();
    }
    root.allowKeys({ "broker", "rpc" });
    c.broker = BrokerSettings::fromConfig(root.child(u"broker"_s));
    if (c.broker.connectionName.isEmpty())
        c.broker.connectionName = u"sparky-admin-cli"_s;
    // Token paths may start with ~/ in a per-user file.
    if (c.broker.tokenFile.startsWith(u"~/"_s))
        c.broker.tokenFile = QDir::homePath() + c.broker.tokenFile.mid(1);
    if (const config::Node rpc = root.child(u"rpc"_s); rpc.isDefined()) {
        rpc.allowKeys({ "timeout" });
        const auto t = rpc.duration(u"timeout"_s, std::chrono::seconds(30));
        if (t.count() < 1 || t.count() > 3600)
            rpc.child(u"timeout"_s).error(u"expected 1s … 1h"_s);
        else
            c.timeout = t;
    }
    if (auto ok = errors.toResult(); !ok)
        return ok.error();
    return c;
}

} // namespace

QStringList CtlConfig::defaultPaths()
{
    QStringList paths;
    const QString env = qEnvironmentVariable("SPARKY_CTL_CONFIG");
    if (!env.isEmpty())
        paths << env;
    QString xdg = qEnvironmentVariable("XDG_CONFIG_HOME");
    if (xdg.isEmpty())
        xdg = QDir::homePath() + u"/.config"_s;
    paths << xdg + u"/sparky/ctl.yaml"_s << u"/etc/sparky/ctl.yaml"_s;
    return paths;
}

Expected<QString> CtlConfig::locate(const QString &explicitPath)
{
    if (!explicitPath.isEmpty()) {
        if (!QFileInfo::exists(explicitPath))
            return unexpected(ErrorCode::Config, u"%1: no such file"_s.arg(explicitPath));
        return explicitPath;
    }
    const QStringList paths = defaultPaths();
    for (const QString &p : paths)
        if (QFileInfo::exists(p))
            return p;
    return unexpected(ErrorCode::Config,
        u"no configuration: none of %1 exists (give one with -c FILE; it needs a broker "
        "section with an RPC user)"_s.arg(paths.join(u", "_s)));
}

Expected<CtlConfig> CtlConfig::load(const QString &path)
{
    auto doc = config::Document::loadFile(path);
    if (!doc)
        return doc.error();
    return fromDocument(*doc);
}

Expected<CtlConfig> CtlConfig::parse(const QByteArray &yaml, const QString &name)
{
    auto doc = config::Document::loadString(yaml, name);
    if (!doc)
        return doc.error();
    return fromDocument(*doc);
}

} // namespace sparky::ctl
