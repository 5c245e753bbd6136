#include "scripteddialogs.h"

namespace sparky::admin::test {

ScriptedDialogs::~ScriptedDialogs() = default;

QString ScriptedDialogs::saveFileName(QWidget *, const QString &, const QString &, const QString &)
{
    ++m_saveQuestions;
    return m_saveFileName;
}

std::optional<RestoreRequest> ScriptedDialogs::restoreOptions(
    QWidget *parent, const RestoreRequest &proposal)
{
    m_restoreProposals.append(proposal);
    if (!m_restore)
        return std::nullopt; // cancelled
    return m_restore(parent, proposal);
}

std::optional<ProfileInput> ScriptedDialogs::editProfile(
    QWidget *parent, const ConnectionProfile &profile, bool firstRun)
{
    ++m_profileQuestions;
    if (!m_profile)
        return std::nullopt;
    return m_profile(parent, profile, firstRun);
}

bool ScriptedDialogs::confirm(QWidget *, const QString &title, const QString &text)
{
    m_confirms.append(Message { title, text });
    return m_confirmAnswers.isEmpty() ? false : m_confirmAnswers.takeFirst();
}

void ScriptedDialogs::showError(QWidget *, const QString &title, const QString &text)
{
    m_errors.append(Message { title, text });
}

} // namespace sparky::admin::test
