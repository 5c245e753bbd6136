#pragma once

// The agent's Prometheus metrics (prometheus-cpp): an exposer on metrics.listen (default
// 127.0.0.1:9465), node_exporter textfile output (QSaveFile: temp file + rename) when
// metrics.textfile_path is set, and a Pushgateway push after each run when
// metrics.pushgateway_url is set. docs/agent.md lists every metric.
//
// Labels are `job` and `repository` — the configured repository NAME, never its URL (which
// may carry a user, host and port). Values that matter across restarts (last success, last
// run, last status, last stats) are restored from the state database at start.
//
// Threading: the object lives on the daemon's thread. prometheus-cpp's metrics are
// thread-safe; the exposer serves scrapes on its own threads.

#include "agentconfig.h"

#include "sparky/error.h"
#include "sparky/protocol.h"

#include <QByteArray>
#include <QDateTime>
#include <QHash>
#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QUrl>

#include <memory>

class QNetworkAccessManager;
class QNetworkReply;

namespace prometheus {
class Exposer;
class Registry;
} // namespace prometheus

namespace sparky::agent {

class StateStore;

class AgentMetrics final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AgentMetrics)

public:
    explicit AgentMetrics(QObject *parent = nullptr);
    ~AgentMetrics() override;

    // Applies the metrics section and the job list: (re)starts the exposer when the address
    // changed, creates the series of new jobs, removes those of jobs that are gone.
    // An exposer that cannot bind is an error naming the address.
    Result configure(const AgentConfig &config);

    // The exposer's port (0 when there is none); with listen "127.0.0.1:0" the chosen one.
    quint16 port() const { return m_port; }

    // Loads the last values of every configured job from the state database.
    void restore(StateStore *store, const AgentConfig &config);

    void recordRun(const protocol::RunFinished &result, const QString &repository);
    void setNextRun(const QString &job, protocol::RunKind kind, const QDateTime &next);
    void setOutboxSize(qint64 size, qint64 max);
    void addOutboxDropped(const QString &type, qint64 count);
    void setBrokerConnected(bool connected);
    void setRunningRuns(int count);
    void countCommand(const QString &type, const QString &result);

    // The text exposition format of everything (what /metrics serves).
    QByteArray render() const;
    // Writes the textfile now (normally done shortly after a change and every minute).
    Result writeTextfile();

Q_SIGNALS:
    void pushFinished(bool ok, const QString &message);

private:
    struct Families;
    void scheduleTextfile();
    void push();
    void pushNext();
    void removeJobSeries(const QString &job, const QString &repository);
    void applyRun(const protocol::RunFinished &result, const QString &repository, bool countIt);

    std::shared_ptr<prometheus::Registry> m_registry;
    std::unique_ptr<Families> m_f;
    std::unique_ptr<prometheus::Exposer> m_exposer;
    QString m_listen;
    quint16 m_port = 0;
    QString m_textfilePath;
    QString m_pushUrl;
    QString m_node;
    QHash<QString, QString> m_jobRepository; // job → repository name, as labelled
    QTimer m_textfileTimer;
    QTimer m_textfileRefresh;
    QNetworkAccessManager *m_network = nullptr;
    QPointer<QNetworkReply> m_pushReply;
    QList<std::pair<QUrl, QByteArray>> m_pushQueue;
    bool m_pushAgain = false;
};

} // namespace sparky::agent
