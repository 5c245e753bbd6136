#include "profiledialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace sparky::admin {

using namespace Qt::StringLiterals;

namespace {

QWidget *withBrowse(QLineEdit *edit, QWidget *parent, const QString &title)
{
    auto *box = new QWidget(parent);
    auto *h = new QHBoxLayout(box);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(edit);
    auto *browse = new QPushButton(u"…"_s, box);
    browse->setObjectName(edit->objectName() + u"Browse"_s);
    QObject::connect(browse, &QPushButton::clicked, edit, [edit, title] {
        const QString f = QFileDialog::getOpenFileName(edit, title, edit->text());
        if (!f.isEmpty())
            edit->setText(f);
    });
    h->addWidget(browse);
    return box;
}

} // namespace

ProfileDialog::ProfileDialog(QWidget *parent)
    : QDialog(parent)
{
    setObjectName(u"profileDialog"_s);
    setWindowTitle(u"Connection profile"_s);
    auto *layout = new QVBoxLayout(this);
    m_intro = new QLabel(this);
    m_intro->setObjectName(u"profileIntro"_s);
    m_intro->setWordWrap(true);
    layout->addWidget(m_intro);

    auto *form = new QFormLayout;
    m_name = new QLineEdit(this);
    m_name->setObjectName(u"profileName"_s);
    form->addRow(u"Profile name:"_s, m_name);
    m_hosts = new QLineEdit(this);
    m_hosts->setObjectName(u"profileHosts"_s);
    m_hosts->setPlaceholderText(u"mq1.example.net:5671, mq2.example.net:5671"_s);
    form->addRow(u"Broker hosts:"_s, m_hosts);
    m_vhost = new QLineEdit(u"sparky"_s, this);
    m_vhost->setObjectName(u"profileVhost"_s);
    form->addRow(u"Virtual host:"_s, m_vhost);
    m_user = new QLineEdit(this);
    m_user->setObjectName(u"profileUser"_s);
    form->addRow(u"Broker user:"_s, m_user);
    m_token = new QLineEdit(this);
    m_token->setObjectName(u"profileToken"_s);
    m_token->setEchoMode(QLineEdit::Password);
    form->addRow(u"Token:"_s, m_token);
    m_remember = new QCheckBox(u"Remember the token in the desktop keychain"_s, this);
    m_remember->setObjectName(u"profileRememberToken"_s);
    m_remember->setChecked(true);
    form->addRow(QString(), m_remember);
    m_ca = new QLineEdit(this);
    m_ca->setObjectName(u"profileCaFile"_s);
    form->addRow(u"CA certificate:"_s, withBrowse(m_ca, this, u"CA certificate (PEM)"_s));
    m_cert = new QLineEdit(this);
    m_cert->setObjectName(u"profileCertFile"_s);
    form->addRow(u"Client certificate (optional):"_s,
        withBrowse(m_cert, this, u"Client certificate (PEM)"_s));
    m_key = new QLineEdit(this);
    m_key->setObjectName(u"profileKeyFile"_s);
    form->addRow(u"Client key (optional):"_s, withBrowse(m_key, this, u"Client key (PEM)"_s));
    layout->addLayout(form);

    m_error = new QLabel(this);
    m_error->setObjectName(u"profileError"_s);
    m_error->setWordWrap(true);
    m_error->setStyleSheet(u"color: #a61b29;"_s);
    layout->addWidget(m_error);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->setObjectName(u"profileButtons"_s);
    buttons->button(QDialogButtonBox::Ok)->setText(u"Connect"_s);
    connect(buttons, &QDialogButtonBox::accepted, this, &ProfileDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &ProfileDialog::reject);
    layout->addWidget(buttons);
    setFirstRun(false);
}

ProfileDialog::~ProfileDialog() = default;

void ProfileDialog::setFirstRun(bool firstRun)
{
    m_intro->setText(firstRun
            ? u"No connection profile yet. The console talks to the orchestrator through the "
              "RabbitMQ broker (TLS) as a broker user with the viewer, operator or admin role "
              "(the orchestrator's rpc.roles). Enter the broker's address, the user and its "
              "token, and the CA certificate that signed the broker's certificate."_s
            : u"The token is kept in the desktop keychain, never in the settings file. Leave it "
              "empty to keep the stored one."_s);
}

void ProfileDialog::setProfile(const ConnectionProfile &p)
{
    m_editing = !p.name.isEmpty();
    m_name->setText(p.name);
    m_hosts->setText(p.hosts.join(u", "_s));
    m_vhost->setText(p.vhost);
    m_user->setText(p.user);
    m_ca->setText(p.caFile);
    m_cert->setText(p.certFile);
    m_key->setText(p.keyFile);
    m_token->clear();
    m_error->clear();
}

ProfileInput ProfileDialog::input() const
{
    ProfileInput in;
    in.profile.name = m_name->text().trimmed();
    for (const QString &h : m_hosts->text().split(u',', Qt::SkipEmptyParts))
        if (!h.trimmed().isEmpty())
            in.profile.hosts << h.trimmed();
    in.profile.vhost = m_vhost->text().trimmed();
    in.profile.user = m_user->text().trimmed();
    in.profile.caFile = m_ca->text().trimmed();
    in.profile.certFile = m_cert->text().trimmed();
    in.profile.keyFile = m_key->text().trimmed();
    in.token = m_token->text().toUtf8();
    in.rememberToken = m_remember->isChecked();
    return in;
}

void ProfileDialog::accept()
{
    const ProfileInput in = input();
    if (auto ok = in.profile.validate(); !ok) {
        m_error->setText(ok.error().message);
        return;
    }
    if (in.profile.needsToken() && in.token.isEmpty() && !m_editing) {
        m_error->setText(u"token: the broker user '%1' needs its token"_s.arg(in.profile.user));
        return;
    }
    QDialog::accept();
}

} // namespace sparky::admin
