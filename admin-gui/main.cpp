#include "mainwindow.h"

#include "sparky/logging.h"

#include <QApplication>
#include <QCommandLineParser>

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("sparky-admin"));
    QApplication::setApplicationVersion(QStringLiteral(SPARKY_VERSION));
    sparky::installLogHandler();

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("sparky-for-backup admin console: fleet status, run now, browse, restore"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.process(app);

    sparky::admin::MainWindow window;
    window.show();
    return QApplication::exec();
}
