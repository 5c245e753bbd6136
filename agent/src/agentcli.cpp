#include "agentcli.h"

#include "sparky/logging.h"

#include <QCommandLineParser>
#include <QCoreApplication>

namespace sparky::agent {

int runCli(QCoreApplication &app)
{
    QCoreApplication::setApplicationName(QStringLiteral("sparky-agent"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SPARKY_VERSION));
    installLogHandler();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("sparky-for-backup node agent: runs scheduled borg backups and takes commands from its queue"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.process(app);
    return 0;
}

} // namespace sparky::agent
