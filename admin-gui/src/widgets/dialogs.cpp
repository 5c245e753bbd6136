#include "dialogs.h"

#include "profiledialog.h"
#include "restoredialog.h"

#include <QFileDialog>
#include <QMessageBox>

namespace sparky::admin {

Dialogs::~Dialogs() = default;
WidgetDialogs::~WidgetDialogs() = default;

QString WidgetDialogs::saveFileName(
    QWidget *parent, const QString &title, const QString &suggested, const QString &filter)
{
    return QFileDialog::getSaveFileName(parent, title, suggested, filter);
}

std::optional<RestoreRequest> WidgetDialogs::restoreOptions(
    QWidget *parent, const RestoreRequest &proposal)
{
    RestoreDialog dialog(parent);
    dialog.setRequest(proposal);
    if (dialog.exec() != QDialog::Accepted)
        return std::nullopt;
    return dialog.request();
}

std::optional<ProfileInput> WidgetDialogs::editProfile(
    QWidget *parent, const ConnectionProfile &profile, bool firstRun)
{
    ProfileDialog dialog(parent);
    dialog.setFirstRun(firstRun);
    dialog.setProfile(profile);
    if (dialog.exec() != QDialog::Accepted)
        return std::nullopt;
    return dialog.input();
}

bool WidgetDialogs::confirm(QWidget *parent, const QString &title, const QString &text)
{
    return QMessageBox::question(parent, title, text) == QMessageBox::Yes;
}

void WidgetDialogs::showError(QWidget *parent, const QString &title, const QString &text)
{
    QMessageBox::warning(parent, title, text);
}

} // namespace sparky::admin
