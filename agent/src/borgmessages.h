#pragma once

// What one borg invocation said on stderr (--log-json), boiled down to what an operator
// needs: the ERROR messages (a Python traceback reduced to its last line), the warnings,
// the plain text lines (ssh's own complaints), and whether borg reported damaged
// repository data (IntegrityError and relatives), so a drill can say "repository
// corrupted: …" in borg's own words. Not thread-safe; one per borg process.

#include "borgoutput.h"

#include <QString>
#include <QStringList>

namespace sparky::agent {

class BorgMessages final
{
public:
    // Parses and records one stderr line; returns it parsed for the caller's own use.
    BorgLine add(const QByteArray &raw);

    const QStringList &errors() const { return m_errors; }
    const QStringList &warnings() const { return m_warnings; }
    bool repositoryCorrupted() const { return !m_corruption.isEmpty(); }
    QString corruption() const { return m_corruption; } // borg's message

    // "<errors> (<last context lines>)", or "<program> exited with status N".
    QString errorText(const QString &program, int exitCode) const;

    static bool isCorruptionMsgid(const QString &msgid);

private:
    QStringList m_errors;
    QStringList m_warnings;
    QStringList m_context;
    QString m_corruption;
};

} // namespace sparky::agent
