#include "httpsclient_p.h"

#include <QFile>
#include <QNetworkReply>
#include <QSslCertificate>
#include <QStringList>

namespace sparky::orchestrator::detail {

using namespace Qt::StringLiterals;

Expected<QSslConfiguration> clientTlsConfiguration(const QString &caFile)
{
    QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
    tls.setPeerVerifyMode(QSslSocket::VerifyPeer);
    tls.setProtocol(QSsl::TlsV1_2OrLater);
    if (!caFile.isEmpty()) {
        QFile f(caFile);
        if (!f.open(QIODevice::ReadOnly))
            return unexpected(ErrorCode::Config, u"CA file %1: %2"_s.arg(caFile, f.errorString()));
        const QList<QSslCertificate> extra = QSslCertificate::fromData(f.readAll(), QSsl::Pem);
        if (extra.isEmpty())
            return unexpected(
                ErrorCode::Config, u"CA file %1 holds no PEM certificate"_s.arg(caFile));
        tls.addCaCertificates(extra);
    }
    return tls;
}

Error transportError(const QNetworkReply &reply, const QList<QSslError> &sslErrors,
    const QString &what, bool timedOut)
{
    if (timedOut)
        return Error(ErrorCode::Timeout, u"%1: no answer in time"_s.arg(what));
    if (!sslErrors.isEmpty() || reply.error() == QNetworkReply::SslHandshakeFailedError) {
        QStringList reasons;
        for (const QSslError &e : sslErrors)
            reasons.append(e.errorString());
        if (reasons.isEmpty())
            reasons.append(reply.errorString());
        reasons.removeDuplicates();
        return Error(
            ErrorCode::Tls, u"%1: TLS verification failed: %2"_s.arg(what, reasons.join(u"; "_s)));
    }
    switch (reply.error()) {
    case QNetworkReply::TimeoutError:
        return Error(ErrorCode::Timeout, u"%1: %2"_s.arg(what, reply.errorString()));
    case QNetworkReply::OperationCanceledError:
        return Error(ErrorCode::Cancelled, u"%1: request cancelled"_s.arg(what));
    default:
        return Error(ErrorCode::Network, u"%1: %2"_s.arg(what, reply.errorString()));
    }
}

QString bodyExcerpt(const QByteArray &body, qsizetype max)
{
    QString text = QString::fromUtf8(body.left(max * 4)).simplified();
    if (text.size() > max)
        text = text.left(max) + u'…';
    return text;
}

} // namespace sparky::orchestrator::detail
