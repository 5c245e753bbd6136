#include "demofleet.h"

#include "eventfactory.h"
#include "sparky/amqpclient.h"
#include "testbroker.h"

#include <QCryptographicHash>
#include <QJsonArray>
#include <QSignalSpy>
#include <QTest>
#include <cmath>

namespace sparky::test {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

namespace {

constexpr qint64 MiB = 1024 * 1024;
constexpr qint64 GiB = 1024 * MiB;
constexpr qint64 kRpo = 26 * 3600;

QString repositoryOf(const QString &node, const QString &job)
{
    return u"ssh://borg@repo-01.example.net/./%1-%2"_s.arg(node, job);
}

// Stable ids, so screenshots and logs read the same on every run.
QString runId(const QString &node, const QString &job, const QString &kind, int index)
{
    const QByteArray h = QCryptographicHash::hash(
        (node + u'/' + job + u'/' + kind + u'/' + QString::number(index)).toUtf8(),
        QCryptographicHash::Sha1);
    return u"r-"_s + QString::fromLatin1(h.toHex().left(8));
}

// A little day-to-day noise without randomness.
// A run of a job: its run.started (appended to `out`) and the run.finished the caller
// fills in (status, steps, details) and hands to finishRun().
proto::RunFinished startRun(QList<Envelope> &out, const QString &node, const QString &job,
    proto::RunKind kind, const QString &id, const QString &trigger, const QDateTime &start,
    const QDateTime &end)
{
    proto::RunStarted s;
    s.runId = id;
    s.job = job;
    s.kind = kind;
    s.repository = repositoryOf(node, job);
    s.trigger = trigger;
    s.startedAt = start;
    Envelope started = Envelope::make(QString(proto::type::RunStarted), node, s.toJson());
    started.ts = start;
    out.append(started);
    proto::RunFinished f;
    f.runId = s.runId;
    f.job = job;
    f.kind = kind;
    f.repository = s.repository;
    f.trigger = trigger;
    f.status = proto::Status::Success;
    f.startedAt = start;
    f.finishedAt = end;
    return f;
}

void finishRun(QList<Envelope> &out, const QString &node, const proto::RunFinished &f)
{
    Envelope finished = Envelope::make(QString(proto::type::RunFinished), node, f.toJson());
    finished.ts = f.finishedAt;
    out.append(finished);
}

double wobble(int index, double amplitude)
{
    return amplitude * std::sin(index * 1.7) * std::cos(index * 0.45);
}

QString humanSize(qint64 bytes)
{
    return u"%1 GB"_s.arg(double(bytes) / 1e9, 0, 'f', 2);
}

} // namespace

DemoFleet::DemoFleet(std::shared_ptr<TestBroker> broker, const QDateTime &now)
    : m_broker(std::move(broker))
    , m_now(now.toUTC())
{
    QDateTime base = m_now.addSecs(-5 * 3600);
    base.setTime(QTime(base.time().hour(), 0));
    auto job = [&](const QString &node, const QString &name, qint64 rpo, int minute) {
        Job j;
        j.node = node;
        j.name = name;
        j.rpoSeconds = rpo;
        j.newest = base.addSecs(60 * minute);
        return j;
    };

    Job home = job(u"web-01"_s, u"home"_s, kRpo, 0);
    home.originalSize = qint64(6.84 * double(GiB));
    home.dailyGrowth = 21 * MiB;
    home.files = 120034;
    home.duration = 185;
    home.steps = { u"create"_s, u"prune"_s, u"compact"_s };
    home.drills = 4;
    m_jobs << home;

    Job www = job(u"web-01"_s, u"www"_s, kRpo, 20);
    www.originalSize = qint64(1.31 * double(GiB));
    www.dailyGrowth = 4 * MiB;
    www.files = 48210;
    www.duration = 72;
    www.warnings = { 0, 9 };
    www.steps = { u"hook:before:maintenance-on"_s, u"dump:shop"_s, u"create"_s,
        u"hook:after:maintenance-off"_s, u"prune"_s };
    www.failedStep = u"create"_s;
    www.error = u"/srv/www/shop/var/log/app.log: file changed while we backed it up"_s;
    m_jobs << www;

    Job pg = job(u"db-01"_s, u"pg"_s, kRpo, 5);
    pg.originalSize = qint64(12.9 * double(GiB));
    pg.dailyGrowth = 60 * MiB;
    pg.files = 3412;
    pg.duration = 540;
    pg.failed = { 0, 1 };
    pg.steps = { u"dump:app"_s, u"dump:globals"_s, u"create"_s, u"prune"_s };
    pg.failedStep = u"dump:app"_s;
    pg.error
        = u"pg_dump: error: connection to server at \"127.0.0.1\", port 5432 failed: Connection refused"_s;
    // Drills of the archives of 3 and 10 days ago: the older good, the newer failed (apart
    // from the two failed backups on top of its history, so the history reads the same).
    pg.drills = 2;
    pg.drillOffset = 3;
    pg.failedDrills = { 0 };
    m_jobs << pg;

    Job etc = job(u"db-01"_s, u"etc"_s, kRpo, 35);
    etc.originalSize = 24 * MiB;
    etc.dailyGrowth = 12 * 1024;
    etc.files = 1830;
    etc.duration = 9;
    etc.steps = { u"create"_s, u"prune"_s };
    etc.checks = 1;
    m_jobs << etc;

    Job mail = job(u"mail-01"_s, u"maildir"_s, kRpo, 10);
    mail.originalSize = qint64(38.5 * double(GiB));
    mail.dailyGrowth = 180 * MiB;
    mail.files = 612330;
    mail.duration = 1260;
    mail.steps = { u"create"_s, u"prune"_s, u"compact"_s };
    m_jobs << mail;

    Job projects = job(u"files-01"_s, u"projects"_s, 0, 15);
    projects.runs = 14;
    projects.originalSize = 212 * GiB;
    projects.dailyGrowth = 900 * MiB;
    projects.files = 2104337;
    projects.duration = 3300;
    projects.warnings = { 5 };
    projects.cancelled = { 0 };
    projects.steps = { u"create"_s, u"prune"_s };
    projects.failedStep = u"create"_s;
    projects.error = u"cancelled by backup.cancel (command issued by sparky-operator)"_s;
    m_jobs << projects;
}

DemoFleet::~DemoFleet() = default;

QStringList DemoFleet::nodes()
{
    return { u"web-01"_s, u"db-01"_s, u"mail-01"_s, u"files-01"_s };
}

const DemoFleet::Job *DemoFleet::job(const QString &node, const QString &name) const
{
    for (const Job &j : m_jobs)
        if (j.node == node && j.name == name)
            return &j;
    return nullptr;
}

int DemoFleet::runCount() const
{
    int n = 0;
    for (const Job &j : m_jobs)
        n += j.runs + j.drills + j.checks;
    return n;
}

QDateTime DemoFleet::runStart(const Job &j, int index) const
{
    return j.newest.addDays(-index).addSecs(qint64(std::lround(wobble(index, 40.0)) + 40));
}

qint64 DemoFleet::originalSize(const Job &j, int index) const
{
    return j.originalSize - j.dailyGrowth * index
        + qint64(wobble(index, double(j.dailyGrowth) * 0.6));
}

qint64 DemoFleet::deduplicatedSize(const Job &j, int index) const
{
    return qMax<qint64>(
        4096, j.dailyGrowth * 3 + qint64(wobble(index + 3, double(j.dailyGrowth) * 2.5)));
}

double DemoFleet::duration(const Job &j, int index) const
{
    return std::round((j.duration * (1.0 + wobble(index + 1, 0.18))) * 10.0) / 10.0;
}

proto::Status DemoFleet::status(const Job &j, int index) const
{
    if (j.failed.contains(index))
        return proto::Status::Failed;
    if (j.cancelled.contains(index))
        return proto::Status::Cancelled;
    if (j.warnings.contains(index))
        return proto::Status::Warning;
    return proto::Status::Success;
}

QString DemoFleet::archiveName(const Job &j, int index) const
{
    return u"%1-%2-%3"_s.arg(j.node, j.name, runStart(j, index).toString(u"yyyy-MM-ddTHH:mm:ss"_s));
}

QList<Envelope> DemoFleet::history(const Job &j) const
{
    QList<Envelope> out;
    for (int i = j.runs - 1; i >= 0; --i) {
        const QDateTime start = runStart(j, i);
        const proto::Status st = status(j, i);
        const double seconds = st == proto::Status::Failed ? 2.4
            : st == proto::Status::Cancelled               ? duration(j, i) * 0.4
                                                           : duration(j, i);
        const QDateTime end = start.addMSecs(qint64(seconds * 1000));

        proto::RunFinished f = startRun(out, j.node, j.name, proto::RunKind::Backup,
            runId(j.node, j.name, u"backup"_s, i),
            i == 0 && st == proto::Status::Cancelled ? u"command"_s : u"schedule"_s, start, end);
        f.status = st;
        // The steps one after the other up to where it went wrong; create takes most of
        // the time.
        const qint64 spanMs = start.msecsTo(end);
        const int stepCount = int(j.steps.size());
        QDateTime at = start;
        for (int k = 0; k < stepCount; ++k) {
            const QString name = j.steps.at(k);
            const double share = stepCount == 1 ? 1.0
                : name == u"create"             ? 0.8
                                                : 0.2 / (stepCount - 1);
            proto::StepResult step;
            step.name = name;
            step.startedAt = at;
            step.finishedAt = at.addMSecs(qint64(double(spanMs) * share));
            at = step.finishedAt;
            step.status = proto::Status::Success;
            step.exitCode = 0;
            const bool here = name == j.failedStep && st != proto::Status::Success;
            if (here) {
                step.status = st;
                step.exitCode = st == proto::Status::Warning ? 1 : 2;
                step.error = j.error;
                if (st != proto::Status::Warning) {
                    f.failedStep = name;
                    f.error = j.error;
                }
            }
            f.steps.append(step);
            if (here && st != proto::Status::Warning)
                break; // nothing runs after a failed or cancelled step
        }
        if (st == proto::Status::Success || st == proto::Status::Warning) {
            proto::RunStats stats;
            stats.archiveName = archiveName(j, i);
            stats.archiveId = QString::fromLatin1(
                QCryptographicHash::hash(stats.archiveName.toUtf8(), QCryptographicHash::Sha256)
                    .toHex());
            stats.originalSize = originalSize(j, i);
            stats.compressedSize = stats.originalSize * 43 / 100;
            stats.deduplicatedSize = deduplicatedSize(j, i);
            stats.files = j.files - 40 * i;
            stats.durationSeconds = seconds;
            f.stats = stats;
            f.logTail
                = u"Creating archive at \"%1::%2\"\n"
                  "------------------------------------------------------------------------------\n"
                  "Archive name: %2\n"
                  "Number of files: %3\n"
                  "                       Original size      Compressed size    Deduplicated size\n"
                  "This archive:          %4         %5         %6\n"
                  "------------------------------------------------------------------------------\n"_s
                      .arg(f.repository, stats.archiveName)
                      .arg(stats.files)
                      .arg(humanSize(stats.originalSize), humanSize(stats.compressedSize),
                          humanSize(stats.deduplicatedSize));
            if (st == proto::Status::Warning)
                f.logTail += j.error + u"\nterminating with warning status, rc 1\n"_s;
            else
                f.logTail += u"terminating with success status, rc 0\n"_s;
        } else if (st == proto::Status::Failed) {
            f.logTail = j.error
                + u"\nstep %1 exited with 2; the archive was not created\n"_s.arg(j.failedStep);
        } else {
            f.logTail
                = u"Received SIGTERM, stopping\nterminating with error status, rc 2 (cancelled)\n"_s;
        }
        finishRun(out, j.node, f);
    }
    return out;
}

QList<Envelope> DemoFleet::drills(const Job &j) const
{
    QList<Envelope> out;
    const QStringList steps { u"latest"_s, u"sample"_s, u"extract"_s, u"verify"_s, u"cleanup"_s };
    for (int w = j.drills - 1; w >= 0; --w) {
        const int archiveIndex = j.drillOffset + 7 * w;
        const QString archive = archiveName(j, archiveIndex);
        const bool failed = j.failedDrills.contains(w);
        const QDateTime start = runStart(j, archiveIndex).addSecs(3600);
        const QDateTime end = start.addSecs(48);
        proto::RunFinished f = startRun(out, j.node, j.name, proto::RunKind::Drill,
            runId(j.node, j.name, u"drill"_s, w), u"schedule"_s, start, end);
        f.status = failed ? proto::Status::Failed : proto::Status::Success;
        // A failed drill: one sampled file does not match what borg recorded for it (the
        // words of docs/restore.md "Restore drills").
        const QString differs = u"etc/postgresql/16/main/postgresql.conf"_s;
        const QString failure
            = u"1 of 25 sampled files differ from archive %1: %2: content differs (sha256 in "
              "archive 9f86d081884c7d65…, extracted 5e884898da280471…)"_s.arg(archive, differs);
        for (int k = 0; k < steps.size(); ++k) {
            proto::StepResult step;
            step.name = steps.at(k);
            step.status = proto::Status::Success;
            step.startedAt = start.addSecs(k * 9);
            step.finishedAt = start.addSecs(k * 9 + 8);
            if (failed && step.name == u"verify") {
                step.status = proto::Status::Failed;
                step.error = failure;
                f.failedStep = step.name;
                f.error = failure;
            }
            f.steps.append(step);
        }
        QJsonArray mismatches;
        if (failed)
            mismatches.append(QJsonObject { { u"path"_s, differs },
                { u"problem"_s, u"content differs"_s },
                { u"expected_sha256"_s, u"9f86d081884c7d659a2feaa0c55ad015"_s },
                { u"actual_sha256"_s, u"5e884898da28047151d0e56f8dc62927"_s } });
        f.details = QJsonObject { { u"archive"_s, archive }, { u"sample"_s, u"random"_s },
            { u"files_checked"_s, 25 }, { u"bytes_checked"_s, 1843200 },
            { u"mismatches"_s, mismatches } };
        f.logTail = failed ? u"drill of %1: %2\n"_s.arg(archive, failure)
                           : u"drill of %1: 25 of 25 sampled files match the archive\n"_s.arg(
                                 archive);
        finishRun(out, j.node, f);
    }
    return out;
}

QList<Envelope> DemoFleet::checks(const Job &j) const
{
    QList<Envelope> out;
    for (int w = j.checks - 1; w >= 0; --w) {
        const QDateTime start = runStart(j, 7 * w).addSecs(2 * 3600);
        const QDateTime end = start.addSecs(95);
        proto::RunFinished f = startRun(out, j.node, j.name, proto::RunKind::Check,
            runId(j.node, j.name, u"check"_s, w), u"schedule"_s, start, end);
        proto::StepResult step;
        step.name = u"check"_s;
        step.status = proto::Status::Success;
        step.exitCode = 0;
        step.startedAt = start;
        step.finishedAt = end;
        f.steps.append(step);
        f.logTail = u"Starting repository check\nRepository check complete, no problems found.\n"
                    "Starting archive consistency check...\nArchive consistency check complete, "
                    "no problems found.\n"_s;
        finishRun(out, j.node, f);
    }
    return out;
}

Envelope DemoFleet::hello(const QString &node, const QDateTime &at) const
{
    QList<proto::JobInfo> infos;
    for (const Job &j : m_jobs) {
        if (j.node != node)
            continue;
        proto::JobInfo info;
        info.name = j.name;
        info.repository = repositoryOf(j.node, j.name);
        info.schedule = u"%1 %2 * * *"_s.arg(j.newest.time().minute()).arg(j.newest.time().hour());
        info.rpoSeconds = j.rpoSeconds;
        infos.append(info);
    }
    return helloEnvelope(node, infos, at);
}

Envelope DemoFleet::heartbeat(const QString &node, const QDateTime &at) const
{
    proto::AgentHeartbeat hb;
    hb.version = u"0.1.0"_s;
    hb.configDigest = u"sha256:3f7a"_s;
    hb.uptimeSeconds = 86400 * 12;
    Envelope e = Envelope::make(QString(proto::type::AgentHeartbeat), node, hb.toJson());
    e.ts = at;
    return e;
}

Result DemoFleet::publish()
{
    for (const QString &node : nodes()) {
        QList<Envelope> events;
        const bool offline = node == u"mail-01";
        QDateTime oldest = m_now;
        for (const Job &j : m_jobs)
            if (j.node == node)
                oldest = qMin(oldest, runStart(j, j.runs - 1));
        // An agent says hello when it starts; an offline node's last word is old.
        events.append(
            hello(node, offline ? oldest.addSecs(-3600) : QDateTime::currentDateTimeUtc()));
        for (const Job &j : m_jobs)
            if (j.node == node)
                events += history(j) + drills(j) + checks(j);
        if (!offline)
            events.append(heartbeat(node, QDateTime::currentDateTimeUtc()));
        if (auto ok = publishAs(node, events); !ok)
            return ok.error().wrapped(u"publishing the demo fleet as %1"_s.arg(node));
    }
    return {};
}

Result DemoFleet::publishAs(const QString &node, const QList<Envelope> &events)
{
    auto settings = m_broker->node(node);
    if (!settings)
        return settings.error();
    AmqpClient client(*settings);
    QSignalSpy up(&client, &AmqpClient::connected);
    client.start();
    if (!up.wait(15000) && up.isEmpty())
        return unexpected(
            ErrorCode::Network, u"node %1 could not connect to the broker"_s.arg(node));
    int confirmed = 0;
    QList<Error> failures;
    QObject ctx;
    QObject::connect(&client, &AmqpClient::confirmed, &ctx,
        [&](const QList<quint64> &tokens) { confirmed += int(tokens.size()); });
    QObject::connect(&client, &AmqpClient::publishFailed, &ctx,
        [&](quint64, const Error &e) { failures.append(e); });
    for (const Envelope &e : events)
        client.publish(eventMessage(e, node));
    const int expected = int(events.size());
    if (!QTest::qWaitFor([&] { return confirmed >= expected || !failures.isEmpty(); }, 30000))
        return unexpected(ErrorCode::Timeout,
            u"%1 of %2 events of %3 confirmed"_s.arg(confirmed).arg(expected).arg(node));
    client.stop();
    if (!failures.isEmpty())
        return failures.first();
    return {};
}

} // namespace sparky::test
