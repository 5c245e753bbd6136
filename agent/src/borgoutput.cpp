#include "borgoutput.h"

#include "sparky/envelope.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimeZone>

namespace sparky::agent {

using namespace Qt::StringLiterals;

QString BorgLine::logText() const
{
    switch (kind) {
    case Kind::Text:
        return message;
    case Kind::LogMessage:
        return level + u' ' + message;
    case Kind::ProgressMessage:
        return message.isEmpty() ? QString() : u"progress "_s + message;
    case Kind::FileStatus:
        return message + u' ' + path;
    case Kind::ArchiveProgress:
    case Kind::ProgressPercent:
    case Kind::Other:
        return {};
    }
    return {};
}

BorgLine BorgOutput::parseLine(const QByteArray &raw)
{
    BorgLine l;
    const QByteArray line = raw.trimmed();
    if (!line.startsWith('{')) {
        l.message = QString::fromUtf8(line);
        return l;
    }
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(line, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject()) {
        l.message = QString::fromUtf8(line);
        return l;
    }
    const QJsonObject o = doc.object();
    const QString type = o.value("type"_L1).toString();
    l.message = o.value("message"_L1).toString();
    l.msgid = o.value("msgid"_L1).toString();
    l.finished = o.value("finished"_L1).toBool();
    if (type == "log_message"_L1) {
        l.kind = BorgLine::Kind::LogMessage;
        l.level = o.value("levelname"_L1).toString();
        l.name = o.value("name"_L1).toString();
    } else if (type == "archive_progress"_L1) {
        l.kind = BorgLine::Kind::ArchiveProgress;
        l.originalSize = qint64(o.value("original_size"_L1).toDouble());
        l.compressedSize = qint64(o.value("compressed_size"_L1).toDouble());
        l.deduplicatedSize = qint64(o.value("deduplicated_size"_L1).toDouble());
        l.files = qint64(o.value("nfiles"_L1).toDouble());
        l.path = o.value("path"_L1).toString();
    } else if (type == "progress_message"_L1) {
        l.kind = BorgLine::Kind::ProgressMessage;
    } else if (type == "progress_percent"_L1) {
        l.kind = BorgLine::Kind::ProgressPercent;
        l.current = qint64(o.value("current"_L1).toDouble());
        l.total = qint64(o.value("total"_L1).toDouble());
        const QJsonValue info = o.value("info"_L1);
        if (info.isArray() && !info.toArray().isEmpty())
            l.path = info.toArray().first().toString();
    } else if (type == "file_status"_L1) {
        l.kind = BorgLine::Kind::FileStatus;
        l.message = o.value("status"_L1).toString();
        l.path = o.value("path"_L1).toString();
    } else {
        l.kind = BorgLine::Kind::Other;
    }
    return l;
}

Expected<protocol::RunStats> BorgOutput::parseCreateResult(const QByteArray &json)
{
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject())
        return unexpected(ErrorCode::Parse,
            u"borg create --json output is not JSON: %1"_s.arg(err.errorString()));
    const QJsonObject archive = doc.object().value("archive"_L1).toObject();
    if (archive.isEmpty())
        return unexpected(ErrorCode::Parse, u"borg create --json output has no \"archive\""_s);
    const QJsonObject stats = archive.value("stats"_L1).toObject();
    protocol::RunStats s;
    s.archiveName = archive.value("name"_L1).toString();
    s.archiveId = archive.value("id"_L1).toString();
    s.originalSize = qint64(stats.value("original_size"_L1).toDouble());
    s.compressedSize = qint64(stats.value("compressed_size"_L1).toDouble());
    s.deduplicatedSize = qint64(stats.value("deduplicated_size"_L1).toDouble());
    s.files = qint64(stats.value("nfiles"_L1).toDouble());
    s.durationSeconds = archive.value("duration"_L1).toDouble();
    if (s.archiveName.isEmpty())
        return unexpected(
            ErrorCode::Parse, u"borg create --json output: archive.name is missing"_s);
    return s;
}

QString BorgOutput::repositoryId(const QByteArray &json)
{
    const QJsonDocument doc = QJsonDocument::fromJson(json);
    return doc.object().value("repository"_L1).toObject().value("id"_L1).toString();
}

QString BorgOutput::isoUtc(const QString &borgTime)
{
    if (borgTime.isEmpty())
        return {};
    QDateTime t = QDateTime::fromString(borgTime.left(23), Qt::ISODateWithMs);
    if (!t.isValid())
        t = QDateTime::fromString(borgTime.left(19), Qt::ISODate);
    if (!t.isValid())
        return {};
    t.setTimeZone(QTimeZone::utc());
    return formatTimestamp(t);
}

} // namespace sparky::agent
