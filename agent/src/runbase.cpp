#include "runbase.h"

#include "borgcall.h"
#include "logtail.h"
#include "repositorylocks.h"
#include "runlimits.h"
#include "stepprocess.h"

#include "sparky/config.h"

#include <QFileInfo>
#include <QLoggingCategory>

namespace sparky::agent {

using namespace Qt::StringLiterals;
using protocol::Status;

Q_LOGGING_CATEGORY(lcRunBase, "sparky.agent.runner.restore")

namespace {

} // namespace

RunBase::RunBase(
    const AgentConfig &config, RunRequest request, RepositoryLocks *locks, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_request(std::move(request))
    , m_locks(locks)
    , m_tail(std::make_unique<LogTail>())
{
    if (m_request.runId.isEmpty())
        m_request.runId = RunExecutor::newRunId();
    m_job = m_config.job(m_request.job);
    m_repo = m_job ? m_config.repository(m_job->repository) : nullptr;
    m_result.runId = m_request.runId;
    m_result.job = m_request.job;
    m_result.kind = m_request.kind;
    m_result.trigger = m_request.trigger;
    m_result.commandId = m_request.commandId;
    m_result.repository = m_repo ? m_repo->displayUrl() : QString();
    m_maxRunTimer.setSingleShot(true);
    connect(&m_maxRunTimer, &QTimer::timeout, this, [this] {
        m_overtime = true;
        const QString reason = stopReason();
        qCWarning(lcRunBase).noquote() << "run" << m_request.runId << reason;
        stopAll(reason);
    });
}

RunBase::~RunBase()
{
    if (m_locks && m_ticket)
        m_locks->release(m_ticket);
}

qint64 RunBase::currentProcessId() const
{
    for (const Active &a : m_active)
        if (a.object && a.pid)
            if (const qint64 pid = a.pid(); pid > 0)
                return pid;
    return 0;
}

QString RunBase::stopReason() const
{
    if (m_overtime)
        return u"the run exceeded its maximum run time of %1"_s.arg(config::formatDuration(maxRunTime()));
    return u"cancelled: "_s + m_cancelReason;
}

QString RunBase::redact(const QString &text) const
{
    return m_tail->redactor().redact(text);
}

void RunBase::start()
{
    if (m_begun || m_ticket || m_finished || m_completing)
        return;
    auto failNow = [this](const QString &step, const QString &error) {
        QTimer::singleShot(0, this, [this, step, error] {
            if (m_completing)
                return;
            m_result.startedAt = QDateTime::currentDateTimeUtc();
            emitStarted();
            beginStep(step);
            endStep(Status::Failed, std::nullopt, error);
            complete();
        });
    };
    if (!m_job || !m_repo) {
        failNow(u"config"_s,
            !m_job ? u"unknown job '%1'"_s.arg(m_request.job)
                   : u"job '%1' names unknown repository '%2'"_s.arg(
                       m_request.job, m_job->repository));
        return;
    }
    if (auto r = validate(); !r) {
        failNow(u"validate"_s, r.error().message);
        return;
    }
    if (m_locks) {
        if (m_locks->isHeld(m_repo->url))
            qCInfo(lcRunBase).noquote()
                << protocol::runKindName(m_request.kind) << "run" << m_request.runId
                << "waits for repository" << m_repo->name;
        m_ticket = m_locks->acquire(m_repo->url, this, [this] { onLockGranted(); });
    } else {
        QTimer::singleShot(0, this, [this] { onLockGranted(); });
    }
}

void RunBase::onLockGranted()
{
    if (m_begun || m_completing)
        return;
    m_begun = true;
    m_result.startedAt = QDateTime::currentDateTimeUtc();
    emitStarted();
    if (m_cancelled) {
        complete();
        return;
    }
    qCInfo(lcRunBase).noquote() << protocol::runKindName(m_request.kind) << "run" << m_request.runId
                                << "of job" << m_job->name << "on" << m_repo->displayUrl()
                                << u"started (%1)"_s.arg(m_request.trigger);
    auto pass = BorgCall::readPassphrase(*m_repo);
    if (!pass) {
        beginStep(u"passphrase"_s);
        endStep(Status::Failed, std::nullopt, pass.error().message);
        complete();
        return;
    }
    m_passphrase = *pass;
    m_tail->setRedactor(BorgCall::redactor(*m_job, m_passphrase));
    m_maxRunTimer.start(std::chrono::duration_cast<std::chrono::milliseconds>(maxRunTime()));
    begin();
}

void RunBase::cancel(const QString &reason)
{
    if (m_finished || m_completing || m_cancelled)
        return;
    m_cancelled = true;
    m_cancelReason = reason.isEmpty() ? u"cancelled"_s : reason;
    qCInfo(lcRunBase).noquote() << "cancelling run" << m_request.runId << ":" << m_cancelReason;
    if (!m_begun) { // still waiting for the repository
        QTimer::singleShot(0, this, [this] {
            if (m_completing)
                return;
            if (!m_result.startedAt.isValid())
                m_result.startedAt = QDateTime::currentDateTimeUtc();
            emitStarted();
            complete();
        });
        return;
    }
    stopAll(stopReason());
}

void RunBase::stopAll(const QString &reason)
{
    bool any = false;
    for (const Active &a : std::as_const(m_active))
        if (a.object) {
            any = true;
            a.stop(reason);
        }
    if (!any) {
        // Between steps: nothing will call back, so end here (from the event loop).
        QTimer::singleShot(0, this, [this] {
            if (m_completing)
                return;
            if (m_stepOpen)
                stopStep();
            complete();
        });
    }
}

void RunBase::emitStarted()
{
    if (m_startedEmitted)
        return;
    m_startedEmitted = true;
    protocol::RunStarted s;
    s.runId = m_request.runId;
    s.job = m_request.job;
    s.kind = m_request.kind;
    s.repository = m_result.repository;
    s.trigger = m_request.trigger;
    s.commandId = m_request.commandId;
    s.startedAt = m_result.startedAt;
    Q_EMIT started(s);
}

void RunBase::beginStep(const QString &name)
{
    if (m_stepOpen)
        endStep(Status::Failed, std::nullopt, u"step did not finish"_s);
    m_step = protocol::StepResult();
    m_step.name = name;
    m_step.startedAt = QDateTime::currentDateTimeUtc();
    m_stepOpen = true;
    m_progressClock.invalidate();
}

void RunBase::endStep(Status status, std::optional<int> exitCode, const QString &error)
{
    if (!m_stepOpen)
        return;
    m_stepOpen = false;
    m_step.status = status;
    m_step.exitCode = exitCode;
    m_step.finishedAt = QDateTime::currentDateTimeUtc();
    m_step.error = clipText(redact(error), kMaxStepError);
    m_result.steps.append(m_step);
    log(u"[%1] %2%3"_s.arg(m_step.name, protocol::statusName(status),
        m_step.error.isEmpty() ? QString() : u": "_s + m_step.error));
}

void RunBase::stopStep()
{
    endStep(m_overtime ? Status::Failed : Status::Cancelled, std::nullopt, stopReason());
}

BorgCall *RunBase::borg(QStringList arguments, std::function<void(const BorgLine &)> onLine)
{
    auto *call = new BorgCall(m_config, *m_repo, std::move(arguments), m_passphrase, this);
    const QString step = m_step.name;
    call->setStderrLineHandler([this, step, onLine](const BorgLine &l) {
        if (onLine)
            onLine(l);
        if (l.name == "borg.output.list"_L1) // one line per file: counted, not logged
            return;
        if (const QString t = l.logText(); !t.isEmpty())
            log(u"[%1] %2"_s.arg(step, t));
    });
    track(
        call, [call](const QString &reason) { call->terminate(reason); },
        [call] { return call->processId(); });
    connect(call, &BorgCall::finished, call, &QObject::deleteLater);
    return call;
}

void RunBase::launch(BorgCall *call)
{
    log(u"[%1] $ %2 %3"_s.arg(m_step.name, call->program(), call->arguments().join(u' ')));
    call->start();
    Q_EMIT stepStarted(m_step.name, call->processId());
}

void RunBase::track(
    QObject *running, std::function<void(const QString &)> stop, std::function<qint64()> pid)
{
    m_active.removeIf([](const Active &a) { return a.object.isNull(); });
    m_active.append(Active { running, std::move(stop), std::move(pid) });
    if (stopping() && !m_completing) // started while stopping: stop it right away
        m_active.last().stop(stopReason());
}

void RunBase::runProgram(const QString &program, QStringList arguments,
    QProcessEnvironment environment, std::function<void(const ProgramResult &)> done)
{
    StepProcess::Spec spec;
    spec.program = program;
    spec.arguments = std::move(arguments);
    spec.environment = std::move(environment);
    spec.collectStdout = true;
    spec.killGrace = std::chrono::milliseconds(5000);
    auto *process = new StepProcess(spec, this);
    auto stderrLines = std::make_shared<QStringList>();
    const QString step = m_step.name;
    const QString name = QFileInfo(program).fileName();
    connect(process, &StepProcess::outputLine, this,
        [this, step, name, stderrLines](const QByteArray &line, bool) {
            const QString text = QString::fromUtf8(line).trimmed();
            if (text.isEmpty())
                return;
            log(u"[%1] %2: %3"_s.arg(step, name, text));
            if (stderrLines->size() >= 20)
                stderrLines->removeFirst();
            stderrLines->append(text.left(2000));
        });
    connect(process, &StepProcess::finished, this,
        [this, process, name, stderrLines, done](
            StepProcess::Outcome outcome, int exitCode, const QString &errorText) {
            ProgramResult r;
            r.standardOutput = process->standardOutput();
            r.stopped = outcome == StepProcess::Outcome::Terminated
                || (outcome == StepProcess::Outcome::TimedOut && stopping());
            if (outcome == StepProcess::Outcome::Exited) {
                r.exitCode = exitCode;
                r.ok = exitCode == 0;
                if (!r.ok)
                    r.error = u"%1 failed (exit %2)%3"_s.arg(name).arg(exitCode).arg(
                        stderrLines->isEmpty() ? QString()
                                               : u": "_s
                                + stderrLines->mid(std::max<qsizetype>(0, stderrLines->size() - 3))
                                      .join(u"; "_s));
            } else {
                r.error = errorText;
            }
            process->deleteLater();
            QTimer::singleShot(0, this, [done, r] { done(r); });
        });
    track(
        process, [process](const QString &reason) { process->terminate(reason); },
        [process] { return process->processId(); });
    log(u"[%1] $ %2 %3"_s.arg(step, program, spec.arguments.join(u' ')));
    process->start();
    Q_EMIT stepStarted(step, process->processId());
}

void RunBase::log(const QString &line)
{
    m_tail->append(line);
    Q_EMIT logLine(redact(line));
}

void RunBase::emitProgress(const QString &step, qint64 bytes, qint64 files, const QString &path)
{
    if (m_progressClock.isValid() && m_progressClock.elapsed() < kProgressIntervalMs)
        return;
    m_progressClock.start();
    protocol::RunProgress p;
    p.runId = m_request.runId;
    p.job = m_request.job;
    p.step = step;
    p.originalSize = bytes;
    p.files = files;
    p.currentPath = clipText(redact(path), kMaxProgressPath);
    Q_EMIT progress(p);
}

void RunBase::complete()
{
    if (m_completing)
        return;
    m_completing = true;
    m_maxRunTimer.stop();
    if (m_stepOpen) {
        if (stopping())
            stopStep();
        else
            endStep(Status::Failed, std::nullopt, u"step did not finish"_s);
    }
    if (!m_begun) { // never got the repository: nothing was made that needs cleaning
        finish();
        return;
    }
    cleanup([this] { finish(); });
}

void RunBase::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    if (!m_result.startedAt.isValid())
        m_result.startedAt = QDateTime::currentDateTimeUtc();
    emitStarted();
    m_result.finishedAt = QDateTime::currentDateTimeUtc();
    Status status = m_result.status;
    QString firstWarning;
    for (const protocol::StepResult &s : std::as_const(m_result.steps)) {
        status = protocol::worst(status, s.status);
        if (s.status == Status::Failed && m_result.failedStep.isEmpty()) {
            m_result.failedStep = s.name;
            if (m_result.error.isEmpty())
                m_result.error = s.error;
        }
        if (s.status == Status::Warning && firstWarning.isEmpty())
            firstWarning = s.name + u": "_s + s.error;
    }
    if (m_cancelled && status != Status::Failed) {
        status = Status::Cancelled;
        if (m_result.error.isEmpty())
            m_result.error = u"cancelled: "_s + m_cancelReason;
        for (const protocol::StepResult &s : std::as_const(m_result.steps))
            if (s.status == Status::Cancelled && m_result.failedStep.isEmpty())
                m_result.failedStep = s.name;
    }
    if (status == Status::Warning && m_result.error.isEmpty())
        m_result.error = firstWarning;
    m_result.status = status;
    m_result.error = clipText(redact(m_result.error), kMaxRunError);
    if (!m_result.failedStep.isEmpty())
        m_tail->append(u"run %1: %2 at step %3: %4"_s.arg(
            m_request.runId, protocol::statusName(status), m_result.failedStep, m_result.error));
    m_result.logTail = m_tail->text();
    if (m_locks && m_ticket) {
        m_locks->release(m_ticket);
        m_ticket = 0;
    }
    if (status == Status::Success || status == Status::Warning)
        qCInfo(lcRunBase).noquote()
            << protocol::runKindName(m_request.kind) << "run" << m_request.runId << "of job"
            << m_request.job << "finished:" << protocol::statusName(status);
    else
        qCWarning(lcRunBase).noquote()
            << protocol::runKindName(m_request.kind) << "run" << m_request.runId << "of job"
            << m_request.job << "finished:" << protocol::statusName(status) << "at step"
            << m_result.failedStep << ":" << m_result.error;
    Q_EMIT finished(m_result);
}

} // namespace sparky::agent
