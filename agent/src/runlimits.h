#pragma once

// Bounds on what runs report, shared by RunExecutor (backups, checks), RunBase (restores,
// drills) and the archive listings, and the clip that applies them. Header-only.

#include <QString>

namespace sparky::agent {

inline constexpr qint64 kProgressIntervalMs = 1000; // run.progress at most this often
inline constexpr qsizetype kMaxStepError = 4000; // one step's error text
inline constexpr qsizetype kMaxRunError = 16000; // the run's error text
inline constexpr qsizetype kMaxProgressPath = 1024; // the path in a run.progress

// `s`, cut to `max` characters (the last one an ellipsis) when it is longer.
inline QString clipText(const QString &s, qsizetype max)
{
    return s.size() <= max ? s : s.left(max - 1) + QChar(0x2026);
}

} // namespace sparky::agent
