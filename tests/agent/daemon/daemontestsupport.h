#pragma once

// Helpers for the agent daemon tests: a clock the test sets by hand, agent configs written
// as YAML files (the daemon reads them like in production), tiny source trees, promtool.

#include "clock.h"

#include "sparky/brokersettings.h"
#include "sparky/error.h"

#include <QByteArray>
#include <QDateTime>
#include <QString>
#include <QStringList>

#include <optional>

namespace sparky::agent::test {

// The scheduler's time, moved by the test. set()/advance() emit changed(), so the scheduler
// looks at once instead of waiting for its timer.
class ManualClock final : public Clock
{
    Q_OBJECT

public:
    explicit ManualClock(QDateTime start, QObject *parent = nullptr)
        : Clock(parent)
        , m_now(std::move(start))
    {
    }
    QDateTime now() const override { return m_now; }
    void set(const QDateTime &t)
    {
        m_now = t;
        Q_EMIT changed();
    }
    void advance(qint64 seconds) { set(m_now.addSecs(seconds)); }

private:
    QDateTime m_now;
};

// An agent config file. Jobs are raw YAML under `jobs:` (indented by the caller by 2).
struct AgentYaml;
Expected<BrokerSettings> unreachableBroker(const QString &dir, const QString &node);

struct AgentYaml
{
    QString node = QStringLiteral("t-agent");
    QString stateDir;
    QString repositoryPath;                 // local repository, encryption none
    std::optional<BrokerSettings> broker;   // with tokenFile
    QString orchestratorKey;                // base64
    QStringList allowed;                    // empty: the default
    QString metricsListen = QStringLiteral("127.0.0.1:0");
    QString textfile;
    QString pushgateway;
    QString heartbeat = QStringLiteral("1h");
    QString jobs;                           // "  files:\n    repository: local\n …"
    QString extra;                          // more top-level YAML, e.g. "restore:\n  roots: [/x]\n"

    QByteArray toYaml() const;
    // A broker that is down (unreachableBroker), and an orchestrator key to go with it.
    Result useUnreachableBroker(const QString &dir);
    // Writes it to `path` (mode 0600) and returns the path.
    Expected<QString> write(const QString &path) const;
};

// A job section for a small local backup.
QString filesJob(const QString &name, const QString &source, const QString &schedule = {},
                 const QString &extra = {});

// Creates `dir` with a few files (a few KiB) and returns it.
Expected<QString> makeSourceTree(const QString &dir);

// Runs `promtool check metrics` on the text; returns its output on failure.
Result promtoolCheck(const QByteArray &exposition);

// Archives in a local repository (borg list --short), encryption none.
Expected<QStringList> borgArchives(const QString &repository);

// GET http://127.0.0.1:port/path, synchronously (event loop spins).
Expected<QByteArray> httpGet(quint16 port, const QString &path);

// The value of one sample in a text exposition, e.g. sample(text,
// "sparky_backup_last_status{job=\"files\",repository=\"local\"}"). Labels as rendered.
std::optional<double> sample(const QByteArray &exposition, const QString &series);

// A free TCP port on 127.0.0.1 (bound and released; fine for test servers we start).
quint16 freePort();

// Broker settings for a broker that is down: a closed port on 127.0.0.1, with a token file
// and a CA certificate (made with openssl in `dir`) so the agent's config is complete. The
// agent keeps its events in the outbox, as it would during an outage.
Expected<BrokerSettings> unreachableBroker(const QString &dir, const QString &node);

} // namespace sparky::agent::test
