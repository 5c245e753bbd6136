#pragma once

// Export: report.export (format json or csv, docs/protocol.md) written to a local file
// atomically (QSaveFile): the file is complete or untouched.
//
// Threading: GUI thread.

#include "rpcinvoker.h"

#include <QPointer>

namespace sparky::admin {

class ReportExporter final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ReportExporter)

public:
    explicit ReportExporter(RpcInvoker *invoker, QObject *parent = nullptr);
    ~ReportExporter() override;

    // format: "json" | "csv"; node: empty = the whole fleet; windowSeconds: 0 = the default.
    void exportTo(const QString &fileName, const QString &format, const QString &node = {},
        qint64 windowSeconds = 0);
    bool isBusy() const { return m_busy; }

    // "csv" for *.csv, else "json".
    static QString formatForFile(const QString &fileName);

Q_SIGNALS:
    void finished(bool ok, const QString &message);

private:
    QPointer<RpcInvoker> m_invoker;
    bool m_busy = false;
};

} // namespace sparky::admin
