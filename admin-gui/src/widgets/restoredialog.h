#pragma once

// Restore options for the selected files of one archive: the target directory on the node
// (empty: the agent's default under its restore root), strip components; for a database
// dump archive, the database to restore into (and whether to create it) — off by default,
// and when turned on it proposes a new "<source>_restored" database created first, never
// the live source database. accept() refuses what RestoreRequest::validate() refuses, and
// says why.
//
// Threading: GUI thread.

#include "restorerequest.h"

#include <QDialog>

class QCheckBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace sparky::admin {

class RestoreDialog final : public QDialog
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RestoreDialog)

public:
    explicit RestoreDialog(QWidget *parent = nullptr);
    ~RestoreDialog() override;

    void setRequest(const RestoreRequest &request);
    RestoreRequest request() const; // with the fields as edited
    void accept() override;

private:
    RestoreRequest m_base;
    QLabel *m_summary = nullptr;
    QGroupBox *m_filesGroup = nullptr;
    QLineEdit *m_target = nullptr;
    QSpinBox *m_strip = nullptr;
    QGroupBox *m_databaseGroup = nullptr;
    QLineEdit *m_database = nullptr;
    QCheckBox *m_createDatabase = nullptr;
    QLabel *m_error = nullptr;
};

} // namespace sparky::admin
