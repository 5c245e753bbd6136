// bench_agent_overhead: the same incremental backup driven by `sparky-agent run` and by a
// raw `borg create`, alternated on the same data in one process run; prints both medians
// and their ratio (goal ≤ 1.05). Then the idle footprint of `sparky-agent daemon` (RSS,
// CPU) when the daemon is built in.
//
//   bench_agent_overhead [--size-mb N] [--rounds N] [--agent PATH] [--keep]
//
// Data: a generated tree of mixed files (text, random binary, many small files) in a
// temporary directory; each round changes ~1% of it, then runs both backups (ABBA order).
// Both sides use their own repository and cache with identical settings (repokey-blake2,
// zstd,3), so neither profits from the other's files cache.

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTextStream>
#include <QThread>
#include <algorithm>
#include <csignal>
#include <sys/resource.h>
#include <unistd.h>

using namespace Qt::StringLiterals;

namespace {

QTextStream out(stdout);

[[noreturn]] void die(const QString &message)
{
    QTextStream(stderr) << "bench_agent_overhead: " << message << "\n";
    std::exit(1);
}

QByteArray randomBytes(qsizetype n)
{
    QByteArray b(n, Qt::Uninitialized);
    QRandomGenerator *g = QRandomGenerator::global();
    for (qsizetype i = 0; i + 4 <= n; i += 4) {
        const quint32 v = g->generate();
        memcpy(b.data() + i, &v, 4);
    }
    return b;
}

QByteArray textBytes(qsizetype n)
{
    static const QByteArray words[] = { "backup ", "borg ", "archive ", "node ", "repository ",
        "sparky ", "schedule ", "dedup\n", "chunk ", "1234 ", "error ", "ok\n" };
    QByteArray b;
    b.reserve(n);
    QRandomGenerator *g = QRandomGenerator::global();
    while (b.size() < n)
        b += words[g->bounded(12)];
    b.truncate(n);
    return b;
}

void writeFile(const QString &path, const QByteArray &data)
{
    QDir().mkpath(QFileInfo(path).path());
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(data) != data.size())
        die(u"cannot write "_s + path);
}

// ~sizeMb of data: 40% random binary (large files), 40% text (medium), 20% small files.
void generateTree(const QString &root, qint64 sizeMb)
{
    const qint64 total = sizeMb * 1024 * 1024;
    qint64 written = 0;
    int i = 0;
    while (written < total * 4 / 10) {
        const QByteArray d = randomBytes(4 * 1024 * 1024);
        writeFile(u"%1/bin/blob%2.bin"_s.arg(root).arg(i++), d);
        written += d.size();
    }
    while (written < total * 8 / 10) {
        const QByteArray d = textBytes(256 * 1024);
        writeFile(u"%1/text/d%2/doc%3.txt"_s.arg(root).arg(i % 20).arg(i), d);
        written += d.size();
        ++i;
    }
    while (written < total) {
        const QByteArray d = textBytes(8 * 1024 + QRandomGenerator::global()->bounded(8 * 1024));
        writeFile(u"%1/small/d%2/f%3.conf"_s.arg(root).arg(i % 50).arg(i), d);
        written += d.size();
        ++i;
    }
}

// Changes about 1% of the tree: appends to some text files, adds a new random file.
void mutateTree(const QString &root, int round)
{
    QStringList files;
    QDir dir(root + u"/text"_s);
    for (const QString &sub : dir.entryList(QDir::Dirs | QDir::NoDotAndDotDot))
        for (const QString &f : QDir(dir.filePath(sub)).entryList(QDir::Files))
            files.append(dir.filePath(sub) + u'/' + f);
    std::sort(files.begin(), files.end());
    for (int k = 0; k < std::max<qsizetype>(1, files.size() / 100); ++k) {
        QFile f(files.at((k * 37 + round * 11) % files.size()));
        if (f.open(QIODevice::Append))
            f.write(textBytes(4096));
    }
    writeFile(u"%1/bin/new%2.bin"_s.arg(root).arg(round), randomBytes(1024 * 1024));
}

struct Run
{
    int exitCode = -1;
    double seconds = 0; // wall clock
    double cpuSeconds = 0; // user + system of the whole process tree (reaped children)
    QByteArray err;
};

double childrenCpu()
{
    rusage u {};
    getrusage(RUSAGE_CHILDREN, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
        + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

Run runProcess(const QString &program, const QStringList &args, const QProcessEnvironment &env)
{
    QProcess p;
    p.setProcessEnvironment(env);
    QElapsedTimer t;
    const double cpu0 = childrenCpu();
    t.start();
    p.start(program, args);
    if (!p.waitForFinished(-1))
        die(u"%1 did not finish"_s.arg(program));
    Run r;
    r.seconds = t.nsecsElapsed() / 1e9;
    r.cpuSeconds = childrenCpu() - cpu0;
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.err = p.readAllStandardError();
    return r;
}

double median(QList<double> v)
{
    std::sort(v.begin(), v.end());
    const qsizetype n = v.size();
    return n % 2 ? v.at(n / 2) : (v.at(n / 2 - 1) + v.at(n / 2)) / 2;
}

qint64 statusKb(qint64 pid, const char *key)
{
    QFile f(u"/proc/%1/status"_s.arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : f.readAll().split('\n'))
        if (line.startsWith(key))
            return line.mid(qstrlen(key)).trimmed().split(' ').value(0).toLongLong();
    return -1;
}

qint64 cpuTicks(qint64 pid)
{
    QFile f(u"/proc/%1/stat"_s.arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray s = f.readAll();
    const QList<QByteArray> rest = s.mid(s.lastIndexOf(')') + 2).split(' ');
    return rest.value(11).toLongLong() + rest.value(12).toLongLong(); // utime + stime
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(u"sparky-agent overhead against raw borg create"_s);
    parser.addHelpOption();
    const QCommandLineOption sizeOpt(
        u"size-mb"_s, u"Size of the generated tree (default 200)."_s, u"N"_s, u"200"_s);
    const QCommandLineOption roundsOpt(
        u"rounds"_s, u"Incremental rounds (default 6)."_s, u"N"_s, u"6"_s);
    const QCommandLineOption agentOpt(u"agent"_s, u"sparky-agent binary."_s, u"PATH"_s,
        QStringLiteral(SPARKY_BENCH_AGENT_BINARY));
    const QCommandLineOption idleOpt(
        u"idle-seconds"_s, u"How long to sample the idle daemon (default 20)."_s, u"S"_s, u"20"_s);
    const QCommandLineOption keepOpt(u"keep"_s, u"Keep the temporary directory."_s);
    parser.addOptions({ sizeOpt, roundsOpt, agentOpt, idleOpt, keepOpt });
    parser.process(app);
    const qint64 sizeMb = parser.value(sizeOpt).toLongLong();
    const int rounds = std::max(1, parser.value(roundsOpt).toInt());
    const QString agent = parser.value(agentOpt);
    if (!QFileInfo(agent).isExecutable())
        die(u"no sparky-agent at "_s + agent);

    QTemporaryDir tmp(QDir::tempPath() + u"/bench_agent_overhead-XXXXXX"_s);
    tmp.setAutoRemove(!parser.isSet(keepOpt));
    const QString root = tmp.filePath(u"data"_s);
    out << "generating a " << sizeMb << " MB tree in " << root << " …\n";
    out.flush();
    generateTree(root, sizeMb);

    const QString pass = tmp.filePath(u"pass"_s);
    writeFile(pass, "bench-passphrase\n");
    QFile::setPermissions(pass, QFile::ReadOwner | QFile::WriteOwner);

    // Raw borg: its own repository and base dir, same encryption and compression.
    QProcessEnvironment rawEnv = QProcessEnvironment::systemEnvironment();
    rawEnv.insert(u"BORG_BASE_DIR"_s, tmp.filePath(u"raw-base"_s));
    rawEnv.insert(u"BORG_PASSCOMMAND"_s, u"cat "_s + pass);
    const QString rawRepo = tmp.filePath(u"raw-repo"_s);
    if (runProcess(
            u"borg"_s, { u"init"_s, u"--encryption"_s, u"repokey-blake2"_s, rawRepo }, rawEnv)
            .exitCode
        != 0)
        die(u"borg init failed"_s);

    const QString cfg = tmp.filePath(u"agent.yaml"_s);
    writeFile(cfg,
        "node: bench\nhostname: bench\nstate_dir: " + tmp.filePath(u"agent-state"_s).toUtf8()
            + "\n"
              "metrics: {listen: ''}\n"
              "repositories:\n  repo:\n    url: "
            + tmp.filePath(u"agent-repo"_s).toUtf8()
            + "\n"
              "    passphrase_file: "
            + pass.toUtf8()
            + "\n"
              "jobs:\n  data:\n    repository: repo\n    sources: ["
            + root.toUtf8()
            + "]\n"
              "    compression: zstd,3\n    schedule: '0 3 * * *'\n    catch_up: false\n"
              "    archive_name: '{job}-{now:%Y%m%d%H%M%S.%f}'\n");
    const QProcessEnvironment agentEnv = QProcessEnvironment::systemEnvironment();
    auto agentRun = [&] {
        const Run r = runProcess(agent, { u"run"_s, u"data"_s, u"-q"_s, u"-c"_s, cfg }, agentEnv);
        if (r.exitCode != 0)
            die(u"sparky-agent run failed: "_s + QString::fromUtf8(r.err));
        return r;
    };
    int archiveNo = 0;
    auto rawRun = [&] {
        const Run r = runProcess(u"borg"_s,
            { u"create"_s, u"--compression"_s, u"zstd,3"_s,
                rawRepo + u"::data-"_s + QString::number(archiveNo++), root },
            rawEnv);
        if (r.exitCode != 0)
            die(u"borg create failed: "_s + QString::fromUtf8(r.err));
        return r;
    };

    out << "initial full backups (not measured): agent "
        << QString::number(agentRun().seconds, 'f', 2) << " s (includes init), raw "
        << QString::number(rawRun().seconds, 'f', 2) << " s\n";
    out.flush();

    QList<double> agentTimes, rawTimes, agentCpu, rawCpu, wallRatios, cpuRatios;
    for (int r = 0; r < rounds; ++r) {
        mutateTree(root, r);
        Run a, b;
        if (r % 2 == 0) {
            a = agentRun();
            b = rawRun();
        } else {
            b = rawRun();
            a = agentRun();
        }
        agentTimes.append(a.seconds);
        rawTimes.append(b.seconds);
        agentCpu.append(a.cpuSeconds);
        rawCpu.append(b.cpuSeconds);
        wallRatios.append(a.seconds / b.seconds);
        cpuRatios.append(a.cpuSeconds / b.cpuSeconds);
        out << "round " << r + 1 << ": sparky-agent run " << QString::number(a.seconds, 'f', 3)
            << " s (cpu " << QString::number(a.cpuSeconds, 'f', 3) << " s), borg create "
            << QString::number(b.seconds, 'f', 3) << " s (cpu "
            << QString::number(b.cpuSeconds, 'f', 3) << " s)\n";
        out.flush();
    }
    out << "\nincremental backup of a " << sizeMb << " MB tree, " << rounds
        << " alternated rounds (medians):\n"
        << "  borg create (baseline)   wall " << QString::number(median(rawTimes), 'f', 3)
        << " s, cpu " << QString::number(median(rawCpu), 'f', 3) << " s\n"
        << "  sparky-agent run         wall " << QString::number(median(agentTimes), 'f', 3)
        << " s, cpu " << QString::number(median(agentCpu), 'f', 3) << " s\n"
        << "  ratio agent/raw          wall " << QString::number(median(wallRatios), 'f', 3)
        << ", cpu " << QString::number(median(cpuRatios), 'f', 3)
        << "  (median of per-round ratios; goal <= 1.05)\n";
    out.flush();

    // Idle footprint of the daemon, when it is built in.
    QProcess daemon;
    daemon.setProcessEnvironment(agentEnv);
    daemon.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    daemon.start(agent, { u"daemon"_s, u"-c"_s, cfg });
    if (!daemon.waitForStarted() || daemon.waitForFinished(3000)) {
        out << "\nidle: `sparky-agent daemon` is not available in this build (exit "
            << daemon.exitCode() << "); idle RSS/CPU not measured\n";
        return 0;
    }
    const qint64 pid = daemon.processId();
    QThread::sleep(3); // let start-up settle
    const qint64 ticks0 = cpuTicks(pid);
    QElapsedTimer wall;
    wall.start();
    const int idleSeconds = std::max(5, parser.value(idleOpt).toInt());
    QThread::sleep(idleSeconds);
    const qint64 ticks1 = cpuTicks(pid);
    const double elapsed = wall.nsecsElapsed() / 1e9;
    const double cpuSeconds = double(ticks1 - ticks0) / double(sysconf(_SC_CLK_TCK));
    const qint64 rssKb = statusKb(pid, "VmRSS:");
    const qint64 hwmKb = statusKb(pid, "VmHWM:");
    ::kill(pid_t(pid), SIGTERM);
    daemon.waitForFinished(30000);
    out << "\nidle sparky-agent daemon (no broker, one scheduled job), sampled over "
        << QString::number(elapsed, 'f', 1) << " s:\n"
        << "  RSS " << QString::number(rssKb / 1024.0, 'f', 1) << " MiB (peak "
        << QString::number(hwmKb / 1024.0, 'f', 1) << " MiB)  (goal <= 20 MiB)\n"
        << "  CPU " << QString::number(100.0 * cpuSeconds / elapsed, 'f', 3) << " % of one core\n";
    return 0;
}
