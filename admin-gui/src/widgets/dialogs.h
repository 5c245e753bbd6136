#pragma once

// Every modal question the console asks goes through this interface (KeePassXC's
// MessageBox::setNextAnswer habit), so a test can answer it: WidgetDialogs shows the real
// dialogs; tests install a scripted implementation.
//
// Threading: GUI thread.

#include "connectionprofile.h"
#include "restorerequest.h"

#include <QByteArray>
#include <QString>
#include <optional>

class QWidget;

namespace sparky::admin {

// What the profile dialog returns: the profile, and the token typed in (if any).
struct ProfileInput
{
    ConnectionProfile profile;
    QByteArray token; // empty: keep the stored one
    bool rememberToken = true; // store it in the keychain
};

class Dialogs
{
public:
    Dialogs() = default;
    virtual ~Dialogs();
    Q_DISABLE_COPY_MOVE(Dialogs)

    // Empty when cancelled.
    virtual QString saveFileName(
        QWidget *parent, const QString &title, const QString &suggested, const QString &filter)
        = 0;
    // The restore options the operator chose for `proposal`, or nothing (cancelled).
    virtual std::optional<RestoreRequest> restoreOptions(
        QWidget *parent, const RestoreRequest &proposal)
        = 0;
    virtual std::optional<ProfileInput> editProfile(
        QWidget *parent, const ConnectionProfile &profile, bool firstRun)
        = 0;
    virtual bool confirm(QWidget *parent, const QString &title, const QString &text) = 0;
    virtual void showError(QWidget *parent, const QString &title, const QString &text) = 0;
};

// The real dialogs (QFileDialog, QMessageBox, RestoreDialog, ProfileDialog).
class WidgetDialogs final : public Dialogs
{
public:
    WidgetDialogs() = default;
    ~WidgetDialogs() override;
    Q_DISABLE_COPY_MOVE(WidgetDialogs)

    QString saveFileName(QWidget *parent, const QString &title, const QString &suggested,
        const QString &filter) override;
    std::optional<RestoreRequest> restoreOptions(
        QWidget *parent, const RestoreRequest &proposal) override;
    std::optional<ProfileInput> editProfile(
        QWidget *parent, const ConnectionProfile &profile, bool firstRun) override;
    bool confirm(QWidget *parent, const QString &title, const QString &text) override;
    void showError(QWidget *parent, const QString &title, const QString &text) override;
};

} // namespace sparky::admin
