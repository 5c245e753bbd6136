#include "sparky/secrets.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace sparky;
using namespace Qt::StringLiterals;

class TestSecrets : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void readsPrivateFile()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(u"token"_s);
        QVERIFY(writeSecretFile(path, "s3cret\n").hasValue());
        QCOMPARE(QFile::permissions(path), QFile::ReadOwner | QFile::WriteOwner | QFile::ReadUser | QFile::WriteUser);
        QCOMPARE(readSecretFile(path).value(), QByteArray("s3cret"));
    }

    void refusesReadableByOthers()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(u"token"_s);
        QVERIFY(writeSecretFile(path, "s3cret").hasValue());
        QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup);
        auto r = readSecretFile(path);
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::Permission);
        QVERIFY(r.error().message.contains(u"0640"_s));
        QVERIFY(!r.error().message.contains(u"s3cret"_s)); // the secret is never in an error
    }

    void missingAndEmpty()
    {
        QTemporaryDir dir;
        QCOMPARE(readSecretFile(dir.filePath(u"nope"_s)).error().code, ErrorCode::Io);
        const QString empty = dir.filePath(u"empty"_s);
        QVERIFY(writeSecretFile(empty, "\n").hasValue());
        QCOMPARE(readSecretFile(empty).error().code, ErrorCode::Config);
        QCOMPARE(readSecretFile(dir.path()).error().code, ErrorCode::Permission); // a directory
    }
};

QTEST_GUILESS_MAIN(TestSecrets)
#include "tst_secrets.moc"
