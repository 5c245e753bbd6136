#include "admincli.h"

#include <QCoreApplication>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    return sparky::ctl::runAdminCli(app);
}
