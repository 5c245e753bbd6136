#include "sshpublickey.h"

#include <QCryptographicHash>
#include <QStringList>

namespace sparky::agent {

using namespace Qt::StringLiterals;

namespace {

// Reads the RFC 4251 wire format: uint32 length, then that many bytes.
struct Reader
{
    const QByteArray &data;
    qsizetype pos = 0;
    bool ok = true;

    QByteArray string()
    {
        if (!ok || data.size() - pos < 4) {
            ok = false;
            return {};
        }
        const auto *p = reinterpret_cast<const uchar *>(data.constData() + pos);
        const quint32 len
            = (quint32(p[0]) << 24) | (quint32(p[1]) << 16) | (quint32(p[2]) << 8) | quint32(p[3]);
        pos += 4;
        if (qsizetype(len) > data.size() - pos) {
            ok = false;
            return {};
        }
        const QByteArray out = data.mid(pos, qsizetype(len));
        pos += qsizetype(len);
        return out;
    }
    bool atEnd() const { return ok && pos == data.size(); }
};

Unexpected invalid(const QString &why)
{
    return unexpected(ErrorCode::Validation, u"invalid public key: "_s + why);
}

// Bits of a positive mpint (leading zero byte allowed only before a high bit).
int mpintBits(const QByteArray &m, bool *ok)
{
    *ok = !m.isEmpty() && !(uchar(m.at(0)) & 0x80)
        && !(m.size() > 1 && m.at(0) == 0 && !(uchar(m.at(1)) & 0x80));
    if (!*ok)
        return 0;
    qsizetype i = 0;
    while (i < m.size() && m.at(i) == 0)
        ++i;
    if (i == m.size())
        return 0;
    int bits = int(m.size() - i - 1) * 8;
    for (uchar top = uchar(m.at(i)); top; top >>= 1)
        ++bits;
    return bits;
}

} // namespace

QString SshPublicKey::fingerprint() const
{
    QByteArray b64 = QCryptographicHash::hash(blob, QCryptographicHash::Sha256).toBase64();
    while (b64.endsWith('='))
        b64.chop(1);
    return u"SHA256:"_s + QString::fromLatin1(b64);
}

Expected<SshPublicKey> SshPublicKey::parse(const QString &text)
{
    if (text.size() > kMaxText)
        return invalid(u"longer than %1 characters"_s.arg(kMaxText));
    for (const QChar c : text) {
        if ((c.unicode() < 0x20 && c != u'\t') || c.unicode() == 0x7f)
            return invalid(u"line breaks and control characters are not allowed"_s);
        if (c == u'"' || c == u'\'' || c == u'\\')
            return invalid(u"quotes and backslashes are not allowed"_s);
    }
    const QStringList parts = text.simplified().split(u' ', Qt::SkipEmptyParts);
    if (parts.size() < 2)
        return invalid(u"expected '<type> <base64> [comment]'"_s);
    static const QStringList kTypes { u"ssh-ed25519"_s, u"ecdsa-sha2-nistp256"_s,
        u"ecdsa-sha2-nistp384"_s, u"ecdsa-sha2-nistp521"_s, u"ssh-rsa"_s };
    SshPublicKey key;
    key.type = parts.at(0);
    if (!kTypes.contains(key.type)) {
        if (key.type.contains(u'=') || key.type.contains(u','))
            return invalid(u"options are not accepted; give only '<type> <base64> [comment]'"_s);
        return invalid(u"type '%1' is not accepted (allowed: %2)"_s.arg(
            key.type.left(64), kTypes.join(u", "_s)));
    }
    const QByteArray b64 = parts.at(1).toLatin1();
    auto decoded = QByteArray::fromBase64Encoding(b64, QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded || decoded.decoded.isEmpty() || decoded.decoded.toBase64() != b64)
        return invalid(u"the key is not canonical base64"_s);
    key.blob = decoded.decoded;

    Reader r { key.blob };
    const QByteArray embedded = r.string();
    if (!r.ok || QString::fromLatin1(embedded) != key.type)
        return invalid(u"the key data says '%1', not '%2'"_s.arg(
            QString::fromLatin1(embedded.left(64)), key.type));
    if (key.type == "ssh-ed25519"_L1) {
        const QByteArray pk = r.string();
        if (!r.atEnd() || pk.size() != 32)
            return invalid(u"malformed ssh-ed25519 key data"_s);
        key.bits = 256;
    } else if (key.type.startsWith("ecdsa-sha2-"_L1)) {
        const QString curve = key.type.mid(11);
        const QByteArray name = r.string();
        const QByteArray point = r.string();
        const int bits = curve == "nistp256"_L1 ? 256 : curve == "nistp384"_L1 ? 384 : 521;
        const qsizetype coord = (bits + 7) / 8;
        if (!r.atEnd() || QString::fromLatin1(name) != curve || point.size() != 1 + 2 * coord
            || point.at(0) != 0x04)
            return invalid(u"malformed %1 key data"_s.arg(key.type));
        key.bits = bits;
    } else { // ssh-rsa
        const QByteArray e = r.string();
        const QByteArray n = r.string();
        bool okE = false, okN = false;
        const int eBits = mpintBits(e, &okE);
        const int nBits = mpintBits(n, &okN);
        if (!r.atEnd() || !okE || !okN || eBits < 2 || eBits > 64 || !(uchar(e.back()) & 1))
            return invalid(u"malformed ssh-rsa key data"_s);
        if (nBits < kMinRsaBits)
            return invalid(
                u"an RSA key of %1 bits is too weak (at least %2)"_s.arg(nBits).arg(kMinRsaBits));
        key.bits = nBits;
    }
    return key;
}

} // namespace sparky::agent
