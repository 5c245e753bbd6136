#include "sshlog.h"

#include "borgcommands.h"
#include "runlimits.h"

#include <QDir>
#include <QFile>
#include <QUuid>
#include <algorithm>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {
constexpr int kMaxSshLines = 10;
constexpr qsizetype kMaxSshLine = 500;
constexpr qint64 kMaxSshLogRead = 64 * 1024;
} // namespace

SshLog::~SshLog()
{
    if (!m_path.isEmpty())
        QFile::remove(m_path);
}

void SshLog::attach(const AgentConfig &config, const RepositoryConfig &repo, QProcessEnvironment &env)
{
    if (!repo.isRemote())
        return;
    if (!m_path.isEmpty())
        QFile::remove(m_path);
    m_path.clear();
    const QString dir = QDir(config.stateDir).filePath(u"ssh"_s);
    if (!QDir().mkpath(dir))
        return;
    QFile::setPermissions(dir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    const QString path = dir + u"/borg-"_s + QUuid::createUuid().toString(QUuid::Id128) + u".log"_s;
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return;
    f.setPermissions(QFile::ReadOwner | QFile::WriteOwner);
    f.close();
    m_path = path;
    env.insert(u"BORG_RSH"_s, BorgCommands::borgRsh(repo, m_path));
}

QStringList SshLog::take()
{
    QStringList lines;
    if (m_path.isEmpty())
        return lines;
    QFile f(m_path);
    if (f.open(QIODevice::ReadOnly)) {
        const QStringList all = QString::fromUtf8(f.read(kMaxSshLogRead)).split(u'\n', Qt::SkipEmptyParts);
        for (const QString &l : all) {
            const QString line = l.trimmed();
            if (!line.isEmpty() && !lines.contains(line))
                lines.append(clipText(line, kMaxSshLine));
        }
    }
    QFile::remove(m_path);
    m_path.clear();
    return lines.mid(std::max<qsizetype>(0, lines.size() - kMaxSshLines));
}

} // namespace sparky::agent
