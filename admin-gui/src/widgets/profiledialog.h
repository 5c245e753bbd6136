#pragma once

// Creates or edits a connection profile: broker hosts, vhost, user, token (stored in the
// desktop keychain, or used for this session only), CA file, optional client certificate.
// On first run it explains what is needed. accept() refuses an invalid profile and names
// the field.
//
// Threading: GUI thread.

#include "dialogs.h"

#include <QDialog>

class QCheckBox;
class QLabel;
class QLineEdit;

namespace sparky::admin {

class ProfileDialog final : public QDialog
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ProfileDialog)

public:
    explicit ProfileDialog(QWidget *parent = nullptr);
    ~ProfileDialog() override;

    void setFirstRun(bool firstRun);
    void setProfile(const ConnectionProfile &profile);
    ProfileInput input() const;
    void accept() override;

private:
    QLabel *m_intro = nullptr;
    QLineEdit *m_name = nullptr;
    QLineEdit *m_hosts = nullptr;
    QLineEdit *m_vhost = nullptr;
    QLineEdit *m_user = nullptr;
    QLineEdit *m_token = nullptr;
    QCheckBox *m_remember = nullptr;
    QLineEdit *m_ca = nullptr;
    QLineEdit *m_cert = nullptr;
    QLineEdit *m_key = nullptr;
    QLabel *m_error = nullptr;
    bool m_editing = false; // an existing profile: an empty token keeps the stored one
};

} // namespace sparky::admin
