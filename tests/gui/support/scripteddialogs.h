#pragma once

// The Dialogs a test answers (KeePassXC's MessageBox::setNextAnswer habit): every question
// the console asks is recorded, and answered by what the test set up — a file name, a
// handler for the restore and profile dialogs (which may drive the real dialog widgets
// without a nested event loop), queued yes/no answers. Nothing is modal.
//
// Threading: the test's main thread.

#include "dialogs.h"

#include <QList>
#include <QStringList>
#include <functional>

namespace sparky::admin::test {

class ScriptedDialogs final : public Dialogs
{
public:
    using RestoreHandler = std::function<std::optional<RestoreRequest>(
        QWidget *parent, const RestoreRequest &proposal)>;
    using ProfileHandler = std::function<std::optional<ProfileInput>(
        QWidget *parent, const ConnectionProfile &profile, bool firstRun)>;
    struct Message
    {
        QString title;
        QString text;
    };

    ScriptedDialogs() = default;
    ~ScriptedDialogs() override;
    Q_DISABLE_COPY_MOVE(ScriptedDialogs)

    // Answers.
    void setSaveFileName(const QString &fileName) { m_saveFileName = fileName; }
    void setRestoreHandler(RestoreHandler handler) { m_restore = std::move(handler); }
    void setProfileHandler(ProfileHandler handler) { m_profile = std::move(handler); }
    void queueConfirm(bool answer) { m_confirmAnswers.append(answer); } // default: no

    // What was asked.
    const QList<Message> &errors() const { return m_errors; }
    const QList<Message> &confirms() const { return m_confirms; }
    const QList<RestoreRequest> &restoreProposals() const { return m_restoreProposals; }
    int profileQuestions() const { return m_profileQuestions; }
    int saveQuestions() const { return m_saveQuestions; }

    QString saveFileName(QWidget *parent, const QString &title, const QString &suggested,
        const QString &filter) override;
    std::optional<RestoreRequest> restoreOptions(
        QWidget *parent, const RestoreRequest &proposal) override;
    std::optional<ProfileInput> editProfile(
        QWidget *parent, const ConnectionProfile &profile, bool firstRun) override;
    bool confirm(QWidget *parent, const QString &title, const QString &text) override;
    void showError(QWidget *parent, const QString &title, const QString &text) override;

private:
    QString m_saveFileName;
    RestoreHandler m_restore;
    ProfileHandler m_profile;
    QList<bool> m_confirmAnswers;
    QList<Message> m_errors;
    QList<Message> m_confirms;
    QList<RestoreRequest> m_restoreProposals;
    int m_profileQuestions = 0;
    int m_saveQuestions = 0;
};

} // namespace sparky::admin::test
