#include "eventfactory.h"

namespace sparky::test {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;

QList<Envelope> AgentRun::events() const
{
    QList<Envelope> out;
    const QDateTime t0 = start.isValid() ? start : QDateTime::currentDateTimeUtc().addSecs(-60);
    proto::RunStarted s;
    s.runId = runId;
    s.job = job;
    s.kind = kind;
    s.repository = u"ssh://borg@repo-01/./"_s + node;
    s.trigger = u"schedule"_s;
    s.startedAt = t0;
    Envelope started = Envelope::make(QString(proto::type::RunStarted), node, s.toJson());
    started.ts = t0;
    out.append(started);
    for (int i = 0; i < progressEvents; ++i) {
        proto::RunProgress p;
        p.runId = runId;
        p.job = job;
        p.step = u"create"_s;
        p.originalSize = originalSize * (i + 1) / (progressEvents + 1);
        p.files = 10 * (i + 1);
        Envelope e = Envelope::make(QString(proto::type::RunProgress), node, p.toJson());
        e.ts = t0.addMSecs(1000 * (i + 1));
        out.append(e);
    }
    proto::RunFinished f;
    f.runId = runId;
    f.job = job;
    f.kind = kind;
    f.repository = s.repository;
    f.trigger = s.trigger;
    f.status = status;
    f.startedAt = t0;
    f.finishedAt = t0.addSecs(30);
    proto::StepResult step;
    step.name = u"create"_s;
    step.status = status;
    step.startedAt = t0;
    step.finishedAt = f.finishedAt;
    step.exitCode
        = status == proto::Status::Success ? 0 : (status == proto::Status::Warning ? 1 : 2);
    if (status == proto::Status::Failed) {
        step.error = u"borg create exited with 2"_s;
        f.failedStep = u"create"_s;
        f.error = step.error;
    }
    f.steps = { step };
    proto::RunStats stats;
    stats.archiveName = node + u"-"_s + job + u"-"_s + runId;
    stats.archiveId = u"a1b2c3"_s;
    stats.originalSize = originalSize;
    stats.compressedSize = originalSize / 2;
    stats.deduplicatedSize = deduplicatedSize;
    stats.files = 1234;
    stats.durationSeconds = 30;
    if (status != proto::Status::Failed)
        f.stats = stats;
    f.logTail = u"Creating archive…\nterminating with success status, rc 0"_s;
    Envelope finished = Envelope::make(QString(proto::type::RunFinished), node, f.toJson());
    finished.ts = f.finishedAt;
    out.append(finished);
    return out;
}

Envelope helloEnvelope(const QString &node, const QList<proto::JobInfo> &jobs, const QDateTime &ts)
{
    proto::AgentHello h;
    h.version = u"0.1.0"_s;
    h.configDigest = u"sha256:abc"_s;
    h.hostname = node + u".example.net"_s;
    h.startedAt = QDateTime::currentDateTimeUtc().addSecs(-3600);
    h.jobs = jobs;
    Envelope e = Envelope::make(QString(proto::type::AgentHello), node, h.toJson());
    if (ts.isValid())
        e.ts = ts;
    return e;
}

OutgoingMessage eventMessage(const Envelope &e, const QString &user)
{
    OutgoingMessage m;
    m.exchange = QString(proto::kEventsExchange);
    m.routingKey = proto::eventRoutingKey(user, e.type);
    m.body = serializeEnvelope(e);
    m.properties = propertiesFor(e, user);
    return m;
}

} // namespace sparky::test
