#include "ctlformat.h"

#include "sparky/envelope.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace sparky::ctl {

using namespace Qt::StringLiterals;

namespace {

QString text(const QJsonValue &v)
{
    if (v.isString())
        return v.toString();
    if (v.isDouble()) {
        const double d = v.toDouble();
        return d == double(qint64(d)) ? QString::number(qint64(d)) : QString::number(d, 'f', 1);
    }
    if (v.isBool())
        return v.toBool() ? u"yes"_s : u"no"_s;
    if (v.isObject() || v.isArray())
        return QString::fromUtf8(v.isObject()
                ? QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact)
                : QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact));
    return u"-"_s;
}

QString count(const QJsonValue &v)
{
    if (!v.isDouble())
        return u"-"_s;
    QString digits = QString::number(v.toInteger());
    for (qsizetype i = digits.size() - 3; i > (digits.startsWith(u'-') ? 1 : 0); i -= 3)
        digits.insert(i, u',');
    return digits;
}

// One line: control characters shown as '?', so a file name cannot move the cursor.
QString printable(const QString &s)
{
    QString out = s;
    for (QChar &c : out)
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            c = u'?';
    return out;
}

} // namespace

QString CtlFormat::bytes(const QJsonValue &v)
{
    if (!v.isDouble())
        return u"-"_s;
    double n = v.toDouble();
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    int u = 0;
    while (std::abs(n) >= 1024 && u < 5) {
        n /= 1024;
        ++u;
    }
    return u == 0 ? u"%1 B"_s.arg(qint64(n))
                  : u"%1 %2"_s.arg(n, 0, 'f', 1).arg(QLatin1StringView(units[u]));
}

QString CtlFormat::duration(double seconds)
{
    if (seconds < 0)
        return u"-"_s;
    if (seconds < 60)
        return u"%1 s"_s.arg(seconds, 0, 'f', 1);
    const qint64 s = qint64(seconds);
    if (s < 3600)
        return u"%1 min %2 s"_s.arg(s / 60).arg(s % 60);
    if (s < 2 * 86400)
        return u"%1 h %2 min"_s.arg(s / 3600).arg(s % 3600 / 60);
    return u"%1 d %2 h"_s.arg(s / 86400).arg(s % 86400 / 3600);
}

QString CtlFormat::time(const QJsonValue &v)
{
    if (!v.isString())
        return u"-"_s;
    auto t = parseTimestamp(v.toString());
    if (!t)
        return printable(v.toString());
    return t->toUTC().toString(u"yyyy-MM-dd HH:mm:ss"_s);
}

QString CtlFormat::table(const QList<QStringList> &rows)
{
    QList<qsizetype> widths;
    for (const QStringList &row : rows)
        for (qsizetype i = 0; i < row.size(); ++i) {
            if (widths.size() <= i)
                widths.append(0);
            widths[i] = std::max(widths[i], row.at(i).size());
        }
    QString out;
    for (const QStringList &row : rows) {
        QString line;
        for (qsizetype i = 0; i < row.size(); ++i)
            line += i + 1 == row.size() ? row.at(i) : row.at(i).leftJustified(widths[i] + 2);
        out += line.trimmed().isEmpty() ? QString() : line + u'\n';
    }
    return out;
}

QString CtlFormat::fleet(const QJsonObject &s)
{
    const QJsonObject f = s.value("fleet"_L1).toObject();
    QString out = u"fleet %1: %2/%3 nodes online, %4/%5 jobs ok, %6 RPO breaches, %7 failures\n"_s
                      .arg(text(f.value("status"_L1)), text(f.value("nodes_online"_L1)),
                          text(f.value("nodes"_L1)), text(f.value("jobs_ok"_L1)),
                          text(f.value("jobs"_L1)), text(f.value("rpo_breaches"_L1)),
                          text(f.value("failures"_L1)));
    QList<QStringList> rows { { u"NODE"_s, u"ONLINE"_s, u"JOB"_s, u"STATUS"_s, u"LAST"_s,
        u"LAST SUCCESS"_s, u"AGE"_s, u"RPO"_s, u"FAILURES"_s } };
    for (const QJsonValue &nv : s.value("nodes"_L1).toArray()) {
        const QJsonObject n = nv.toObject();
        const QJsonArray jobs = n.value("jobs"_L1).toArray();
        if (jobs.isEmpty())
            rows.append({ text(n.value("node"_L1)), text(n.value("online"_L1)), u"-"_s,
                text(n.value("status"_L1)), u"-"_s, u"-"_s, u"-"_s, u"-"_s, u"-"_s });
        for (const QJsonValue &jv : jobs) {
            const QJsonObject j = jv.toObject();
            const qint64 rpo = j.value("rpo_seconds"_L1).toInteger();
            rows.append({ text(n.value("node"_L1)), text(n.value("online"_L1)),
                text(j.value("job"_L1)),
                text(j.value("status"_L1))
                    + (j.value("rpo_breached"_L1).toBool() ? u" (RPO)"_s : QString()),
                text(j.value("last_status"_L1)), time(j.value("last_success_at"_L1)),
                j.value("age_seconds"_L1).isDouble()
                    ? duration(j.value("age_seconds"_L1).toDouble())
                    : u"-"_s,
                rpo > 0 ? duration(double(rpo)) : u"-"_s,
                text(j.value("failures_since_success"_L1)) });
        }
    }
    return out + table(rows);
}

QString CtlFormat::runs(const QJsonObject &page)
{
    QList<QStringList> rows { { u"STARTED"_s, u"NODE"_s, u"JOB"_s, u"KIND"_s, u"STATUS"_s,
        u"DURATION"_s, u"FILES"_s, u"ORIGINAL"_s, u"DEDUP"_s, u"RUN"_s } };
    for (const QJsonValue &v : page.value("runs"_L1).toArray()) {
        const QJsonObject r = v.toObject();
        rows.append({ time(r.value("started_at"_L1)), text(r.value("node"_L1)),
            text(r.value("job"_L1)), text(r.value("kind"_L1)), text(r.value("status"_L1)),
            r.value("duration_seconds"_L1).isDouble()
                ? duration(r.value("duration_seconds"_L1).toDouble())
                : u"-"_s,
            count(r.value("files"_L1)), bytes(r.value("original_size"_L1)),
            bytes(r.value("deduplicated_size"_L1)), text(r.value("run_id"_L1)) });
    }
    return table(rows);
}

QString CtlFormat::commands(const QJsonObject &page)
{
    QList<QStringList> rows { { u"ISSUED"_s, u"ID"_s, u"NODE"_s, u"TYPE"_s, u"STATE"_s,
        u"BY"_s, u"RUN"_s, u"ERROR"_s } };
    for (const QJsonValue &v : page.value("commands"_L1).toArray()) {
        const QJsonObject c = v.toObject();
        rows.append({ time(c.value("issued_at"_L1)), text(c.value("id"_L1)),
            text(c.value("node"_L1)), text(c.value("type"_L1)), text(c.value("state"_L1)),
            text(c.value("issued_by"_L1)), text(c.value("run_id"_L1)),
            printable(c.value("error"_L1).toString().left(100)) });
    }
    return table(rows);
}

QString CtlFormat::command(const QJsonObject &c)
{
    QList<QStringList> rows;
    for (const char *key : { "id", "node", "type", "state", "issued_by", "issued_at", "expires_at",
             "published_at", "received_at", "running_at", "finished_at", "run_id", "error" }) {
        const QJsonValue v = c.value(QLatin1StringView(key));
        if (v.isNull() || v.isUndefined())
            continue;
        rows.append({ QLatin1StringView(key) + u':',
            QLatin1StringView(key).endsWith("_at"_L1) ? time(v) : printable(text(v)) });
    }
    rows.append({ u"params:"_s, text(c.value("params"_L1)) });
    if (c.value("result"_L1).isObject())
        rows.append({ u"result:"_s, text(c.value("result"_L1)).left(2000) });
    QString out = table(rows);
    if (c.value("run"_L1).isObject())
        out += u"run:\n"_s + runs(QJsonObject { { u"runs"_s, QJsonArray { c.value("run"_L1) } } });
    return out;
}

QString CtlFormat::archives(const QJsonObject &r)
{
    QList<QStringList> rows { { u"ARCHIVE"_s, u"START"_s, u"KIND"_s, u"FILES"_s, u"ORIGINAL"_s,
        u"COMPRESSED"_s, u"DEDUP"_s } };
    for (const QJsonValue &v : r.value("archives"_L1).toArray()) {
        const QJsonObject a = v.toObject();
        const QJsonObject st = a.value("stats"_L1).toObject();
        QString kind = text(a.value("kind"_L1));
        if (a.value("database"_L1).isString())
            kind += u":"_s + a.value("database"_L1).toString();
        rows.append({ printable(text(a.value("name"_L1))), time(a.value("start"_L1)), kind,
            count(st.value("files"_L1)), bytes(st.value("original_size"_L1)),
            bytes(st.value("compressed_size"_L1)), bytes(st.value("deduplicated_size"_L1)) });
    }
    QString out = table(rows);
    const qint64 shown = r.value("archives"_L1).toArray().size();
    if (r.value("total"_L1).isDouble())
        out += u"%1 of %2 archives%3\n"_s.arg(shown)
                   .arg(r.value("total"_L1).toInteger())
                   .arg(r.value("truncated"_L1).toBool() ? u" (the newest only)"_s : QString());
    return out;
}

QString CtlFormat::listing(const QJsonObject &r)
{
    QList<QStringList> rows;
    for (const QJsonValue &v : r.value("entries"_L1).toArray()) {
        const QJsonObject e = v.toObject();
        const QString type = e.value("type"_L1).toString();
        QString name = printable(e.value("name"_L1).toString());
        if (type == u"dir")
            name += u'/';
        if (e.value("target"_L1).isString())
            name += u" -> "_s + printable(e.value("target"_L1).toString());
        rows.append({ type == u"dir" ? u"d"_s
                : type == u"link"    ? u"l"_s
                : type == u"file"    ? u"-"_s
                                     : u"?"_s,
            e.value("mode"_L1).isString() ? e.value("mode"_L1).toString() : u"-"_s,
            type == u"dir" ? u"-"_s : bytes(e.value("size"_L1)), time(e.value("mtime"_L1)),
            name });
    }
    return table(rows);
}

QString CtlFormat::runReport(const QJsonObject &run)
{
    const QString kind = text(run.value("kind"_L1));
    QString out = u"%1 of %2/%3, run %4: %5"_s.arg(kind, text(run.value("node"_L1)),
        text(run.value("job"_L1)), text(run.value("run_id"_L1)), text(run.value("status"_L1)));
    if (run.value("duration_seconds"_L1).isDouble())
        out += u" in "_s + duration(run.value("duration_seconds"_L1).toDouble());
    out += u'\n';
    QList<QStringList> rows;
    if (run.value("archive_name"_L1).isString())
        rows.append({ u"archive:"_s, printable(run.value("archive_name"_L1).toString()) });
    if (run.value("files"_L1).isDouble())
        rows.append({ u"files:"_s, count(run.value("files"_L1)) });
    if (run.value("original_size"_L1).isDouble())
        rows.append({ u"original:"_s, bytes(run.value("original_size"_L1)) });
    if (run.value("compressed_size"_L1).isDouble())
        rows.append({ u"compressed:"_s, bytes(run.value("compressed_size"_L1)) });
    if (run.value("deduplicated_size"_L1).isDouble())
        rows.append({ u"deduplicated:"_s, bytes(run.value("deduplicated_size"_L1)) });
    // Kind-specific details as the agent reported them (restore: files, bytes, target …).
    const QJsonObject details = run.value("details"_L1).toObject();
    for (auto it = details.constBegin(); it != details.constEnd(); ++it)
        rows.append({ it.key() + u':',
            it.key().endsWith(u"bytes"_s) || it.key().endsWith(u"size"_s)
                ? bytes(it.value()) + u" ("_s + count(it.value()) + u')'
                : printable(text(it.value())).left(300) });
    if (run.value("failed_step"_L1).isString())
        rows.append({ u"failed step:"_s, printable(run.value("failed_step"_L1).toString()) });
    if (run.value("error"_L1).isString())
        rows.append({ u"error:"_s, printable(run.value("error"_L1).toString()) });
    out += table(rows);
    return out;
}

QString CtlFormat::progress(const QJsonObject &run)
{
    const QJsonObject p = run.value("progress"_L1).toObject();
    if (p.isEmpty())
        return {};
    QString line = text(p.value("step"_L1)) + u": "_s + count(p.value("files"_L1)) + u" files, "_s
        + bytes(p.value("original_size"_L1)) + u" read"_s;
    if (p.value("deduplicated_size"_L1).toInteger() > 0)
        line += u", "_s + bytes(p.value("deduplicated_size"_L1)) + u" new"_s;
    if (p.value("current_path"_L1).isString())
        line += u"  "_s + printable(p.value("current_path"_L1).toString()).right(80);
    return line;
}

} // namespace sparky::ctl
