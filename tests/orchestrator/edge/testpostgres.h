#pragma once

// A throwaway PostgreSQL cluster for tests: initdb + pg_ctl from /usr/lib/postgresql/15/bin
// into a directory the test owns, listening on a free 127.0.0.1 port (and a socket in that
// directory only), trust authentication for the user `sparky`. As root the server runs as
// the `postgres` user (initdb refuses root). Stopped (immediate) when destroyed.

#include "sparky/error.h"

#include <QString>
#include <memory>

class TestPostgres final
{
public:
    static sparky::Expected<std::unique_ptr<TestPostgres>> start(const QString &dir);
    ~TestPostgres();
    TestPostgres(const TestPostgres &) = delete;
    TestPostgres &operator=(const TestPostgres &) = delete;

    QString host() const { return QStringLiteral("127.0.0.1"); }
    quint16 port() const { return m_port; }
    QString user() const { return QStringLiteral("sparky"); }
    QString database() const { return QStringLiteral("postgres"); }

    // Adds a QPSQL connection named `name` to this cluster and opens it.
    sparky::Result addConnection(const QString &name) const;

private:
    TestPostgres() = default;
    QString m_dir;
    quint16 m_port = 0;
    bool m_running = false;
};
