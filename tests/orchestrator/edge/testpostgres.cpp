#include "testpostgres.h"

#include <QDir>
#include <QProcess>
#include <QSqlDatabase>
#include <QSqlError>
#include <QTcpServer>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace sparky;
using namespace Qt::StringLiterals;

namespace {

const QString kBin = u"/usr/lib/postgresql/15/bin/"_s;

// Runs a PostgreSQL tool, as the postgres user when we are root.
Result run(const QString &tool, const QStringList &args, int timeoutMs = 60000)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    QString program = kBin + tool;
    QStringList argv = args;
    if (::geteuid() == 0) {
        argv = QStringList {
            u"--reuid=postgres"_s, u"--regid=postgres"_s, u"--init-groups"_s, program
        } + args;
        program = u"setpriv"_s;
    }
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(u"LC_ALL"_s, u"C.UTF-8"_s);
    p.setProcessEnvironment(env);
    p.start(program, argv);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        return unexpected(ErrorCode::Timeout, u"%1 timed out"_s.arg(tool));
    }
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return unexpected(ErrorCode::Io,
            u"%1 %2 failed (exit %3): %4"_s.arg(tool, args.join(u' '))
                .arg(p.exitCode())
                .arg(QString::fromUtf8(p.readAll())));
    return {};
}

quint16 freePort()
{
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
}

} // namespace

Expected<std::unique_ptr<TestPostgres>> TestPostgres::start(const QString &dir)
{
    std::unique_ptr<TestPostgres> pg(new TestPostgres);
    pg->m_dir = dir;
    if (::geteuid() == 0) {
        const struct passwd *pw = ::getpwnam("postgres");
        if (!pw)
            return unexpected(
                ErrorCode::Config, u"user postgres does not exist (apt-get install postgresql)"_s);
        if (::chown(QFile::encodeName(dir).constData(), pw->pw_uid, pw->pw_gid) != 0)
            return unexpected(ErrorCode::Permission, u"cannot chown %1 to postgres"_s.arg(dir));
    }
    const QString data = dir + u"/data"_s;
    if (auto ok = run(u"initdb"_s,
            { u"-D"_s, data, u"-U"_s, u"sparky"_s, u"-A"_s, u"trust"_s, u"--no-sync"_s,
                u"--no-locale"_s, u"-E"_s, u"UTF8"_s });
        !ok)
        return ok.error();
    pg->m_port = freePort();
    const QString options = u"-p %1 -k %2 -c listen_addresses=127.0.0.1 -c fsync=off "
                            "-c synchronous_commit=off -c full_page_writes=off"_s.arg(pg->m_port)
                                .arg(dir);
    if (auto ok = run(u"pg_ctl"_s,
            { u"-D"_s, data, u"-l"_s, dir + u"/server.log"_s, u"-o"_s, options, u"-w"_s, u"-t"_s,
                u"60"_s, u"start"_s });
        !ok)
        return ok.error();
    pg->m_running = true;
    return pg;
}

TestPostgres::~TestPostgres()
{
    if (m_running)
        (void)run(u"pg_ctl"_s,
            { u"-D"_s, m_dir + u"/data"_s, u"-m"_s, u"immediate"_s, u"-w"_s, u"stop"_s });
}

Result TestPostgres::addConnection(const QString &name) const
{
    QSqlDatabase db = QSqlDatabase::addDatabase(u"QPSQL"_s, name);
    db.setHostName(host());
    db.setPort(m_port);
    db.setUserName(user());
    db.setDatabaseName(database());
    if (!db.open())
        return unexpected(ErrorCode::Unavailable,
            u"PostgreSQL on port %1: %2"_s.arg(m_port).arg(db.lastError().text()));
    return {};
}
