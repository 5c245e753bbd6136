#include "consolecontroller.h"

#include "adminlogging.h"
#include "adminsession.h"
#include "dialogs.h"
#include "mainwindow.h"
#include "profilestore.h"
#include "secretstore.h"

#include <optional>

namespace sparky::admin {

using namespace Qt::StringLiterals;

ConsoleController::ConsoleController(
    ProfileStore *profiles, SecretStore *secrets, Dialogs *dialogs, QObject *parent)
    : QObject(parent)
    , m_profiles(profiles)
    , m_secrets(secrets)
    , m_dialogs(dialogs)
{
    m_session = new AdminSession({}, m_secrets, this);
    m_window = std::make_unique<MainWindow>(m_session, m_dialogs);
    connect(m_session, &AdminSession::stateChanged, this,
        [this](AdminSession::State state, const QString &text) {
            m_window->setConnectionState(text, state == AdminSession::State::Connected);
            if (state == AdminSession::State::Connected)
                m_window->refreshAll();
            if (state == AdminSession::State::Failed)
                m_window->showMessage(text, true);
        });
    connect(
        m_window.get(), &MainWindow::editProfileRequested, this, &ConsoleController::editProfile);
    connect(m_window.get(), &MainWindow::reconnectRequested, this, &ConsoleController::reconnect);
}

ConsoleController::~ConsoleController()
{
    m_window.reset(); // views before the session they call
}

Result ConsoleController::start(const QString &profileName)
{
    QString name = profileName;
    if (name.isEmpty())
        name = m_profiles->defaultProfile();
    if (name.isEmpty()) {
        if (!m_profiles->names().isEmpty())
            return unexpected(ErrorCode::InvalidArgument,
                u"several connection profiles exist (%1): choose one with --profile NAME"_s.arg(
                    m_profiles->names().join(u", "_s)));
        const std::optional<ProfileInput> input = m_dialogs->editProfile(nullptr, {}, true);
        if (!input)
            return unexpected(ErrorCode::Cancelled, u"no connection profile was created"_s);
        if (auto ok = apply(*input); !ok)
            return ok;
        m_window->show();
        return {};
    }
    auto profile = m_profiles->load(name);
    if (!profile)
        return profile.error();
    m_profiles->setLastUsed(name);
    m_session->setProfile(*profile);
    setObjectName(name);
    m_window->setWindowTitle(u"sparky-for-backup — %1"_s.arg(name));
    m_window->show();
    m_session->open();
    return {};
}

Result ConsoleController::apply(const ProfileInput &input)
{
    if (auto ok = m_profiles->save(input.profile); !ok)
        return ok;
    m_profiles->setLastUsed(input.profile.name);
    m_session->setProfile(input.profile);
    m_window->setWindowTitle(u"sparky-for-backup — %1"_s.arg(input.profile.name));
    if (input.token.isEmpty()) {
        m_session->open();
        return {};
    }
    if (input.rememberToken)
        m_secrets->writeSecret(input.profile.secretKey(), input.token, this,
            [this, name = input.profile.name](const Result &stored) {
                if (!stored)
                    m_window->showMessage(
                        u"the token of profile '%1' was not stored (it is used for this session "
                        "only): %2"_s.arg(name, stored.error().message),
                        true);
            });
    m_session->openWithToken(input.token);
    return {};
}

void ConsoleController::editProfile()
{
    const ConnectionProfile before = m_session->profile();
    const std::optional<ProfileInput> input = m_dialogs->editProfile(m_window.get(), before, false);
    if (!input)
        return;
    // Saved under another name with the token left empty ("keep the stored one"): the
    // stored one is under the old name, so it comes along to the new name's entry.
    if (input->token.isEmpty() && input->profile.needsToken() && !before.name.isEmpty()
        && input->profile.name != before.name) {
        m_secrets->readSecret(
            before.secretKey(), this, [this, in = *input](const Expected<QByteArray> &token) {
                ProfileInput moved = in;
                if (token) {
                    moved.token = *token;
                    moved.rememberToken = true;
                }
                if (auto ok = apply(moved); !ok)
                    m_dialogs->showError(
                        m_window.get(), u"Connection profile"_s, ok.error().message);
            });
        return;
    }
    if (auto ok = apply(*input); !ok)
        m_dialogs->showError(m_window.get(), u"Connection profile"_s, ok.error().message);
}

void ConsoleController::reconnect()
{
    m_session->open();
}

} // namespace sparky::admin
