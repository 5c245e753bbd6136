// Replays every file of the fuzz corpus through the fuzz target (the normal build's unit
// test of the harness, and a regression suite for crashes the fuzzer once found).

#include <QDir>
#include <QFile>

#include <cstdint>
#include <cstdio>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; ++i) {
        const QDir dir(QString::fromLocal8Bit(argv[i]));
        const auto entries = dir.entryInfoList(QDir::Files);
        for (const QFileInfo &fi : entries) {
            QFile f(fi.filePath());
            if (!f.open(QIODevice::ReadOnly))
                return 2;
            const QByteArray data = f.readAll();
            LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(data.constData()), size_t(data.size()));
            ++files;
        }
    }
    std::printf("replayed %d corpus files without a crash\n", files);
    return files > 0 ? 0 : 1;
}
