#include "sparky/logging.h"

#include <QDateTime>

#include <cstdio>
#include <mutex>

namespace sparky {

Q_LOGGING_CATEGORY(lcAmqp, "sparky.shared.amqp", QtInfoMsg)
Q_LOGGING_CATEGORY(lcProtocol, "sparky.shared.protocol", QtInfoMsg)
Q_LOGGING_CATEGORY(lcConfig, "sparky.shared.config", QtInfoMsg)
Q_LOGGING_CATEGORY(lcCrypto, "sparky.shared.crypto", QtInfoMsg)

namespace {

const char *levelName(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg: return "DEBUG";
    case QtInfoMsg: return "INFO ";
    case QtWarningMsg: return "WARN ";
    case QtCriticalMsg: return "ERROR";
    case QtFatalMsg: return "FATAL";
    }
    return "?    ";
}

std::mutex g_logMutex;

void handler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    const QByteArray ts = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs).toUtf8();
    const QByteArray text = message.toUtf8();
    const char *category = context.category ? context.category : "default";
    {
        const std::lock_guard lock(g_logMutex);
        std::fprintf(stderr, "%s %s %s: %s\n", ts.constData(), levelName(type), category,
                     text.constData());
        std::fflush(stderr);
    }
    if (type == QtFatalMsg)
        std::abort();
}

} // namespace

void installLogHandler(bool debug)
{
    if (debug)
        QLoggingCategory::setFilterRules(QStringLiteral("sparky.*.debug=true"));
    qInstallMessageHandler(handler);
}

} // namespace sparky
