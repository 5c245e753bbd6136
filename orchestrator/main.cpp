#include "orchestratorcli.h"

#include <QCoreApplication>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    return sparky::orchestrator::runCli(app);
}
