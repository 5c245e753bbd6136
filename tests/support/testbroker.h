#pragma once

// A real RabbitMQ for tests, started from broker-config/ by tests/fixtures/broker.sh.
//
// shared(): the broker that the ctest fixture `broker` started for the whole run
// ($SPARKY_TEST_BROKER_DIR/broker.env). startPrivate(): a broker of the test's own, for
// tests that stop and start it; it is removed when the object is destroyed.

#include "sparky/brokersettings.h"
#include "sparky/error.h"

#include <QHash>
#include <QString>

#include <memory>

namespace sparky::test {

class TestBroker final
{
public:
    static Expected<std::shared_ptr<TestBroker>> shared();
    static Expected<std::shared_ptr<TestBroker>> startPrivate(const QString &dir);
    ~TestBroker();

    Result stop();
    Result start(); // starts again with the same ports and data

    QString value(const QString &key) const { return m_env.value(key); }
    QString dir() const { return m_dir; }
    QString host() const { return value(QStringLiteral("SPARKY_BROKER_HOST")); }
    quint16 port() const { return quint16(value(QStringLiteral("SPARKY_BROKER_PORT")).toUInt()); }
    quint16 managementPort() const
    {
        return quint16(value(QStringLiteral("SPARKY_BROKER_MGMT_PORT")).toUInt());
    }
    QString caFile() const { return value(QStringLiteral("SPARKY_BROKER_CA")); }

    // Settings for a user whose password/token is in `tokenFile`.
    BrokerSettings settings(const QString &user, const QString &tokenFile) const;
    BrokerSettings orchestrator() const;
    BrokerSettings admin() const;
    BrokerSettings operatorUser() const;
    // Enrolls the node on first use (tests/fixtures/broker.sh add-node) and returns its settings.
    Expected<BrokerSettings> node(const QString &nodeId);

    // GET/PUT/DELETE on the management HTTPS API as the admin user (curl, CA verified).
    Expected<QByteArray> management(const QString &method, const QString &path,
                                    const QByteArray &body = {}) const;

    // Runs tests/fixtures/broker.sh with arguments.
    static Result runFixture(const QStringList &args, int timeoutMs = 120000);

private:
    TestBroker() = default;
    Result loadEnv();

    QString m_dir;
    bool m_private = false;
    QHash<QString, QString> m_env;
};

// Path of a file in the source tree ($SPARKY_SOURCE_DIR).
QString sourcePath(const QString &relative);
// Path of a built binary ($SPARKY_BINARY_DIR).
QString binaryPath(const QString &relative);

} // namespace sparky::test
