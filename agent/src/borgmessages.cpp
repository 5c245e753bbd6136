#include "borgmessages.h"

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {
constexpr qsizetype kMaxKept = 50;
constexpr qsizetype kMaxMessage = 2000;

void keep(QStringList &list, const QString &text)
{
    const QString t = text.trimmed().left(kMaxMessage);
    if (!t.isEmpty() && !list.contains(t) && list.size() < kMaxKept)
        list.append(t);
}
} // namespace

bool BorgMessages::isCorruptionMsgid(const QString &msgid)
{
    if (msgid == "FileIntegrityError"_L1) // borg's local cache, not the repository
        return false;
    static const QStringList kIds { u"IntegrityError"_s, u"DecompressionError"_s, u"TAMInvalid"_s,
        u"TAMRequiredError"_s, u"TAMUnsupportedSuiteError"_s, u"ArchiveTAMInvalid"_s,
        u"Repository.CheckNeeded"_s, u"Repository.ObjectNotFound"_s };
    return kIds.contains(msgid);
}

BorgLine BorgMessages::add(const QByteArray &raw)
{
    BorgLine line = BorgOutput::parseLine(raw);
    if (line.isError()) {
        if (line.message.startsWith("Traceback"_L1)) {
            // The traceback's last line repeats the error; keep only that.
            const QStringList lines = line.message.trimmed().split(u'\n');
            for (qsizetype i = lines.size() - 1; i >= 0; --i)
                if (lines.at(i).contains(u':') && !lines.at(i).startsWith(u' ')
                    && !lines.at(i).startsWith("Platform"_L1) && !lines.at(i).startsWith("Linux"_L1)
                    && !lines.at(i).startsWith("Borg"_L1) && !lines.at(i).startsWith("PID"_L1)
                    && !lines.at(i).startsWith("sys.argv"_L1)
                    && !lines.at(i).startsWith("SSH_ORIGINAL"_L1)) {
                    if (m_errors.isEmpty())
                        keep(m_errors, lines.at(i));
                    break;
                }
        } else {
            keep(m_errors, line.message);
        }
        if (isCorruptionMsgid(line.msgid) && m_corruption.isEmpty())
            m_corruption = line.message.trimmed().left(kMaxMessage);
    } else if (line.isWarning()) {
        if (line.message.startsWith("Remote: "_L1))
            keep(m_context, line.message);
        else
            keep(m_warnings, line.message);
    } else if (line.kind == BorgLine::Kind::Text) {
        if (!line.message.trimmed().isEmpty()) {
            if (m_context.size() >= kMaxKept)
                m_context.removeFirst();
            m_context.append(line.message.trimmed().left(kMaxMessage));
        }
    }
    return line;
}

QString BorgMessages::errorText(const QString &program, int exitCode) const
{
    QString text = m_errors.join(u"; "_s);
    QStringList context;
    for (const QString &c : m_context.mid(std::max<qsizetype>(0, m_context.size() - 3)))
        if (!context.contains(c))
            context.append(c);
    const QString ctx = context.join(u"; "_s);
    if (text.isEmpty())
        text = ctx;
    else if (!ctx.isEmpty())
        text += u" ("_s + ctx + u')';
    if (text.isEmpty())
        text = u"%1 exited with status %2"_s.arg(program).arg(exitCode);
    if (text.contains("Failed to create/acquire the lock"_L1))
        text += u" (the repository is busy: a backup, prune or check holds its lock)"_s;
    return text;
}

} // namespace sparky::agent
