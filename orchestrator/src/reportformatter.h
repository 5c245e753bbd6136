#pragma once

// Renders a report (ReportBuilder) as JSON, CSV or a plain-text table for the command line.
// CSV and table show the status at a glance (one row per node and job); JSON is the whole
// report (docs/report.schema.json). Stateless.

#include "sparky/error.h"

#include <QByteArray>
#include <QJsonObject>
#include <QString>

namespace sparky::orchestrator {

class ReportFormatter final
{
public:
    enum class Format { Json, Csv, Table };
    static Expected<Format> parseFormat(const QString &name); // json | csv | table

    static QByteArray render(const QJsonObject &report, Format format);
    static QByteArray json(const QJsonObject &report);
    static QByteArray csv(const QJsonObject &report);
    static QByteArray table(const QJsonObject &report);
};

} // namespace sparky::orchestrator
