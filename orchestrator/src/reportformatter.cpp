#include "reportformatter.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QStringList>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

namespace {

// node and online come from the node, the rest from the job (same names as the JSON).
// New columns go at the end, so scripts that read the CSV by position keep working.
const QStringList kColumns { u"node"_s, u"online"_s, u"job"_s, u"status"_s, u"last_status"_s,
    u"last_success_at"_s, u"age_seconds"_s, u"rpo_seconds"_s, u"rpo_breached"_s,
    u"failures_since_success"_s, u"last_run_at"_s, u"rpo_due_at"_s, u"last_check_status"_s,
    u"last_check_at"_s, u"last_drill_status"_s, u"last_drill_at"_s, u"last_drill_success_at"_s };

QString cell(const QJsonValue &v)
{
    switch (v.type()) {
    case QJsonValue::Null:
    case QJsonValue::Undefined:
        return {};
    case QJsonValue::Bool:
        return v.toBool() ? u"true"_s : u"false"_s;
    case QJsonValue::Double:
        return QString::number(qint64(v.toDouble()));
    case QJsonValue::String:
        return v.toString();
    default:
        return QString::fromUtf8(
            QJsonDocument::fromVariant(v.toVariant()).toJson(QJsonDocument::Compact));
    }
}

QList<QStringList> rows(const QJsonObject &report)
{
    QList<QStringList> out;
    for (const QJsonValue &nv : report.value("nodes"_L1).toArray()) {
        const QJsonObject n = nv.toObject();
        const QJsonArray jobs = n.value("jobs"_L1).toArray();
        if (jobs.isEmpty()) {
            QStringList r { n.value("node"_L1).toString(), cell(n.value("online"_L1)), QString(),
                n.value("status"_L1).toString() };
            while (r.size() < kColumns.size())
                r.append(QString());
            out.append(r);
            continue;
        }
        for (const QJsonValue &jv : jobs) {
            const QJsonObject j = jv.toObject();
            QStringList r { n.value("node"_L1).toString(), cell(n.value("online"_L1)) };
            for (qsizetype c = 2; c < kColumns.size(); ++c)
                r.append(cell(j.value(kColumns.at(c))));
            out.append(r);
        }
    }
    return out;
}

QString csvField(const QString &s)
{
    if (s.contains(u',') || s.contains(u'"') || s.contains(u'\n') || s.contains(u'\r'))
        return u'"' + QString(s).replace(u"\""_s, u"\"\""_s) + u'"';
    return s;
}

} // namespace

Expected<ReportFormatter::Format> ReportFormatter::parseFormat(const QString &name)
{
    if (name == u"json")
        return Format::Json;
    if (name == u"csv")
        return Format::Csv;
    if (name == u"table")
        return Format::Table;
    return unexpected(
        ErrorCode::InvalidArgument, u"unknown format '%1' (json, csv or table)"_s.arg(name));
}

QByteArray ReportFormatter::render(const QJsonObject &report, Format format)
{
    switch (format) {
    case Format::Json:
        return json(report);
    case Format::Csv:
        return csv(report);
    case Format::Table:
        return table(report);
    }
    return json(report);
}

QByteArray ReportFormatter::json(const QJsonObject &report)
{
    return QJsonDocument(report).toJson(QJsonDocument::Indented);
}

QByteArray ReportFormatter::csv(const QJsonObject &report)
{
    QString out = kColumns.join(u',') + u"\r\n"_s;
    for (const QStringList &r : rows(report)) {
        QStringList fields;
        for (const QString &f : r)
            fields.append(csvField(f));
        out += fields.join(u',') + u"\r\n"_s;
    }
    return out.toUtf8();
}

QByteArray ReportFormatter::table(const QJsonObject &report)
{
    const QList<QStringList> body = rows(report);
    QList<qsizetype> width;
    for (const QString &c : kColumns)
        width.append(c.size());
    for (const QStringList &r : body)
        for (qsizetype i = 0; i < r.size(); ++i)
            width[i] = std::max(width[i], r.at(i).size());
    auto line = [&](const QStringList &r) -> QString {
        QString s;
        for (qsizetype i = 0; i < r.size(); ++i)
            s += (i ? u"  "_s : QString()) + r.at(i).leftJustified(width[i]);
        return s.trimmed() + u'\n';
    };
    const QJsonObject fleet = report.value("fleet"_L1).toObject();
    QString out
        = u"fleet %1: %2/%3 nodes online, %4/%5 jobs ok, %6 RPO breaches, %7 failures since %8, "
          "%9 failed restore drills\n\n"_s.arg(fleet.value("status"_L1).toString())
              .arg(fleet.value("nodes_online"_L1).toInt())
              .arg(fleet.value("nodes"_L1).toInt())
              .arg(fleet.value("jobs_ok"_L1).toInt())
              .arg(fleet.value("jobs"_L1).toInt())
              .arg(fleet.value("rpo_breaches"_L1).toInt())
              .arg(fleet.value("failures"_L1).toInt())
              .arg(report.value("window"_L1).toObject().value("since"_L1).toString())
              .arg(fleet.value("jobs_drill_failed"_L1).toInt());
    out += line(kColumns);
    for (const QStringList &r : body)
        out += line(r);
    return out.toUtf8();
}

} // namespace sparky::orchestrator
