#include "restoredialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>

namespace sparky::admin {

using namespace Qt::StringLiterals;

RestoreDialog::RestoreDialog(QWidget *parent)
    : QDialog(parent)
{
    setObjectName(u"restoreDialog"_s);
    setWindowTitle(u"Restore"_s);
    auto *layout = new QVBoxLayout(this);
    m_summary = new QLabel(this);
    m_summary->setObjectName(u"restoreSummary"_s);
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);

    m_filesGroup = new QGroupBox(u"Files"_s, this);
    m_filesGroup->setObjectName(u"restoreFilesGroup"_s);
    auto *files = new QFormLayout(m_filesGroup);
    m_target = new QLineEdit(m_filesGroup);
    m_target->setObjectName(u"restoreTarget"_s);
    m_target->setPlaceholderText(u"default: a new directory under the node's restore root"_s);
    files->addRow(u"Target directory on the node:"_s, m_target);
    m_strip = new QSpinBox(m_filesGroup);
    m_strip->setObjectName(u"restoreStrip"_s);
    m_strip->setRange(0, 64);
    files->addRow(u"Strip leading path components:"_s, m_strip);
    layout->addWidget(m_filesGroup);

    m_databaseGroup = new QGroupBox(u"Restore the dump into a database"_s, this);
    m_databaseGroup->setObjectName(u"restoreDatabaseGroup"_s);
    m_databaseGroup->setCheckable(true);
    m_databaseGroup->setChecked(false);
    auto *db = new QFormLayout(m_databaseGroup);
    m_database = new QLineEdit(m_databaseGroup);
    m_database->setObjectName(u"restoreDatabase"_s);
    db->addRow(u"Database:"_s, m_database);
    m_createDatabase
        = new QCheckBox(u"Create the database first (refused if it exists)"_s, m_databaseGroup);
    m_createDatabase->setObjectName(u"restoreCreateDatabase"_s);
    db->addRow(m_createDatabase);
    layout->addWidget(m_databaseGroup);
    connect(m_databaseGroup, &QGroupBox::toggled, this, [this](bool on) {
        m_filesGroup->setEnabled(!on);
        // Turning it on proposes a new database beside the source, created first: the
        // safe choice. Restoring over the source itself means typing its name.
        if (on && m_database->text().trimmed().isEmpty() && !m_base.sourceDatabase.isEmpty()) {
            m_database->setText(m_base.sourceDatabase + u"_restored"_s);
            m_createDatabase->setChecked(true);
        }
    });

    m_error = new QLabel(this);
    m_error->setObjectName(u"restoreError"_s);
    m_error->setWordWrap(true);
    m_error->setStyleSheet(u"color: #a61b29;"_s);
    layout->addWidget(m_error);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->setObjectName(u"restoreButtons"_s);
    buttons->button(QDialogButtonBox::Ok)->setText(u"Restore"_s);
    connect(buttons, &QDialogButtonBox::accepted, this, &RestoreDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &RestoreDialog::reject);
    layout->addWidget(buttons);
}

RestoreDialog::~RestoreDialog() = default;

void RestoreDialog::setRequest(const RestoreRequest &r)
{
    m_base = r;
    // Name what is restored (a few paths), so the operator checks it before it happens.
    QString what = u"everything"_s;
    if (r.paths.size() > 4)
        what = u"%1 and %2 more paths"_s.arg(r.paths.mid(0, 3).join(u", "_s))
                   .arg(r.paths.size() - 3);
    else if (!r.paths.isEmpty())
        what = r.paths.join(u", "_s);
    QString summary
        = u"Restore %1 from archive %2 (job %3) on node %4."_s.arg(what, r.archive, r.job, r.node);
    if (r.databaseArchive)
        summary += u" The archive holds a dump of database '%1': restore it as files (the dump "
                   "file), or into a database with pg_restore in one transaction."_s.arg(
                       r.sourceDatabase.isEmpty() ? u"?"_s : r.sourceDatabase);
    m_summary->setText(summary);
    m_target->setText(r.target);
    m_strip->setValue(r.stripComponents);
    m_databaseGroup->setVisible(r.databaseArchive);
    {
        // The group's toggled() would propose a name: set the fields as given first.
        const QSignalBlocker block(m_databaseGroup);
        m_databaseGroup->setChecked(r.databaseArchive && !r.database.isEmpty());
    }
    m_filesGroup->setEnabled(!m_databaseGroup->isChecked());
    m_database->setText(r.database);
    m_createDatabase->setChecked(r.createDatabase);
    m_error->clear();
}

RestoreRequest RestoreDialog::request() const
{
    RestoreRequest r = m_base;
    const bool intoDatabase = r.databaseArchive && m_databaseGroup->isChecked();
    r.target = intoDatabase ? QString() : m_target->text().trimmed();
    r.stripComponents = intoDatabase ? 0 : m_strip->value();
    r.database = intoDatabase ? m_database->text().trimmed() : QString();
    r.createDatabase = intoDatabase && m_createDatabase->isChecked();
    return r;
}

void RestoreDialog::accept()
{
    const RestoreRequest r = request();
    if (r.databaseArchive && m_databaseGroup->isChecked() && r.database.isEmpty()) {
        m_error->setText(u"database: give the database to restore into"_s);
        return;
    }
    if (auto ok = r.validate(); !ok) {
        m_error->setText(ok.error().message);
        return;
    }
    QDialog::accept();
}

} // namespace sparky::admin
