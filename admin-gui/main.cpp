#include "consolecontroller.h"
#include "dialogs.h"
#include "keychainsecretstore.h"
#include "profilestore.h"
#include "sparky/logging.h"

#include <QApplication>
#include <QCommandLineParser>
#include <cstdio>
#include <memory>

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
    const QCommandLineOption profile(QStringLiteral("profile"),
        QStringLiteral("Connection profile to open (default: the last one used)."),
        QStringLiteral("NAME"));
    const QCommandLineOption settings(QStringLiteral("settings"),
        QStringLiteral("Profiles file (default: ~/.config/sparky/sparky-admin.ini)."),
        QStringLiteral("FILE"));
    parser.addOptions({ profile, settings });
    parser.process(app);

    auto profiles = parser.isSet(settings)
        ? std::make_unique<sparky::admin::ProfileStore>(parser.value(settings))
        : std::make_unique<sparky::admin::ProfileStore>();
    sparky::admin::KeychainSecretStore secrets;
    sparky::admin::WidgetDialogs dialogs;
    sparky::admin::ConsoleController console(profiles.get(), &secrets, &dialogs);
    if (auto ok = console.start(parser.value(profile)); !ok) {
        std::fprintf(stderr, "sparky-admin: %s\n", qPrintable(ok.error().message));
        return 2;
    }
    return QApplication::exec();
}
