#include "orchestratorcli.h"

#include "sparky/logging.h"

#include <QCommandLineParser>
#include <QCoreApplication>

namespace sparky::orchestrator {

int runCli(QCoreApplication &app)
{
    QCoreApplication::setApplicationName(QStringLiteral("sparky-orchestrator"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SPARKY_VERSION));
    installLogHandler();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("sparky-for-backup orchestrator: stores results, dispatches commands, reports and exports"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.process(app);
    return 0;
}

} // namespace sparky::orchestrator
