#include "runexecutor.h"

#include "archivename.h"
#include "borgcommands.h"
#include "borgoutput.h"
#include "drillexecutor.h"
#include "logtail.h"
#include "repositorylocks.h"
#include "restoreexecutor.h"
#include "runlimits.h"
#include "sshlog.h"
#include "sparky/config.h"
#include "sparky/envelope.h"
#include "sparky/secrets.h"
#include "stepprocess.h"

#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QPointer>
#include <QSaveFile>
#include <QTime>
#include <QTimer>
#include <algorithm>
#include <memory>

namespace sparky::agent {

using namespace Qt::StringLiterals;
using protocol::Status;
using protocol::StepResult;

Q_LOGGING_CATEGORY(lcRunner, "sparky.agent.runner")

namespace {

enum class StepType { Init, Hook, Create, Dump, DumpGlobals, Prune, Compact, Check };

struct StepDef
{
    QString name;
    StepType type = StepType::Hook;
    HookConfig hook;
    PostgresDumpConfig database;
    QString series; // archive series for create/dump/prune
    QString archiveName; // create/dump
    QString hookPhase; // before | after | on-error
    bool isArchive() const
    {
        return type == StepType::Create || type == StepType::Dump || type == StepType::DumpGlobals;
    }
};

QString markerPath(const AgentConfig &config, const RepositoryConfig &repo)
{
    const QByteArray h
        = QCryptographicHash::hash(repo.url.toUtf8(), QCryptographicHash::Sha256).toHex().left(24);
    return QDir(config.stateDir).filePath(u"repositories/"_s + QString::fromLatin1(h) + u".json"_s);
}

// Adds the password fields of a libpq passfile to the redactor (host:port:db:user:password).
void addPassfileSecrets(Redactor &redactor, const QString &passfile)
{
    if (passfile.isEmpty())
        return;
    auto data = readSecretFile(passfile);
    if (!data)
        return;
    for (const QByteArray &line : data->split('\n')) {
        if (line.startsWith('#'))
            continue;
        const QList<QByteArray> parts = line.split(':');
        if (parts.size() >= 5)
            redactor.addSecret(QString::fromUtf8(parts.last()));
    }
}

} // namespace

struct RunExecutor::Private
{
    RunExecutor *q = nullptr;
    AgentConfig config;
    RunRequest request;
    QPointer<RepositoryLocks> locks;
    RepositoryLocks::Ticket ticket = 0;
    const JobConfig *job = nullptr;
    const RepositoryConfig *repo = nullptr;

    protocol::RunFinished result;
    QList<StepDef> plan;
    qsizetype index = -1;
    bool errorPhase = false;
    bool archiveFailed = false;
    bool startedEmitted = false;
    bool done = false;
    bool cancelled = false;
    bool overtime = false;
    QString cancelReason;

    std::unique_ptr<StepProcess> process;
    std::unique_ptr<RunBase> delegate; // restore and drill runs
    StepDef current;
    StepResult currentResult;
    int initStage = 0; // 0 probe, 1 init
    QStringList stepErrors;
    QStringList stepContext;
    QStringList stepWarnings;
    QByteArray passphrase;
    bool havePassphrase = false;

    LogTail tail;
    QTimer maxRunTimer;
    QElapsedTimer progressClock;
    QJsonArray archives;
    bool initialised = false;
    ArchiveNameContext nameContext; // for re-expanding a name that already exists
    int nameRetries = 0;
    SshLog sshLog; // ssh's own messages for the running borg (ssh:// repositories)

    // ---- flow ----
    void begin();
    void buildPlan();
    void runNext();
    void enterErrorPhase();
    void startStep(const StepDef &step);
    void startProcess(StepProcess::Spec spec);
    void onOutput(const QByteArray &line, bool fromStderr);
    void onStepFinished(StepProcess::Outcome outcome, int exitCode, const QString &errorText);
    void recordStep(Status status, std::optional<int> exitCode, const QString &error);
    void finish();
    void emitStarted();
    void log(const QString &line);
    QString borgErrorText(int exitCode) const;
    QProcessEnvironment borgEnvironment() const;
    QProcessEnvironment hookEnvironment() const;
    void writeMarker(const QString &repositoryId);
};

RunExecutor::RunExecutor(
    const AgentConfig &config, RunRequest request, RepositoryLocks *locks, QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Private>())
{
    d->q = this;
    d->config = config;
    d->request = std::move(request);
    if (d->request.runId.isEmpty())
        d->request.runId = newRunId();
    d->locks = locks;
    d->job = d->config.job(d->request.job);
    d->repo = d->job ? d->config.repository(d->job->repository) : nullptr;
    d->result.runId = d->request.runId;
    d->result.job = d->request.job;
    d->result.kind = d->request.kind;
    d->result.trigger = d->request.trigger;
    d->result.commandId = d->request.commandId;
    d->result.repository = d->repo ? d->repo->displayUrl() : QString();
    d->maxRunTimer.setSingleShot(true);
    connect(&d->maxRunTimer, &QTimer::timeout, this, [this] {
        const auto limit = d->request.kind == protocol::RunKind::Check && d->job
            ? d->job->check.timeout
            : d->job->maxRunTime;
        d->overtime = true;
        const QString reason
            = u"the run exceeded its maximum run time of %1"_s.arg(config::formatDuration(limit));
        qCWarning(lcRunner).noquote() << d->request.job << reason;
        if (d->process)
            d->process->terminate(reason);
    });
}

RunExecutor::~RunExecutor()
{
    d->delegate.reset();
    d->process.reset(); // kills a running step's group
    if (d->locks && d->ticket)
        d->locks->release(d->ticket);
}

QString RunExecutor::newRunId()
{
    return newMessageId();
}

QString RunExecutor::runId() const
{
    return d->request.runId;
}

const RunRequest &RunExecutor::request() const
{
    return d->request;
}

bool RunExecutor::isFinished() const
{
    return d->done;
}

QString RunExecutor::currentStep() const
{
    if (d->delegate)
        return d->delegate->currentStep();
    return d->process ? d->current.name : QString();
}

qint64 RunExecutor::currentProcessId() const
{
    if (d->delegate)
        return d->delegate->currentProcessId();
    return d->process ? d->process->processId() : 0;
}

void RunExecutor::start()
{
    if (d->index >= 0 || d->ticket || d->done || d->delegate)
        return;
    if (!d->job || !d->repo) {
        QTimer::singleShot(0, this, [this] {
            d->result.startedAt = QDateTime::currentDateTimeUtc();
            d->emitStarted();
            d->result.status = Status::Failed;
            d->result.failedStep = u"config"_s;
            d->result.error = !d->job ? u"unknown job '%1'"_s.arg(d->request.job)
                                      : u"job '%1' names unknown repository '%2'"_s.arg(
                                          d->request.job, d->job->repository);
            d->finish();
        });
        return;
    }
    if (d->request.kind == protocol::RunKind::Restore
        || d->request.kind == protocol::RunKind::Drill) {
        if (d->request.kind == protocol::RunKind::Restore)
            d->delegate = std::make_unique<RestoreExecutor>(d->config, d->request, d->locks);
        else
            d->delegate = std::make_unique<DrillExecutor>(d->config, d->request, d->locks);
        RunBase *run = d->delegate.get();
        connect(run, &RunBase::started, this, &RunExecutor::started);
        connect(run, &RunBase::progress, this, &RunExecutor::progress);
        connect(run, &RunBase::stepStarted, this, &RunExecutor::stepStarted);
        connect(run, &RunBase::logLine, this, &RunExecutor::logLine);
        connect(run, &RunBase::finished, this, [this](const protocol::RunFinished &r) {
            d->done = true;
            Q_EMIT finished(r);
        });
        run->start();
        return;
    }
    if (d->request.kind != protocol::RunKind::Backup
        && d->request.kind != protocol::RunKind::Check) {
        QTimer::singleShot(0, this, [this] {
            d->result.startedAt = QDateTime::currentDateTimeUtc();
            d->emitStarted();
            d->result.status = Status::Failed;
            d->result.failedStep = protocol::runKindName(d->request.kind);
            d->result.error = u"run kind '%1' is not handled by the runner"_s.arg(
                protocol::runKindName(d->request.kind));
            d->finish();
        });
        return;
    }
    if (d->locks) {
        if (d->locks->isHeld(d->repo->url))
            qCInfo(lcRunner).noquote() << "run" << d->request.runId << "of" << d->request.job
                                       << "waits for repository" << d->repo->name;
        d->ticket = d->locks->acquire(d->repo->url, this, [this] { d->begin(); });
    } else {
        QTimer::singleShot(0, this, [this] { d->begin(); });
    }
}

void RunExecutor::cancel(const QString &reason)
{
    if (d->delegate) {
        d->delegate->cancel(reason);
        return;
    }
    if (d->done || d->cancelled)
        return;
    d->cancelled = true;
    d->cancelReason = reason.isEmpty() ? u"cancelled"_s : reason;
    qCInfo(lcRunner).noquote() << "cancelling run" << d->request.runId << "of" << d->request.job
                               << ":" << d->cancelReason;
    if (d->process) {
        d->process->terminate(u"cancelled: "_s + d->cancelReason);
        return;
    }
    // Not running a step (waiting for the repository, or between steps): finish now, but
    // from the event loop, never inside the caller's cancel().
    QTimer::singleShot(0, this, [this] {
        if (d->done || d->process)
            return;
        if (!d->result.startedAt.isValid())
            d->result.startedAt = QDateTime::currentDateTimeUtc();
        d->emitStarted();
        d->finish();
    });
}

// ------------------------------------------------------------------------------------------

void RunExecutor::Private::emitStarted()
{
    if (startedEmitted)
        return;
    startedEmitted = true;
    protocol::RunStarted s;
    s.runId = request.runId;
    s.job = request.job;
    s.kind = request.kind;
    s.repository = result.repository;
    s.trigger = request.trigger;
    s.commandId = request.commandId;
    s.startedAt = result.startedAt;
    Q_EMIT q->started(s);
}

void RunExecutor::Private::begin()
{
    if (done || index >= 0)
        return;
    if (cancelled) { // cancelled while waiting for the repository
        result.startedAt = QDateTime::currentDateTimeUtc();
        emitStarted();
        finish();
        return;
    }
    result.startedAt = QDateTime::currentDateTimeUtc();
    emitStarted();
    qCInfo(lcRunner).noquote() << "run" << request.runId << protocol::runKindName(request.kind)
                               << "of job" << job->name << "on" << repo->displayUrl()
                               << u"started (%1)"_s.arg(request.trigger);

    Redactor redactor;
    if (!repo->passphraseFile.isEmpty()) {
        auto secret = readSecretFile(repo->passphraseFile);
        if (!secret) {
            StepResult r;
            r.name = u"passphrase"_s;
            r.startedAt = r.finishedAt = QDateTime::currentDateTimeUtc();
            r.status = Status::Failed;
            r.error = u"cannot read the passphrase of repository %1: %2"_s.arg(
                repo->name, secret.error().message);
            result.steps.append(r);
            tail.setRedactor(redactor);
            log(u"[passphrase] "_s + r.error);
            enterErrorPhase();
            return;
        }
        passphrase = *secret;
        havePassphrase = true;
        redactor.addSecret(QString::fromUtf8(passphrase));
    }
    for (const PostgresDumpConfig &db : job->postgres)
        addPassfileSecrets(redactor, db.passfile);
    addPassfileSecrets(redactor, job->postgresDefaults.passfile);
    tail.setRedactor(redactor);

    QDir().mkpath(QDir(config.stateDir).filePath(u"borg"_s));
    QFile::setPermissions(QDir(config.stateDir).filePath(u"borg"_s),
        QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    buildPlan();
    const auto limit
        = request.kind == protocol::RunKind::Check ? job->check.timeout : job->maxRunTime;
    maxRunTimer.start(std::chrono::duration_cast<std::chrono::milliseconds>(limit));
    index = -1;
    runNext();
}

void RunExecutor::Private::buildPlan()
{
    plan.clear();
    if (request.kind == protocol::RunKind::Check) {
        StepDef s;
        s.name = u"check"_s;
        s.type = StepType::Check;
        plan.append(s);
        return;
    }
    if (!QFile::exists(markerPath(config, *repo))) {
        StepDef s;
        s.name = u"init"_s;
        s.type = StepType::Init;
        plan.append(s);
    }
    for (const HookConfig &h : job->beforeHooks) {
        StepDef s;
        s.name = u"hook:before:"_s + h.name;
        s.type = StepType::Hook;
        s.hook = h;
        s.hookPhase = u"before"_s;
        plan.append(s);
    }
    ArchiveNameContext ctx;
    ctx.hostname = config.hostname;
    ctx.node = config.node;
    ctx.user = qEnvironmentVariable("USER", u"root"_s);
    nameContext = ctx;
    const QDateTime now = QDateTime::currentDateTime();
    QStringList series;
    if (!job->sources.isEmpty()) {
        StepDef s;
        s.name = u"create"_s;
        s.type = StepType::Create;
        s.series = BorgCommands::filesSeries(*job);
        ctx.series = s.series;
        s.archiveName = ArchiveName::expand(job->archiveName, ctx, now);
        plan.append(s);
        series.append(s.series);
    }
    for (const PostgresDumpConfig &db : job->postgres) {
        StepDef s;
        s.name = u"dump:"_s + db.database;
        s.type = StepType::Dump;
        s.database = db;
        s.series = BorgCommands::databaseSeries(*job, db.database);
        ctx.series = s.series;
        s.archiveName = ArchiveName::expand(job->archiveName, ctx, now);
        plan.append(s);
        series.append(s.series);
    }
    if (job->postgresGlobals) {
        StepDef s;
        s.name = u"dump:globals"_s;
        s.type = StepType::DumpGlobals;
        s.database = job->postgresDefaults;
        s.series = BorgCommands::globalsSeries(*job);
        ctx.series = s.series;
        s.archiveName = ArchiveName::expand(job->archiveName, ctx, now);
        plan.append(s);
        series.append(s.series);
    }
    const bool prune = !job->retention.isEmpty() && !repo->appendOnly;
    if (prune) {
        for (const QString &ser : std::as_const(series)) {
            StepDef s;
            s.name = ser == job->name ? u"prune"_s : u"prune:"_s + ser.mid(job->name.size() + 1);
            s.type = StepType::Prune;
            s.series = ser;
            plan.append(s);
        }
        if (job->compact) {
            StepDef s;
            s.name = u"compact"_s;
            s.type = StepType::Compact;
            plan.append(s);
        }
    }
    for (const HookConfig &h : job->afterHooks) {
        StepDef s;
        s.name = u"hook:after:"_s + h.name;
        s.type = StepType::Hook;
        s.hook = h;
        s.hookPhase = u"after"_s;
        plan.append(s);
    }
}

void RunExecutor::Private::runNext()
{
    if (done)
        return;
    if (cancelled || overtime) {
        if (cancelled || errorPhase) {
            finish();
            return;
        }
        StepResult r;
        r.name = u"max_run_time"_s;
        r.status = Status::Failed;
        r.startedAt = r.finishedAt = QDateTime::currentDateTimeUtc();
        r.error
            = u"the run exceeded its maximum run time of %1"_s.arg(config::formatDuration(job->maxRunTime));
        result.steps.append(r);
        enterErrorPhase();
        return;
    }
    ++index;
    if (index >= plan.size()) {
        finish();
        return;
    }
    const StepDef &next = plan.at(index);
    if (archiveFailed && !next.isArchive() && !errorPhase) {
        enterErrorPhase();
        return;
    }
    startStep(next);
}

void RunExecutor::Private::enterErrorPhase()
{
    if (errorPhase) {
        finish();
        return;
    }
    errorPhase = true;
    plan.clear();
    if (request.kind == protocol::RunKind::Backup && job) {
        for (const HookConfig &h : job->onErrorHooks) {
            StepDef s;
            s.name = u"hook:on-error:"_s + h.name;
            s.type = StepType::Hook;
            s.hook = h;
            s.hookPhase = u"on-error"_s;
            plan.append(s);
        }
    }
    index = -1;
    // on-error hooks run even after an overrun; each has its own timeout.
    overtime = false;
    ++index;
    if (index >= plan.size()) {
        finish();
        return;
    }
    startStep(plan.at(index));
}

QProcessEnvironment RunExecutor::Private::borgEnvironment() const
{
    return BorgCommands::environment(config, *repo, QProcessEnvironment::systemEnvironment());
}

QProcessEnvironment RunExecutor::Private::hookEnvironment() const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    const QStringList keys = env.keys();
    for (const QString &k : keys)
        if (k.startsWith("BORG_"_L1) || k == "PGPASSWORD"_L1)
            env.remove(k);
    env.insert(u"SPARKY_NODE"_s, config.node);
    env.insert(u"SPARKY_JOB"_s, job->name);
    env.insert(u"SPARKY_RUN_ID"_s, request.runId);
    env.insert(u"SPARKY_REPOSITORY"_s, repo->displayUrl());
    env.insert(u"SPARKY_HOOK"_s, current.hookPhase);
    if (current.hookPhase == "on-error"_L1) {
        env.insert(u"SPARKY_FAILED_STEP"_s, result.failedStep);
        for (const StepResult &s : result.steps)
            if (s.status == Status::Failed) {
                env.insert(u"SPARKY_FAILED_STEP"_s, s.name);
                env.insert(u"SPARKY_ERROR"_s, tail.redactor().redact(s.error));
                break;
            }
    }
    return env;
}

void RunExecutor::Private::startStep(const StepDef &step)
{
    current = step;
    currentResult = StepResult();
    currentResult.name = step.name;
    currentResult.startedAt = QDateTime::currentDateTimeUtc();
    stepErrors.clear();
    stepContext.clear();
    stepWarnings.clear();
    initStage = 0;
    progressClock.invalidate();

    StepProcess::Spec spec;
    spec.program = config.borgBinary;
    spec.environment = borgEnvironment();
    if (havePassphrase) {
        spec.secret = passphrase;
        spec.secretFdVariable = u"BORG_PASSPHRASE_FD"_s;
    }
    switch (step.type) {
    case StepType::Init:
        spec.arguments = BorgCommands::probeArguments(*repo);
        spec.collectStdout = true;
        spec.timeout = job->pruneTimeout;
        break;
    case StepType::Hook:
        spec.program = step.hook.command.value(0);
        spec.arguments = step.hook.command.mid(1);
        spec.environment = hookEnvironment();
        spec.secret.clear();
        spec.secretFdVariable.clear();
        spec.timeout = step.hook.timeout;
        break;
    case StepType::Create:
        spec.arguments = BorgCommands::createArguments(*job, *repo, step.archiveName);
        spec.collectStdout = true;
        spec.timeout = job->createTimeout;
        break;
    case StepType::Dump:
        spec.arguments
            = BorgCommands::dumpArguments(config, *job, *repo, step.database, step.archiveName);
        BorgCommands::addPostgresEnvironment(spec.environment, step.database);
        spec.collectStdout = true;
        spec.timeout = std::min(step.database.timeout, job->createTimeout);
        break;
    case StepType::DumpGlobals:
        spec.arguments = BorgCommands::globalsArguments(config, *job, *repo, step.archiveName);
        BorgCommands::addPostgresEnvironment(spec.environment, step.database);
        spec.collectStdout = true;
        spec.timeout = std::min(step.database.timeout, job->createTimeout);
        break;
    case StepType::Prune: {
        ArchiveNameContext ctx;
        ctx.hostname = config.hostname;
        ctx.node = config.node;
        ctx.user = qEnvironmentVariable("USER", u"root"_s);
        ctx.series = step.series;
        spec.arguments = BorgCommands::pruneArguments(
            job->retention, *repo, ArchiveName::glob(job->archiveName, ctx));
        spec.timeout = job->pruneTimeout;
        break;
    }
    case StepType::Compact:
        spec.arguments = BorgCommands::compactArguments(*repo);
        spec.timeout = job->pruneTimeout;
        break;
    case StepType::Check:
        spec.arguments = BorgCommands::checkArguments(job->check, *repo);
        spec.timeout = job->check.timeout;
        break;
    }
    startProcess(std::move(spec));
}

void RunExecutor::Private::startProcess(StepProcess::Spec spec)
{
    if (current.type != StepType::Hook)
        sshLog.attach(config, *repo, spec.environment);
    log(u"[%1] $ %2 %3"_s.arg(current.name, spec.program, spec.arguments.join(u' ')));
    process = std::make_unique<StepProcess>(std::move(spec));
    QObject::connect(process.get(), &StepProcess::outputLine, q,
        [this](const QByteArray &line, bool err) { onOutput(line, err); });
    QObject::connect(process.get(), &StepProcess::finished, q,
        [this](StepProcess::Outcome o, int code, const QString &text) {
            // Leave the StepProcess's signal emission before deleting it.
            QTimer::singleShot(0, q, [this, o, code, text] { onStepFinished(o, code, text); });
        });
    process->start();
    Q_EMIT q->stepStarted(current.name, process->processId());
}

void RunExecutor::Private::onOutput(const QByteArray &raw, bool fromStderr)
{
    if (current.type == StepType::Hook) {
        const QString text = QString::fromUtf8(raw);
        if (fromStderr && !text.trimmed().isEmpty())
            stepContext.append(text.trimmed());
        log(u"[%1] %2"_s.arg(current.name, text));
        return;
    }
    const BorgLine line = BorgOutput::parseLine(raw);
    if (line.kind == BorgLine::Kind::ArchiveProgress && !line.finished) {
        if (progressClock.isValid() && progressClock.elapsed() < kProgressIntervalMs)
            return;
        progressClock.start();
        protocol::RunProgress p;
        p.runId = request.runId;
        p.job = request.job;
        p.step = current.name;
        p.originalSize = line.originalSize;
        p.compressedSize = line.compressedSize;
        p.deduplicatedSize = line.deduplicatedSize;
        p.files = line.files;
        p.currentPath = clipText(tail.redactor().redact(line.path), kMaxProgressPath);
        Q_EMIT q->progress(p);
        return;
    }
    if (line.isError())
        stepErrors.append(line.message);
    else if (line.isWarning() && line.message.startsWith("Remote: "_L1))
        stepContext.append(line.message);
    else if (line.isWarning() && current.type != StepType::Init)
        stepWarnings.append(line.message);
    else if (line.kind == BorgLine::Kind::Text && !line.message.trimmed().isEmpty())
        stepContext.append(line.message.trimmed());
    const QString text = line.logText();
    if (!text.isEmpty())
        log(u"[%1] %2"_s.arg(current.name, text));
}

QString RunExecutor::Private::borgErrorText(int exitCode) const
{
    QStringList primary;
    for (const QString &e : stepErrors)
        if (!primary.contains(e.trimmed()))
            primary.append(e.trimmed());
    QStringList context;
    for (const QString &c : stepContext.mid(std::max<qsizetype>(0, stepContext.size() - 3)))
        if (!context.contains(c))
            context.append(c);
    QString text = primary.join(u"; "_s);
    const QString ctx = context.join(u"; "_s);
    if (text.isEmpty())
        text = ctx;
    else if (!ctx.isEmpty())
        text += u" ("_s + ctx + u')';
    if (text.isEmpty())
        text = u"%1 exited with status %2"_s
                   .arg(current.type == StepType::Hook ? u"hook"_s : u"borg"_s)
                   .arg(exitCode);
    return text;
}

void RunExecutor::Private::onStepFinished(
    StepProcess::Outcome outcome, int exitCode, const QString &errorText)
{
    if (done)
        return;
    // Why ssh could not connect, when borg failed: borg itself may only say "Connection closed".
    const QStringList sshLines = sshLog.take();
    const bool borgFailed = outcome != StepProcess::Outcome::Exited || exitCode >= 2;
    for (const QString &l : sshLines) {
        log(u"[%1] ssh: %2"_s.arg(current.name, l));
        if (borgFailed)
            stepErrors.append(u"ssh: "_s + l);
    }
    const std::optional<int> code
        = outcome == StepProcess::Outcome::Exited ? std::optional<int>(exitCode) : std::nullopt;
    if (!code) {
        QString err;
        Status st = Status::Failed;
        if (outcome == StepProcess::Outcome::Terminated && cancelled && !overtime) {
            st = Status::Cancelled;
            err = u"cancelled: "_s + cancelReason;
        } else if (outcome == StepProcess::Outcome::TimedOut) {
            err = u"%1 %2"_s.arg(current.name, errorText);
        } else if (overtime) {
            err = errorText;
        } else {
            err = errorText;
        }
        if (!stepErrors.isEmpty() && st != Status::Cancelled)
            err += u": "_s + borgErrorText(-1);
        recordStep(st, std::nullopt, err);
        if (st == Status::Cancelled)
            finish();
        else if (current.isArchive() && !overtime) {
            archiveFailed = true;
            runNext();
        } else if (errorPhase)
            runNext();
        else
            enterErrorPhase();
        return;
    }

    if (current.type == StepType::Hook) {
        if (*code == 0) {
            recordStep(Status::Success, code, {});
            runNext();
            return;
        }
        QString detail = stepContext.isEmpty() ? QString()
                                               : u": "_s
                + stepContext.mid(std::max<qsizetype>(0, stepContext.size() - 3)).join(u"; "_s);
        recordStep(Status::Failed, code,
            u"hook '%1' (%2) exited with status %3%4"_s.arg(current.hook.name, current.hookPhase)
                .arg(*code)
                .arg(detail));
        if (errorPhase)
            runNext();
        else
            enterErrorPhase();
        return;
    }

    if (current.type == StepType::Init) {
        if (initStage == 0) {
            if (*code <= 1) {
                writeMarker(BorgOutput::repositoryId(process->standardOutput()));
                recordStep(Status::Success, code, {});
                runNext();
                return;
            }
            bool missing = false;
            // Only borg's own "does not exist" leads to an init; anything else (wrong
            // passphrase, lock, network) is an error that must never become an init.
            for (const QString &e : std::as_const(stepErrors))
                missing = missing || e.contains("does not exist"_L1);
            // A local, existing but empty directory (e.g. a fresh mount point) is safe to
            // initialise too; anything with content is not.
            if (!missing && !repo->isRemote() && QFileInfo(repo->url).isDir()
                && QDir(repo->url).isEmpty(
                    QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden | QDir::System))
                missing = true;
            // A remote directory cannot be looked at from here: borg says "not a valid
            // repository" for an empty one (a repository host prepares one per node) and
            // for one with content. `borg init` itself initialises only an empty directory
            // ("There is already something at …" otherwise), so trying is safe.
            if (!missing && repo->isRemote())
                for (const QString &e : std::as_const(stepErrors))
                    missing = missing || e.contains("is not a valid repository"_L1);
            if (!missing) {
                recordStep(Status::Failed, code, borgErrorText(*code));
                enterErrorPhase();
                return;
            }
            initStage = 1;
            stepErrors.clear();
            stepContext.clear();
            log(u"[init] repository %1 does not exist (or is an empty directory): initialising it (encryption %2)"_s.arg(
                repo->displayUrl(), repo->encryption));
            StepProcess::Spec spec;
            spec.program = config.borgBinary;
            spec.environment = borgEnvironment();
            if (havePassphrase) {
                spec.secret = passphrase;
                spec.secretFdVariable = u"BORG_PASSPHRASE_FD"_s;
            }
            spec.arguments = BorgCommands::initArguments(*repo);
            spec.timeout = job->pruneTimeout;
            const int keepStage = initStage;
            startProcess(std::move(spec));
            initStage = keepStage;
            return;
        }
        if (*code == 0) {
            initialised = true;
            writeMarker(QString());
            recordStep(Status::Success, code, {});
            runNext();
            return;
        }
        recordStep(Status::Failed, code, u"borg init failed: "_s + borgErrorText(*code));
        enterErrorPhase();
        return;
    }

    Status st = protocol::statusFromBorgExit(*code);
    QString err;
    if (st == Status::Failed)
        err = borgErrorText(*code);
    else if (st == Status::Warning)
        err = stepWarnings.join(u"; "_s);
    if (current.type == StepType::Create && st == Status::Warning) {
        // A configured source that does not exist is a failure, not a warning: the archive
        // silently lacks what the operator asked for.
        for (const QString &w : std::as_const(stepWarnings)) {
            for (const QString &src : job->sources) {
                if (w.startsWith(src + u": "_s) && w.contains("[Errno 2]"_L1)) {
                    st = Status::Failed;
                    err = u"source %1 does not exist: %2"_s.arg(src, w);
                }
            }
        }
    }
    // Archive names carry the time to the second: a run of the same job that finished within
    // the same second took this name already. Take the next second's name and go again (a
    // few times at most; a pattern without a time field fails with borg's message).
    if (current.isArchive() && st == Status::Failed && nameRetries < 3 && !cancelled && !overtime
        && std::any_of(stepErrors.cbegin(), stepErrors.cend(),
            [](const QString &e) { return e.contains("already exists"_L1); })) {
        ++nameRetries;
        log(u"[%1] archive %2 already exists: retrying with the next second's name"_s.arg(
            current.name, current.archiveName));
        process.reset();
        const int wait = 1000 - QTime::currentTime().msec() + 20;
        QTimer::singleShot(wait, q, [this] {
            if (done || cancelled || overtime || index < 0 || index >= plan.size())
                return;
            StepDef &step = plan[index];
            ArchiveNameContext ctx = nameContext;
            ctx.series = step.series;
            step.archiveName
                = ArchiveName::expand(job->archiveName, ctx, QDateTime::currentDateTime());
            startStep(step);
        });
        return;
    }
    if (current.isArchive() && *code <= 1) {
        auto stats = BorgOutput::parseCreateResult(process->standardOutput());
        if (stats) {
            QJsonObject a = stats->toJson();
            a.insert(u"series"_s, current.series);
            a.insert(u"step"_s, current.name);
            archives.append(a);
            log(u"[%1] archive %2: %3 files, original %4 B, deduplicated %5 B"_s
                    .arg(current.name, stats->archiveName)
                    .arg(stats->files)
                    .arg(stats->originalSize)
                    .arg(stats->deduplicatedSize));
        } else {
            log(u"[%1] %2"_s.arg(current.name, stats.error().message));
        }
    }
    recordStep(st, code, err);
    if (st == Status::Failed) {
        if (current.isArchive()) {
            archiveFailed = true;
            runNext();
        } else if (errorPhase) {
            runNext();
        } else {
            enterErrorPhase();
        }
        return;
    }
    runNext();
}

void RunExecutor::Private::recordStep(
    Status status, std::optional<int> exitCode, const QString &error)
{
    currentResult.status = status;
    currentResult.exitCode = exitCode;
    currentResult.finishedAt = QDateTime::currentDateTimeUtc();
    currentResult.error = clipText(tail.redactor().redact(error), kMaxStepError);
    result.steps.append(currentResult);
    log(u"[%1] %2%3"_s.arg(current.name, protocol::statusName(status),
        error.isEmpty() ? QString() : u": "_s + currentResult.error));
    process.reset();
}

void RunExecutor::Private::writeMarker(const QString &repositoryId)
{
    const QString path = markerPath(config, *repo);
    QDir().mkpath(QFileInfo(path).path());
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return;
    f.write(
        QJsonDocument(QJsonObject { { u"url"_s, repo->displayUrl() }, { u"id"_s, repositoryId },
                          { u"checked_at"_s, formatTimestamp(QDateTime::currentDateTimeUtc()) } })
            .toJson(QJsonDocument::Compact));
    f.commit();
}

void RunExecutor::Private::log(const QString &line)
{
    tail.append(line);
    Q_EMIT q->logLine(tail.redactor().redact(line));
}

void RunExecutor::Private::finish()
{
    if (done)
        return;
    done = true;
    maxRunTimer.stop();
    process.reset();
    if (!result.startedAt.isValid())
        result.startedAt = QDateTime::currentDateTimeUtc();
    emitStarted();
    result.finishedAt = QDateTime::currentDateTimeUtc();

    Status status = result.status;
    QString firstWarning;
    for (const StepResult &s : std::as_const(result.steps)) {
        status = protocol::worst(status, s.status);
        if (s.status == Status::Failed && result.failedStep.isEmpty()) {
            result.failedStep = s.name;
            result.error = s.error;
        }
        if (s.status == Status::Warning && firstWarning.isEmpty())
            firstWarning = s.name + u": "_s + s.error;
    }
    if (cancelled && status != Status::Failed) {
        status = Status::Cancelled;
        if (result.error.isEmpty())
            result.error = u"cancelled: "_s + cancelReason;
        for (const StepResult &s : std::as_const(result.steps))
            if (s.status == Status::Cancelled && result.failedStep.isEmpty())
                result.failedStep = s.name;
    }
    if (status == Status::Warning && result.error.isEmpty())
        result.error = firstWarning;
    result.status = status;
    result.error = clipText(tail.redactor().redact(result.error), kMaxRunError);

    if (!archives.isEmpty()) {
        protocol::RunStats total;
        for (const QJsonValue &v : std::as_const(archives)) {
            auto s = protocol::RunStats::fromJson(v.toObject());
            if (!s)
                continue;
            if (total.archiveName.isEmpty()) {
                total.archiveName = s->archiveName;
                total.archiveId = s->archiveId;
            }
            total.originalSize += s->originalSize;
            total.compressedSize += s->compressedSize;
            total.deduplicatedSize += s->deduplicatedSize;
            total.files += s->files;
            total.durationSeconds += s->durationSeconds;
        }
        result.stats = total;
        result.details.insert(u"archives"_s, archives);
    }
    if (initialised)
        result.details.insert(u"initialised"_s, true);
    if (!result.failedStep.isEmpty())
        tail.append(u"run %1: %2 at step %3: %4"_s.arg(
            request.runId, protocol::statusName(status), result.failedStep, result.error));
    result.logTail = tail.text();

    if (locks && ticket) {
        locks->release(ticket);
        ticket = 0;
    }
    if (status == Status::Success || status == Status::Warning)
        qCInfo(lcRunner).noquote() << "run" << request.runId << "of job" << request.job
                                   << "finished:" << protocol::statusName(status);
    else
        qCWarning(lcRunner).noquote() << "run" << request.runId << "of job" << request.job
                                      << "finished:" << protocol::statusName(status) << "at step"
                                      << result.failedStep << ":" << result.error;
    Q_EMIT q->finished(result);
}

} // namespace sparky::agent
