#include "rundetails.h"

#include "displayformat.h"
#include "statusstyle.h"

#include <QJsonArray>

namespace sparky::admin {

using namespace Qt::StringLiterals;

RunDetails::RunDetails(RpcInvoker *invoker, QObject *parent)
    : QObject(parent)
    , m_invoker(invoker)
{ }

RunDetails::~RunDetails() = default;

void RunDetails::load(const QString &node, const QString &runId)
{
    if (!m_invoker)
        return;
    const quint64 generation = ++m_generation;
    m_loading = true;
    m_invoker->invoke(u"run.get"_s, { { u"node"_s, node }, { u"run_id"_s, runId } }, this,
        [this, generation](const RpcReply &r) {
            if (generation != m_generation)
                return;
            m_loading = false;
            if (!r.ok) {
                Q_EMIT errorOccurred(r.describe());
                return;
            }
            setRun(r.result);
        });
}

void RunDetails::clear()
{
    ++m_generation;
    m_loading = false;
    m_run = {};
    m_steps.setSteps({});
    Q_EMIT loaded();
}

void RunDetails::setRun(const QJsonObject &run)
{
    m_run = run;
    m_steps.setSteps(run.value("steps"_L1).toArray());
    Q_EMIT loaded();
}

QString RunDetails::statsText(const QJsonObject &r)
{
    QStringList parts;
    if (r.value("archive_name"_L1).isString())
        parts << u"Archive "_s + r.value("archive_name"_L1).toString();
    QStringList sizes;
    auto size = [&](const char *key, const QString &label) {
        const QJsonValue v = r.value(QLatin1StringView(key));
        if (v.isDouble())
            sizes << label + u' ' + DisplayFormat::bytes(v.toInteger());
    };
    size("original_size", u"original"_s);
    size("compressed_size", u"compressed"_s);
    size("deduplicated_size", u"deduplicated"_s);
    if (!sizes.isEmpty())
        parts << sizes.join(u", "_s);
    if (r.value("files"_L1).isDouble())
        parts << u"%1 files"_s.arg(r.value("files"_L1).toInteger());
    if (r.value("duration_seconds"_L1).isDouble())
        parts << DisplayFormat::duration(r.value("duration_seconds"_L1).toDouble());
    return parts.join(u" · "_s);
}

QString RunDetails::detailsText(const QJsonObject &r)
{
    const QJsonObject d = r.value("details"_L1).toObject();
    const QString kind = r.value("kind"_L1).toString();
    QStringList parts;
    if (kind == u"restore") {
        if (d.value("database"_L1).isString())
            parts << u"restored into database %1"_s.arg(d.value("database"_L1).toString());
        else if (d.value("target"_L1).isString())
            parts << u"restored to %1"_s.arg(d.value("target"_L1).toString());
        if (d.value("files"_L1).isDouble())
            parts << u"%1 files"_s.arg(d.value("files"_L1).toInteger());
        if (d.value("bytes"_L1).isDouble())
            parts << DisplayFormat::bytes(d.value("bytes"_L1).toInteger());
        if (const qsizetype errors = d.value("errors"_L1).toArray().size(); errors > 0)
            parts << u"%1 error(s) from borg"_s.arg(errors);
    } else if (kind == u"drill") {
        if (d.value("files_checked"_L1).isDouble()) {
            const qint64 differ = d.value("mismatches_total"_L1)
                                      .toInteger(d.value("mismatches"_L1).toArray().size());
            parts << u"%1 sampled files checked, %2"_s.arg(d.value("files_checked"_L1).toInteger())
                         .arg(differ == 0 ? u"all match"_s : u"%1 differ"_s.arg(differ));
        }
        if (const qsizetype dbs = d.value("databases"_L1).toArray().size(); dbs > 0)
            parts << u"%1 database(s) restored to scratch and checked"_s.arg(dbs);
    }
    return parts.join(u", "_s);
}

QString RunDetails::headline(const QJsonObject &r)
{
    if (r.isEmpty())
        return {};
    QString text
        = u"%1 of %2/%3 — %4"_s.arg(r.value("kind"_L1).toString(), r.value("node"_L1).toString(),
            r.value("job"_L1).toString(), StatusStyle::label(r.value("status"_L1).toString()));
    if (r.value("trigger"_L1).isString())
        text += u" (trigger %1)"_s.arg(r.value("trigger"_L1).toString());
    text += u", started %1"_s.arg(DisplayFormat::time(r.value("started_at"_L1)));
    if (r.value("finished_at"_L1).isString())
        text += u", finished %1 UTC"_s.arg(DisplayFormat::time(r.value("finished_at"_L1)));
    return text;
}

} // namespace sparky::admin
