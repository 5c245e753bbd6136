#pragma once

// Puts the console together: picks the profile (--profile NAME, else the last one used,
// else asks for a first one), opens the AdminSession with its token from the SecretStore
// (or the one just typed, stored when asked), and shows the MainWindow, which it refreshes
// whenever the connection comes up. Handles "Edit profile…" and "Reconnect".
//
// Owns the session and the window; the stores and Dialogs are not owned. GUI thread.

#include "sparky/error.h"

#include <QObject>
#include <memory>

namespace sparky::admin {

class AdminSession;
class Dialogs;
class MainWindow;
class ProfileStore;
class SecretStore;
struct ProfileInput;

class ConsoleController final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConsoleController)

public:
    ConsoleController(
        ProfileStore *profiles, SecretStore *secrets, Dialogs *dialogs, QObject *parent = nullptr);
    ~ConsoleController() override;

    // Fails for an unknown profile name, or when the first-run dialog is cancelled.
    Result start(const QString &profileName);
    void editProfile();
    void reconnect();

    MainWindow *window() const { return m_window.get(); }
    AdminSession *session() const { return m_session; }

private:
    Result apply(const ProfileInput &input);

    ProfileStore *m_profiles = nullptr;
    SecretStore *m_secrets = nullptr;
    Dialogs *m_dialogs = nullptr;
    AdminSession *m_session = nullptr; // child
    std::unique_ptr<MainWindow> m_window;
};

} // namespace sparky::admin
