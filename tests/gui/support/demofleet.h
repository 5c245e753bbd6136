#pragma once

// A small, realistic fleet for the console's integration tests and screenshots, reported
// to the real orchestrator the way agents report: every event built through
// sparky/protocol.h and published by the node's own broker user (the orchestrator refuses
// anything else). Times are relative to `now`, so ages and RPO breaches are the same on
// every run.
//
//   web-01    home (daily, RPO 26 h, all good, growing; four weekly restore drills, all
//             good), www (last run: warning; with a database series www.pg-shop) — the
//             node the tests' AgentResponder answers for
//   db-01     pg (the last two runs failed at dump:app → RPO breached; a good restore drill,
//             then a failed one: a sampled file differs), etc (a good borg check)
//   mail-01   maildir, all good — but the node went quiet 5 h ago: offline
//   files-01  projects (no RPO; last run cancelled by an operator)
//
// Threading: the test's main thread.

#include "sparky/envelope.h"
#include "sparky/error.h"
#include "sparky/protocol.h"

#include <QDateTime>
#include <QList>
#include <QStringList>
#include <memory>

namespace sparky::test {

class TestBroker;

class DemoFleet final
{
public:
    struct Job
    {
        QString node;
        QString name;
        qint64 rpoSeconds = 0;
        int runs = 30; // daily, the newest first at `newest`
        QDateTime newest;
        qint64 originalSize = 0; // of the newest run
        qint64 dailyGrowth = 0;
        qint64 files = 0;
        double duration = 60; // seconds, ± a little every day
        QList<int> failed; // run indexes (0 = newest) that failed
        QList<int> warnings;
        QList<int> cancelled;
        QStringList steps; // in order; the failing one named by failedStep
        QString failedStep;
        QString error;
        int drills = 0; // weekly restore drills, the newest (0) an hour after run drillOffset
        int drillOffset = 0;
        QList<int> failedDrills; // drill indexes (0 = newest) that failed at verify
        int checks = 0; // weekly borg checks (all good), the newest two hours after run 0
    };

    DemoFleet(std::shared_ptr<TestBroker> broker, const QDateTime &now);
    ~DemoFleet();
    DemoFleet(const DemoFleet &) = delete;
    DemoFleet &operator=(const DemoFleet &) = delete;

    static QStringList nodes(); // web-01, db-01, mail-01, files-01
    static QString responderNode() { return QStringLiteral("web-01"); }
    QList<Job> jobs() const { return m_jobs; }
    const Job *job(const QString &node, const QString &name) const;
    QDateTime now() const { return m_now; }

    // Publishes everything (hello, history, heartbeats) and waits for the broker's confirms.
    Result publish();
    // How many runs the store holds once everything is ingested.
    int runCount() const;

    // The name borg gives run `index` of a job ("web-01-home-2026-11-25T04:00:00").
    QString archiveName(const Job &job, int index) const;
    QDateTime runStart(const Job &job, int index) const;
    qint64 originalSize(const Job &job, int index) const;
    qint64 deduplicatedSize(const Job &job, int index) const;
    double duration(const Job &job, int index) const;
    protocol::Status status(const Job &job, int index) const;

    // Events as `node` (its broker user); waits for confirms.
    Result publishAs(const QString &node, const QList<Envelope> &events);

private:
    QList<Envelope> history(const Job &job) const;
    QList<Envelope> drills(const Job &job) const;
    QList<Envelope> checks(const Job &job) const;
    Envelope hello(const QString &node, const QDateTime &at) const;
    Envelope heartbeat(const QString &node, const QDateTime &at) const;

    std::shared_ptr<TestBroker> m_broker;
    QDateTime m_now;
    QList<Job> m_jobs;
};

} // namespace sparky::test
