#include "statusreport.h"

#include "statestore.h"

#include "sparky/envelope.h"

#include <QJsonArray>
#include <QSqlQuery>

#include <cerrno>
#include <csignal>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

QDateTime ts(const QVariant &v)
{
    if (v.isNull())
        return {};
    return parseTimestamp(v.toString()).value_or(QDateTime());
}

QString show(const QDateTime &t)
{
    return t.isValid() ? formatTimestamp(t).left(19) + u'Z' : u"-"_s;
}

bool processAlive(qint64 pid)
{
    if (pid <= 0)
        return false;
    return ::kill(pid_t(pid), 0) == 0 || errno == EPERM;
}

QJsonValue jsonTime(const QDateTime &t)
{
    return t.isValid() ? QJsonValue(formatTimestamp(t)) : QJsonValue();
}

} // namespace

Expected<StatusReport> StatusReport::read(const QString &stateDir, const QStringList &configuredJobs)
{
    auto store = StateStore::open(stateDir, StateStore::Mode::ReadOnly);
    if (!store)
        return store.error();
    StateStore &s = **store;
    StatusReport r;
    r.statePath = s.path();

    QSqlQuery facts(s.database());
    facts.prepare(u"SELECT key, value FROM facts"_s);
    if (auto ok = StateStore::exec(facts, u"reading the agent's facts"_s); !ok)
        return ok.error();
    while (facts.next()) {
        const QString k = facts.value(0).toString();
        const QString v = facts.value(1).toString();
        if (k == u"daemon_pid") r.daemonPid = v.toLongLong();
        else if (k == u"daemon_state") r.daemonState = v;
        else if (k == u"daemon_started_at") r.daemonStartedAt = ts(v);
        else if (k == u"heartbeat_at") r.heartbeatAt = ts(v);
        else if (k == u"node") r.node = v;
        else if (k == u"version") r.version = v;
        else if (k == u"config_digest") r.configDigest = v;
        else if (k == u"config_files") r.configFiles = v;
        else if (k == u"config_rejected") r.configRejected = v;
        else if (k == u"config_rejected_at") r.configRejectedAt = ts(v);
        else if (k == u"broker_state") r.brokerState = v;
        else if (k == u"broker_detail") r.brokerDetail = v;
        else if (k == u"broker_since") r.brokerSince = ts(v);
    }
    r.daemonRunning = r.daemonState != u"stopped"_s && processAlive(r.daemonPid);

    QSqlQuery outbox(s.database());
    outbox.prepare(u"SELECT COUNT(*), MIN(created_at) FROM outbox"_s);
    if (auto ok = StateStore::exec(outbox, u"reading the outbox"_s); !ok)
        return ok.error();
    if (outbox.next()) {
        r.outboxMessages = outbox.value(0).toLongLong();
        r.outboxOldest = ts(outbox.value(1));
    }

    // Every (job, kind) that is configured, scheduled or has run.
    QList<std::pair<QString, QString>> keys;
    for (const QString &j : configuredJobs)
        keys.append({j, u"backup"_s});
    QSqlQuery known(s.database());
    known.prepare(u"SELECT job, kind FROM schedule UNION SELECT job, kind FROM runs ORDER BY 1, 2"_s);
    if (auto ok = StateStore::exec(known, u"reading jobs"_s); !ok)
        return ok.error();
    while (known.next()) {
        const std::pair<QString, QString> k{known.value(0).toString(), known.value(1).toString()};
        if (!configuredJobs.isEmpty() && !configuredJobs.contains(k.first))
            continue; // a job removed from the config
        if (!keys.contains(k))
            keys.append(k);
    }
    std::sort(keys.begin(), keys.end());

    for (const auto &[job, kind] : std::as_const(keys)) {
        JobLine line;
        line.job = job;
        line.kind = kind;
        QSqlQuery last(s.database());
        last.prepare(u"SELECT run_id, state, status, started_at, finished_at, error, repository FROM runs "
                     "WHERE job = ? AND kind = ? ORDER BY started_at DESC LIMIT 1"_s);
        last.addBindValue(job);
        last.addBindValue(kind);
        if (last.exec() && last.next()) {
            line.lastRunId = last.value(0).toString();
            line.lastStatus = last.value(1).toString() == u"running"_s ? u"running"_s : last.value(2).toString();
            line.lastStarted = ts(last.value(3));
            line.lastFinished = ts(last.value(4));
            line.lastError = last.value(5).toString();
            line.repository = last.value(6).toString();
        }
        QSqlQuery good(s.database());
        good.prepare(u"SELECT MAX(finished_at) FROM runs WHERE job = ? AND kind = ? AND status IN ('success', 'warning')"_s);
        good.addBindValue(job);
        good.addBindValue(kind);
        if (good.exec() && good.next())
            line.lastSuccess = ts(good.value(0));
        QSqlQuery next(s.database());
        next.prepare(u"SELECT next_fire FROM schedule WHERE job = ? AND kind = ?"_s);
        next.addBindValue(job);
        next.addBindValue(kind);
        if (next.exec() && next.next())
            line.nextRun = ts(next.value(0));
        r.jobs.append(line);
    }

    QSqlQuery running(s.database());
    running.prepare(u"SELECT run_id, job, kind, started_at, trigger FROM runs WHERE state = 'running' ORDER BY started_at"_s);
    if (auto ok = StateStore::exec(running, u"reading running runs"_s); !ok)
        return ok.error();
    while (running.next())
        r.runningRuns << u"%1 (%2 %3, %4) since %5"_s.arg(running.value(0).toString(), running.value(1).toString(),
                                                          running.value(2).toString(), running.value(4).toString(),
                                                          show(ts(running.value(3))));
    return r;
}

QString StatusReport::toText() const
{
    QString out;
    out += u"node      %1 (sparky-agent %2)\n"_s.arg(node.isEmpty() ? u"?"_s : node, version);
    if (daemonRunning)
        out += u"daemon    running, pid %1, since %2, last heartbeat %3\n"_s.arg(daemonPid).arg(
            show(daemonStartedAt), show(heartbeatAt));
    else if (daemonState == u"stopped"_s)
        out += u"daemon    stopped\n"_s;
    else
        out += u"daemon    NOT running (state '%1' recorded by pid %2, which is gone: it was killed or crashed)\n"_s
                   .arg(daemonState)
                   .arg(daemonPid);
    out += u"config    digest %1 (%2)\n"_s.arg(configDigest.left(12), configFiles);
    if (!configRejected.isEmpty())
        out += u"          last reload REJECTED at %1: %2\n"_s.arg(show(configRejectedAt),
                                                                  configRejected.section(u'\n', 0, 0));
    out += u"broker    %1%2 since %3\n"_s.arg(brokerState.isEmpty() ? u"unknown"_s : brokerState,
                                               brokerDetail.isEmpty() ? QString() : u" ("_s + brokerDetail + u')',
                                               show(brokerSince));
    out += u"outbox    %1 event(s) waiting%2\n"_s.arg(outboxMessages).arg(
        outboxOldest.isValid() ? u", oldest from "_s + show(outboxOldest) : QString());
    out += u"state     %1\n\n"_s.arg(statePath);

    const QStringList header{u"JOB"_s, u"KIND"_s, u"LAST RUN"_s, u"STATUS"_s, u"LAST SUCCESS"_s, u"NEXT RUN"_s};
    QList<QStringList> rows{header};
    for (const JobLine &j : jobs)
        rows.append({j.job, j.kind, show(j.lastStarted), j.lastStatus.isEmpty() ? u"never run"_s : j.lastStatus,
                     show(j.lastSuccess), show(j.nextRun)});
    QList<qsizetype> widths(header.size(), 0);
    for (const QStringList &row : std::as_const(rows))
        for (qsizetype i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], row.at(i).size());
    for (const QStringList &row : std::as_const(rows)) {
        QString line;
        for (qsizetype i = 0; i < row.size(); ++i)
            line += row.at(i).leftJustified(widths[i] + 2);
        out += line.trimmed() + u'\n';
    }
    for (const JobLine &j : jobs)
        if ((j.lastStatus == u"failed"_s || j.lastStatus == u"cancelled"_s) && !j.lastError.isEmpty())
            out += u"\n%1 %2: %3"_s.arg(j.job, j.kind, j.lastError.section(u'\n', 0, 0));
    if (!runningRuns.isEmpty())
        out += u"\nrunning:\n  "_s + runningRuns.join(u"\n  "_s) + u'\n';
    return out;
}

QJsonObject StatusReport::toJson() const
{
    QJsonArray jobArray;
    for (const JobLine &j : jobs)
        jobArray.append(QJsonObject{{u"job"_s, j.job},
                                    {u"kind"_s, j.kind},
                                    {u"repository"_s, j.repository},
                                    {u"last_run_id"_s, j.lastRunId},
                                    {u"last_status"_s, j.lastStatus},
                                    {u"last_started_at"_s, jsonTime(j.lastStarted)},
                                    {u"last_finished_at"_s, jsonTime(j.lastFinished)},
                                    {u"last_error"_s, j.lastError},
                                    {u"last_success_at"_s, jsonTime(j.lastSuccess)},
                                    {u"next_run_at"_s, jsonTime(j.nextRun)}});
    return QJsonObject{
        {u"node"_s, node},
        {u"version"_s, version},
        {u"daemon"_s, QJsonObject{{u"running"_s, daemonRunning},
                                  {u"pid"_s, daemonPid},
                                  {u"state"_s, daemonState},
                                  {u"started_at"_s, jsonTime(daemonStartedAt)},
                                  {u"heartbeat_at"_s, jsonTime(heartbeatAt)}}},
        {u"config"_s, QJsonObject{{u"digest"_s, configDigest},
                                  {u"files"_s, configFiles},
                                  {u"rejected"_s, configRejected},
                                  {u"rejected_at"_s, jsonTime(configRejectedAt)}}},
        {u"broker"_s, QJsonObject{{u"state"_s, brokerState},
                                  {u"detail"_s, brokerDetail},
                                  {u"since"_s, jsonTime(brokerSince)}}},
        {u"outbox"_s, QJsonObject{{u"messages"_s, outboxMessages}, {u"oldest"_s, jsonTime(outboxOldest)}}},
        {u"jobs"_s, jobArray},
        {u"running"_s, QJsonArray::fromStringList(runningRuns)},
        {u"state_path"_s, statePath},
    };
}

} // namespace sparky::agent
