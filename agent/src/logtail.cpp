#include "logtail.h"

namespace sparky::agent {

using namespace Qt::StringLiterals;

void LogTail::append(const QString &line)
{
    QString l = m_redactor.redact(line);
    if (l.size() > m_maxBytes / 4)
        l = l.left(m_maxBytes / 4) + u" …"_s;
    m_text += l + u'\n';
    // Amortised trim: keep up to twice the budget, cut back when exceeded.
    if (m_text.size() > 2 * m_maxBytes)
        m_text = m_text.right(m_maxBytes);
}

QString LogTail::text() const
{
    QString t = m_text;
    while (t.toUtf8().size() > m_maxBytes) {
        const qsizetype excess = t.toUtf8().size() - m_maxBytes;
        const qsizetype cut = t.indexOf(u'\n', std::max<qsizetype>(excess / 2, 1));
        t = cut >= 0 ? t.mid(cut + 1) : t.right(m_maxBytes / 4);
    }
    return t;
}

} // namespace sparky::agent
