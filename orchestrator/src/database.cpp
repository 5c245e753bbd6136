#include "database.h"

#include "orchestratorlogging.h"
#include "schema.h"
#include "sparky/secrets.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QSqlDriver>
#include <QSqlError>

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

namespace {

// What a text value stores as: a NUL (hooks' and borg's output can hold any byte) becomes
// U+FFFD — PostgreSQL's text refuses it and SQLite through Qt cuts the text there.
QVariant storable(const QVariant &v)
{
    if (v.typeId() != QMetaType::QString)
        return v;
    QString s = v.toString();
    if (!s.contains(QChar(0)))
        return v;
    return s.replace(QChar(0), QChar::ReplacementCharacter);
}

// Serialises schema migrations across replicas on PostgreSQL ("SPKYMIGR").
constexpr qint64 kMigrationLockKey = 0x53504B594D494752;

QString errorText(const QSqlError &e)
{
    QString text = e.databaseText().trimmed();
    if (text.isEmpty())
        text = e.driverText().trimmed();
    if (!e.nativeErrorCode().isEmpty())
        text += u" ["_s + e.nativeErrorCode() + u']';
    return text;
}

ErrorCode codeFor(const QSqlError &e)
{
    switch (e.type()) {
    case QSqlError::ConnectionError:
        return ErrorCode::Unavailable;
    default:
        return ErrorCode::Io;
    }
}

} // namespace

QVariant sqlNull()
{
    return QVariant(QMetaType::fromType<qint64>());
}

Error sqlError(const QSqlQuery &query, const QString &what)
{
    const QSqlError e = query.lastError();
    return Error(codeFor(e), what + u": "_s + errorText(e));
}

Error sqlError(const QSqlDatabase &db, const QString &what)
{
    const QSqlError e = db.lastError();
    return Error(codeFor(e), what + u": "_s + errorText(e));
}

Expected<std::unique_ptr<Database>> Database::open(
    const StoreSettings &settings, const QString &connectionName, bool migrate)
{
    std::unique_ptr<Database> d(new Database);
    d->m_settings = settings;
    d->m_name = connectionName;
    d->m_dialect
        = settings.driver == StoreSettings::Driver::Postgres ? Dialect::Postgres : Dialect::Sqlite;
    if (auto ok = d->openConnection(); !ok)
        return ok.error();
    if (migrate) {
        if (auto ok = d->migrate(); !ok)
            return ok.error();
    }
    return d;
}

Database::~Database()
{
    m_cache.clear();
    if (QSqlDatabase::contains(m_name)) {
        {
            QSqlDatabase db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
}

QSqlDatabase Database::db() const
{
    return QSqlDatabase::database(m_name, false);
}

Result Database::openConnection()
{
    if (QSqlDatabase::contains(m_name))
        return unexpected(
            ErrorCode::Conflict, u"database connection '%1' already exists"_s.arg(m_name));
    const QString driver = m_dialect == Dialect::Postgres ? u"QPSQL"_s : u"QSQLITE"_s;
    if (!QSqlDatabase::isDriverAvailable(driver)) {
        const QString package
            = m_dialect == Dialect::Postgres ? u"libqt6sql6-psql"_s : u"libqt6sql6-sqlite"_s;
        return unexpected(ErrorCode::Config,
            u"the Qt Sql driver %1 is not installed (%2)"_s.arg(driver, package));
    }
    QSqlDatabase db = QSqlDatabase::addDatabase(driver, m_name);
    if (m_dialect == Dialect::Sqlite) {
        const QFileInfo fi(m_settings.path);
        if (!fi.absoluteDir().exists() && !QDir().mkpath(fi.absolutePath()))
            return unexpected(
                ErrorCode::Io, u"cannot create the store directory %1"_s.arg(fi.absolutePath()));
        db.setDatabaseName(m_settings.path);
        db.setConnectOptions(u"QSQLITE_BUSY_TIMEOUT=10000"_s);
    } else {
        db.setHostName(m_settings.host);
        db.setPort(m_settings.port);
        db.setDatabaseName(m_settings.database);
        db.setUserName(m_settings.user);
        if (!m_settings.passwordFile.isEmpty()) {
            auto password = readSecretFile(m_settings.passwordFile);
            if (!password)
                return password.error().wrapped(u"store password"_s);
            db.setPassword(QString::fromUtf8(*password));
        }
        QStringList options { u"connect_timeout=%1"_s.arg(
                                  qMax<qint64>(1, m_settings.connectTimeout.count())),
            u"application_name=sparky-orchestrator"_s };
        if (!m_settings.sslMode.isEmpty())
            options.append(u"sslmode="_s + m_settings.sslMode);
        if (!m_settings.sslRootCert.isEmpty())
            options.append(u"sslrootcert="_s + m_settings.sslRootCert);
        db.setConnectOptions(options.join(u';'));
    }
    if (!db.open())
        return sqlError(db, u"opening the store (%1)"_s.arg(m_settings.describe()));

    if (m_dialect == Dialect::Sqlite) {
        // WAL lets readers run beside the writer; FULL syncs the WAL on every commit, so an
        // acked event survives a power cut.
        for (const QString &pragma : { u"PRAGMA journal_mode=WAL"_s, u"PRAGMA synchronous=FULL"_s,
                 u"PRAGMA foreign_keys=ON"_s, u"PRAGMA temp_store=MEMORY"_s,
                 // 64 MiB page cache (allocated as used): index upkeep and
                 // report queries over millions of runs stay in memory.
                 u"PRAGMA cache_size=-65536"_s }) {
            QSqlQuery q(db);
            if (!q.exec(pragma))
                return sqlError(q, pragma);
        }
        QSqlQuery q(db);
        if (!q.exec(u"PRAGMA journal_mode"_s) || !q.next() || q.value(0).toString() != u"wal")
            return unexpected(
                ErrorCode::Io, u"%1: could not switch SQLite to WAL mode"_s.arg(m_settings.path));
    } else {
        QSqlQuery q(db);
        (void)q.exec(u"SET TIME ZONE 'UTC'"_s);
    }
    qCInfo(lcStore).noquote() << "store opened:" << m_settings.describe();
    return {};
}

Expected<QSqlQuery> Database::exec(const QString &sql, const QVariantList &values) const
{
    QSqlQuery q(db());
    q.setForwardOnly(true);
    if (values.isEmpty()) {
        // Not prepared: PostgreSQL cannot PREPARE DDL, and nothing is bound anyway.
        if (!q.exec(sql))
            return sqlError(q, sql.left(60));
        return q;
    }
    if (!q.prepare(sql))
        return sqlError(q, u"preparing SQL"_s);
    for (const QVariant &v : values)
        q.addBindValue(storable(v));
    if (!q.exec())
        return sqlError(q, sql.left(60));
    return q;
}

Expected<QSqlQuery *> Database::run(const QString &sql, const QVariantList &values)
{
    auto it = m_cache.find(sql);
    if (it == m_cache.end()) {
        auto q = std::make_unique<QSqlQuery>(db());
        q->setForwardOnly(true);
        if (!q->prepare(sql))
            return sqlError(*q, u"preparing SQL"_s);
        it = m_cache.emplace(sql, std::move(q)).first;
    }
    QSqlQuery *q = it->second.get();
    for (qsizetype i = 0; i < values.size(); ++i)
        q->bindValue(int(i), storable(values.at(i)));
    if (!q->exec()) {
        const Error e = sqlError(*q, sql.left(60));
        m_cache.erase(it); // re-prepared next time (the connection may have been reset)
        return e;
    }
    return q;
}

Expected<int> Database::schemaVersion() const
{
    auto q = exec(u"SELECT MAX(version) FROM schema_version"_s);
    if (!q)
        return q.error();
    return q->next() ? q->value(0).toInt() : 0;
}

Result Database::begin()
{
    QSqlDatabase d = db();
    if (!d.transaction())
        return sqlError(d, u"BEGIN"_s);
    return {};
}

Result Database::commit()
{
    QSqlDatabase d = db();
    if (!d.commit()) {
        const Error e = sqlError(d, u"COMMIT"_s);
        d.rollback();
        return e;
    }
    return {};
}

void Database::rollback()
{
    QSqlDatabase d = db();
    d.rollback();
}

Result Database::migrate()
{
    if (auto q = exec(u"CREATE TABLE IF NOT EXISTS schema_version ("
                      " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL,"
                      " description TEXT NOT NULL)"_s);
        !q)
        return q.error().wrapped(u"creating schema_version"_s);
    if (m_dialect == Dialect::Postgres) {
        if (auto q = exec(u"SELECT pg_advisory_lock(?)"_s, { kMigrationLockKey }); !q)
            return q.error();
    }
    auto unlock = [this] {
        if (m_dialect == Dialect::Postgres)
            (void)exec(u"SELECT pg_advisory_unlock(?)"_s, { kMigrationLockKey });
    };
    auto current = schemaVersion();
    if (!current) {
        unlock();
        return current.error();
    }
    if (*current > latestSchemaVersion()) {
        unlock();
        return unexpected(ErrorCode::Config,
            u"the store has schema version %1 but this orchestrator knows only up to %2: "
            "run a newer orchestrator"_s.arg(*current)
                .arg(latestSchemaVersion()));
    }
    for (const Migration &m : schemaMigrations()) {
        if (m.version <= *current)
            continue;
        if (auto ok = begin(); !ok) {
            unlock();
            return ok;
        }
        for (const QString &sql : m.statements) {
            if (auto q = exec(sql); !q) {
                rollback();
                unlock();
                return q.error().wrapped(
                    u"schema migration %1 (%2)"_s.arg(m.version).arg(m.description));
            }
        }
        if (auto q = exec(
                u"INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)"_s,
                { m.version, QDateTime::currentMSecsSinceEpoch(), m.description });
            !q) {
            rollback();
            unlock();
            return q.error();
        }
        if (auto ok = commit(); !ok) {
            unlock();
            return ok;
        }
        qCInfo(lcStore).noquote() << "applied schema migration" << m.version << m.description;
    }
    unlock();
    return {};
}

Result Database::ping()
{
    if (auto q = exec(u"SELECT 1"_s); q)
        return {};
    m_cache.clear();
    QSqlDatabase d = db();
    d.close();
    if (!d.open())
        return sqlError(d, u"reconnecting to the store (%1)"_s.arg(m_settings.describe()));
    if (auto q = exec(u"SELECT 1"_s); !q)
        return q.error();
    qCInfo(lcStore).noquote() << "reconnected to the store";
    return {};
}

Expected<bool> Database::tryAdvisoryLock(qint64 key)
{
    if (m_dialect == Dialect::Sqlite)
        return true;
    auto q = exec(u"SELECT pg_try_advisory_lock(?)"_s, { key });
    if (!q)
        return q.error();
    return q->next() && q->value(0).toBool();
}

Expected<bool> Database::holdsAdvisoryLock(qint64 key)
{
    if (m_dialect == Dialect::Sqlite)
        return true;
    // A bigint key is stored as classid = high 32 bits, objid = low 32 bits, objsubid = 1.
    auto q = exec(u"SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                  " AND pid = pg_backend_pid() AND classid = ? AND objid = ? AND objsubid = 1"_s,
        { qint64(quint64(key) >> 32), qint64(quint64(key) & 0xffffffffu) });
    if (!q)
        return q.error();
    return q->next() && q->value(0).toLongLong() > 0;
}

Result Database::releaseAdvisoryLock(qint64 key)
{
    if (m_dialect == Dialect::Sqlite)
        return {};
    if (auto q = exec(u"SELECT pg_advisory_unlock(?)"_s, { key }); !q)
        return q.error();
    return {};
}

} // namespace sparky::orchestrator
