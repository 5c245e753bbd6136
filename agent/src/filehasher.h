#pragma once

// SHA-256 of a list of files without blocking the event loop: one slice (1 MiB) per turn
// of the loop, so a drill verifying gigabytes keeps the agent responsive (heartbeats,
// commands). finished() once, after the last file (or cancel()). Lives on the thread that
// created it.

#include <QByteArray>
#include <QCryptographicHash>
#include <QFile>
#include <QList>
#include <QObject>
#include <QString>
#include <memory>

namespace sparky::agent {

class FileHasher final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FileHasher)

public:
    struct Result
    {
        QString path;
        bool ok = false; // read to the end
        QString error; // why not
        qint64 size = 0; // bytes read
        QByteArray sha256; // hex
    };

    explicit FileHasher(QStringList paths, QObject *parent = nullptr);
    ~FileHasher() override;

    void start();
    void cancel();
    const QList<Result> &results() const { return m_results; }

Q_SIGNALS:
    void finished();

private:
    void step();

    QStringList m_paths;
    QList<Result> m_results;
    qsizetype m_index = 0;
    std::unique_ptr<QFile> m_file;
    std::unique_ptr<QCryptographicHash> m_hash;
    bool m_cancelled = false;
    bool m_done = false;
};

} // namespace sparky::agent
