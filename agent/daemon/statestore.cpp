#include "statestore.h"

#include "logcategories.h"

#include "sparky/envelope.h"

#include <QAtomicInteger>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSqlError>
#include <QSqlQuery>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

QAtomicInteger<int> g_connectionCounter;

// Schema v1. Timestamps are sparky::formatTimestamp text (UTC, ms), which sorts in time order.
const char *const kSchemaV1[] = {
    "CREATE TABLE outbox ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT," // never reused: the publish order
    " id TEXT NOT NULL UNIQUE,"               // envelope id: stable across retries
    " type TEXT NOT NULL,"
    " routing_key TEXT NOT NULL,"
    " run_id TEXT,"
    " created_at TEXT NOT NULL,"
    " body BLOB NOT NULL)",
    "CREATE INDEX outbox_type_run ON outbox(type, run_id)",
    "CREATE TABLE commands ("
    " id TEXT PRIMARY KEY,"
    " type TEXT NOT NULL,"
    " state TEXT NOT NULL," // received | running | succeeded | failed | rejected | expired
    " received_at TEXT NOT NULL,"
    " expires_at TEXT,"
    " run_id TEXT,"
    " error TEXT,"
    " envelope BLOB)",
    "CREATE TABLE runs ("
    " run_id TEXT PRIMARY KEY,"
    " job TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " repository TEXT NOT NULL," // the configured repository name (never a URL)
    " trigger TEXT NOT NULL,"
    " command_id TEXT,"
    " state TEXT NOT NULL," // running | finished
    " status TEXT,"
    " started_at TEXT NOT NULL,"
    " finished_at TEXT,"
    " failed_step TEXT,"
    " error TEXT,"
    " stats TEXT," // RunStats JSON
    " started_event TEXT)", // RunStarted JSON, to report an interrupted run after a crash
    "CREATE INDEX runs_job_kind ON runs(job, kind, started_at)",
    "CREATE TABLE schedule ("
    " job TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " last_fire TEXT,"
    " next_fire TEXT,"
    " PRIMARY KEY (job, kind))",
    "CREATE TABLE facts (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)",
};

Result execText(QSqlDatabase db, const QString &sql)
{
    QSqlQuery q(db);
    if (!q.exec(sql))
        return unexpected(ErrorCode::Io, u"state database: %1: %2"_s.arg(sql.left(60),
                                                                          q.lastError().text()));
    return {};
}

} // namespace

Expected<std::unique_ptr<StateStore>> StateStore::open(const QString &stateDir, Mode mode)
{
    if (stateDir.isEmpty())
        return unexpected(ErrorCode::Config, u"state_dir is empty"_s);
    std::unique_ptr<StateStore> s(new StateStore);
    s->m_dir = QDir::cleanPath(QDir(stateDir).absolutePath());
    s->m_path = s->m_dir + u'/' + fileName();
    s->m_mode = mode;

    if (mode == Mode::ReadWrite) {
        if (!QFileInfo(s->m_dir).isDir()) {
            if (!QDir().mkpath(s->m_dir))
                return unexpected(ErrorCode::Io, u"cannot create the state directory %1"_s.arg(s->m_dir));
            QFile::setPermissions(s->m_dir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        }
    } else if (!QFileInfo::exists(s->m_path)) {
        return unexpected(ErrorCode::NotFound,
                          u"no agent state at %1 (has the daemon run with this state_dir?)"_s.arg(s->m_path));
    } else if (!QFileInfo(s->m_path).isReadable()) {
        return unexpected(ErrorCode::Permission,
                          u"%1 is not readable by this user (run as the agent's user or root)"_s.arg(s->m_path));
    }

    s->m_connection = u"sparky-agent-state-%1"_s.arg(g_connectionCounter.fetchAndAddRelaxed(1));
    QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, s->m_connection);
    db.setDatabaseName(s->m_path);
    QString options = u"QSQLITE_BUSY_TIMEOUT=10000"_s;
    if (mode == Mode::ReadOnly)
        options += u";QSQLITE_OPEN_READONLY"_s;
    db.setConnectOptions(options);
    if (!db.open())
        return unexpected(ErrorCode::Io, u"cannot open the state database %1: %2"_s.arg(
                                             s->m_path, db.lastError().text()));

    if (mode == Mode::ReadWrite) {
        QFile::setPermissions(s->m_path, QFile::ReadOwner | QFile::WriteOwner);
        // WAL: readers (status) never block the daemon; FULL: a commit survives power loss.
        QSqlQuery q(db);
        if (!q.exec(u"PRAGMA journal_mode=WAL"_s) || !q.next()
            || q.value(0).toString().compare(u"wal"_s, Qt::CaseInsensitive) != 0)
            return unexpected(ErrorCode::Io, u"cannot switch %1 to WAL mode: %2"_s.arg(
                                                 s->m_path, q.lastError().text()));
        q.finish(); // an active statement would block the migration's commit
        if (auto ok = execText(db, u"PRAGMA synchronous=FULL"_s); !ok)
            return ok.error();
        if (auto ok = s->migrate(); !ok)
            return ok.error();
    }
    if (auto ok = execText(db, u"PRAGMA foreign_keys=ON"_s); !ok)
        return ok.error();
    return s;
}

StateStore::~StateStore()
{
    if (m_connection.isEmpty())
        return;
    {
        QSqlDatabase db = QSqlDatabase::database(m_connection, false);
        if (db.isOpen())
            db.close();
    }
    QSqlDatabase::removeDatabase(m_connection);
}

QSqlDatabase StateStore::database() const
{
    return QSqlDatabase::database(m_connection, false);
}

Result StateStore::migrate()
{
    QSqlDatabase db = database();
    QSqlQuery q(db);
    if (!q.exec(u"PRAGMA user_version"_s) || !q.next())
        return unexpected(ErrorCode::Io, u"state database %1: cannot read its schema version: %2"_s.arg(
                                             m_path, q.lastError().text()));
    const int version = q.value(0).toInt();
    q.finish();
    if (version > kSchemaVersion)
        return unexpected(ErrorCode::Config,
                          u"state database %1 has schema version %2, newer than this agent understands "
                          "(%3): was the agent downgraded?"_s.arg(m_path).arg(version).arg(kSchemaVersion));
    if (version == kSchemaVersion)
        return {};
    return transaction([&]() -> Result {
        if (version < 1) {
            for (const char *sql : kSchemaV1)
                if (auto ok = execText(db, QString::fromLatin1(sql)); !ok)
                    return ok;
        }
        if (auto ok = execText(db, u"PRAGMA user_version=%1"_s.arg(kSchemaVersion)); !ok)
            return ok;
        qCInfo(lcState).noquote() << "state database" << m_path << "migrated from schema"
                                  << version << "to" << kSchemaVersion;
        return {};
    });
}

Result StateStore::transaction(const std::function<Result()> &work)
{
    QSqlDatabase db = database();
    if (!db.transaction())
        return unexpected(ErrorCode::Io, u"state database %1: cannot begin a transaction: %2"_s.arg(
                                             m_path, db.lastError().text()));
    Result r = work();
    if (!r) {
        db.rollback();
        return r;
    }
    if (!db.commit()) {
        const QString why = db.lastError().text();
        db.rollback();
        return unexpected(ErrorCode::Io, u"state database %1: commit failed: %2"_s.arg(m_path, why));
    }
    return {};
}

Result StateStore::setFact(const QString &key, const QString &value)
{
    QSqlQuery q(database());
    q.prepare(u"INSERT INTO facts(key, value, updated_at) VALUES(?, COALESCE(?, ''), ?) "
              "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"_s);
    q.addBindValue(key);
    q.addBindValue(value);
    q.addBindValue(formatTimestamp(QDateTime::currentDateTimeUtc()));
    return exec(q, u"recording fact '%1'"_s.arg(key));
}

std::optional<QString> StateStore::fact(const QString &key) const
{
    QSqlQuery q(database());
    q.prepare(u"SELECT value FROM facts WHERE key = ?"_s);
    q.addBindValue(key);
    if (!q.exec() || !q.next())
        return std::nullopt;
    return q.value(0).toString();
}

Result StateStore::exec(QSqlQuery &query, const QString &what)
{
    if (!query.exec())
        return unexpected(ErrorCode::Io, u"state database: %1: %2"_s.arg(what, query.lastError().text()));
    return {};
}

} // namespace sparky::agent
