#include "filehasher.h"

#include <QTimer>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {
constexpr qint64 kSlice = 1024 * 1024;
}

FileHasher::FileHasher(QStringList paths, QObject *parent)
    : QObject(parent)
    , m_paths(std::move(paths))
{ }

FileHasher::~FileHasher() = default;

void FileHasher::start()
{
    QTimer::singleShot(0, this, [this] { step(); });
}

void FileHasher::cancel()
{
    m_cancelled = true;
}

void FileHasher::step()
{
    if (m_done)
        return;
    if (m_cancelled || m_index >= m_paths.size()) {
        m_done = true;
        m_file.reset();
        Q_EMIT finished();
        return;
    }
    if (!m_file) {
        Result r;
        r.path = m_paths.at(m_index);
        m_results.append(r);
        m_file = std::make_unique<QFile>(r.path);
        if (!m_file->open(QIODevice::ReadOnly)) {
            m_results.last().error = m_file->errorString();
            m_file.reset();
            ++m_index;
            QTimer::singleShot(0, this, [this] { step(); });
            return;
        }
        m_hash = std::make_unique<QCryptographicHash>(QCryptographicHash::Sha256);
    }
    Result &r = m_results.last();
    const QByteArray chunk = m_file->read(kSlice);
    if (chunk.isEmpty()) {
        if (m_file->error() != QFileDevice::NoError) {
            r.error = m_file->errorString();
        } else {
            r.ok = true;
            r.sha256 = m_hash->result().toHex();
        }
        m_file.reset();
        m_hash.reset();
        ++m_index;
    } else {
        m_hash->addData(chunk);
        r.size += chunk.size();
    }
    QTimer::singleShot(0, this, [this] { step(); });
}

} // namespace sparky::agent
