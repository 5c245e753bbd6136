#include "reportexporter.h"

#include "adminlogging.h"

#include <QSaveFile>

namespace sparky::admin {

using namespace Qt::StringLiterals;

ReportExporter::ReportExporter(RpcInvoker *invoker, QObject *parent)
    : QObject(parent)
    , m_invoker(invoker)
{ }

ReportExporter::~ReportExporter() = default;

QString ReportExporter::formatForFile(const QString &fileName)
{
    return fileName.endsWith(u".csv"_s, Qt::CaseInsensitive) ? u"csv"_s : u"json"_s;
}

void ReportExporter::exportTo(
    const QString &fileName, const QString &format, const QString &node, qint64 windowSeconds)
{
    if (!m_invoker || m_busy)
        return;
    QJsonObject params { { u"format"_s, format } };
    if (!node.isEmpty())
        params.insert(u"node"_s, node);
    if (windowSeconds > 0)
        params.insert(u"window_seconds"_s, windowSeconds);
    m_busy = true;
    m_invoker->invoke(u"report.export"_s, params, this, [this, fileName](const RpcReply &r) {
        m_busy = false;
        if (!r.ok) {
            Q_EMIT finished(false, r.describe());
            return;
        }
        const QByteArray content = r.result.value("content"_L1).toString().toUtf8();
        QSaveFile file(fileName);
        if (!file.open(QIODevice::WriteOnly) || file.write(content) != content.size()
            || !file.commit()) {
            Q_EMIT finished(false, u"cannot write %1: %2"_s.arg(fileName, file.errorString()));
            return;
        }
        qCInfo(lcAdmin).noquote() << "exported the report to" << fileName;
        Q_EMIT finished(true,
            u"report exported to %1 (%2, %3 bytes)"_s
                .arg(fileName, r.result.value("format"_L1).toString())
                .arg(content.size()));
    });
}

} // namespace sparky::admin
