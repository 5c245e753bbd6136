#pragma once

// The last ~64 KiB of a run's output, redacted line by line as it arrives, so the secret
// never sits in memory longer than one line and the tail sent in RunFinished is safe.
// Not thread-safe; owned by one RunExecutor.

#include "redactor.h"

#include <QString>

namespace sparky::agent {

class LogTail final
{
public:
    explicit LogTail(qsizetype maxBytes = 64 * 1024)
        : m_maxBytes(maxBytes)
    { }
    void setRedactor(const Redactor &redactor) { m_redactor = redactor; }
    const Redactor &redactor() const { return m_redactor; }
    // Appends one line (a newline is added). Long lines are cut to a quarter of the tail.
    void append(const QString &line);
    // At most maxBytes of UTF-8, starting at a line boundary when it had to cut.
    QString text() const;

private:
    Redactor m_redactor;
    QString m_text;
    qsizetype m_maxBytes;
};

} // namespace sparky::agent
