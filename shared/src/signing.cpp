#include "sparky/signing.h"

#include "sparky/logging.h"
#include "sparky/secrets.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace sparky {

using namespace Qt::StringLiterals;

namespace {

struct PkeyDeleter
{
    void operator()(EVP_PKEY *p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter
{
    void operator()(EVP_MD_CTX *p) const { EVP_MD_CTX_free(p); }
};
struct BioDeleter
{
    void operator()(BIO *p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

QString opensslError()
{
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0)
        return u"unknown OpenSSL error"_s;
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    return QString::fromLatin1(buf);
}

} // namespace

struct SigningKey::Impl
{
    PkeyPtr key;
};

struct VerifyKey::Impl
{
    PkeyPtr key;
};

SigningKey::SigningKey(std::shared_ptr<const Impl> impl)
    : m_impl(std::move(impl))
{
}

Expected<SigningKey> SigningKey::generate()
{
    EVP_PKEY *raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (!raw)
        return unexpected(ErrorCode::Crypto, u"ed25519 key generation failed: "_s + opensslError());
    auto impl = std::make_shared<Impl>();
    impl->key.reset(raw);
    return SigningKey(std::move(impl));
}

Expected<SigningKey> SigningKey::fromPem(const QByteArray &pem)
{
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.constData(), int(pem.size())));
    EVP_PKEY *raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (!raw)
        return unexpected(ErrorCode::Crypto, u"not a PEM private key: "_s + opensslError());
    PkeyPtr key(raw);
    if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
        return unexpected(ErrorCode::Crypto, u"the private key is not an ed25519 key"_s);
    auto impl = std::make_shared<Impl>();
    impl->key = std::move(key);
    return SigningKey(std::move(impl));
}

Expected<SigningKey> SigningKey::load(const QString &path)
{
    auto pem = readSecretFile(path);
    if (!pem)
        return pem.error();
    auto key = fromPem(*pem);
    if (!key)
        return key.error().wrapped(u"signing key %1"_s.arg(path));
    return key;
}

QByteArray SigningKey::toPem() const
{
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
    if (!PEM_write_bio_PrivateKey(bio.get(), m_impl->key.get(), nullptr, nullptr, 0, nullptr,
                                  nullptr))
        return {};
    char *data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return QByteArray(data, len);
}

QByteArray SigningKey::publicKeyRaw() const
{
    QByteArray out(32, Qt::Uninitialized);
    size_t len = size_t(out.size());
    if (EVP_PKEY_get_raw_public_key(m_impl->key.get(),
                                    reinterpret_cast<unsigned char *>(out.data()), &len) != 1)
        return {};
    out.resize(qsizetype(len));
    return out;
}

QString SigningKey::publicKeyBase64() const
{
    return QString::fromLatin1(publicKeyRaw().toBase64());
}

Expected<QByteArray> SigningKey::sign(QByteArrayView data) const
{
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, m_impl->key.get()) != 1)
        return unexpected(ErrorCode::Crypto, u"sign init failed: "_s + opensslError());
    QByteArray sig(64, Qt::Uninitialized);
    size_t len = size_t(sig.size());
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char *>(sig.data()), &len,
                       reinterpret_cast<const unsigned char *>(data.data()), size_t(data.size()))
        != 1)
        return unexpected(ErrorCode::Crypto, u"signing failed: "_s + opensslError());
    sig.resize(qsizetype(len));
    return sig;
}

VerifyKey::VerifyKey(std::shared_ptr<const Impl> impl)
    : m_impl(std::move(impl))
{
}

Expected<VerifyKey> VerifyKey::fromRaw(const QByteArray &raw32)
{
    if (raw32.size() != 32)
        return unexpected(ErrorCode::Crypto,
                          u"an ed25519 public key is 32 bytes, got %1"_s.arg(raw32.size()));
    EVP_PKEY *raw = EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char *>(raw32.constData()),
        size_t(raw32.size()));
    if (!raw)
        return unexpected(ErrorCode::Crypto, u"bad ed25519 public key: "_s + opensslError());
    auto impl = std::make_shared<Impl>();
    impl->key.reset(raw);
    return VerifyKey(std::move(impl));
}

Expected<VerifyKey> VerifyKey::fromBase64(const QString &base64)
{
    const auto decoded = QByteArray::fromBase64Encoding(
        base64.trimmed().toLatin1(),
        QByteArray::Base64Encoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return unexpected(ErrorCode::Crypto, u"the public key is not valid base64"_s);
    return fromRaw(decoded.decoded);
}

bool VerifyKey::verify(QByteArrayView data, QByteArrayView signature) const
{
    if (signature.size() != 64)
        return false;
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, m_impl->key.get()) != 1) {
        ERR_clear_error();
        return false;
    }
    const int rc = EVP_DigestVerify(ctx.get(),
                                    reinterpret_cast<const unsigned char *>(signature.data()),
                                    size_t(signature.size()),
                                    reinterpret_cast<const unsigned char *>(data.data()),
                                    size_t(data.size()));
    ERR_clear_error();
    return rc == 1;
}

QString VerifyKey::toBase64() const
{
    QByteArray out(32, Qt::Uninitialized);
    size_t len = size_t(out.size());
    EVP_PKEY_get_raw_public_key(m_impl->key.get(), reinterpret_cast<unsigned char *>(out.data()),
                                &len);
    return QString::fromLatin1(out.toBase64());
}

Result signCommand(Envelope &command, const SigningKey &key, std::chrono::seconds lifetime)
{
    if (lifetime.count() <= 0)
        return unexpected(ErrorCode::InvalidArgument, u"command lifetime must be positive"_s);
    command.signature.clear();
    command.expires = command.ts.addSecs(lifetime.count());
    auto sig = key.sign(signingPayload(command));
    if (!sig)
        return sig.error();
    command.signature = *sig;
    return {};
}

Result verifyCommand(const Envelope &command, const VerifyKey &key, const CommandCheck &check)
{
    if (command.signature.isEmpty())
        return unexpected(ErrorCode::Crypto, u"command %1 (%2) is not signed"_s.arg(command.id,
                                                                                  command.type));
    if (!key.verify(signingPayload(command), command.signature))
        return unexpected(ErrorCode::Crypto,
                          u"command %1 (%2): signature does not verify against the pinned "
                          "orchestrator key"_s.arg(command.id, command.type));
    if (command.node != check.node)
        return unexpected(ErrorCode::Validation,
                          u"command %1 targets node '%2', but this is node '%3'"_s.arg(
                              command.id, command.node, check.node));
    if (!command.expires)
        return unexpected(ErrorCode::Validation,
                          u"command %1 has no expiry ('exp')"_s.arg(command.id));
    const qint64 skew = check.maxClockSkew.count();
    if (command.ts > check.now.addSecs(skew))
        return unexpected(ErrorCode::Validation,
                          u"command %1 was issued at %2, more than %3 s in the future (clock "
                          "skew?)"_s.arg(command.id, formatTimestamp(command.ts)).arg(skew));
    if (*command.expires <= command.ts)
        return unexpected(ErrorCode::Validation,
                          u"command %1 expires before it was issued"_s.arg(command.id));
    if (command.ts.secsTo(*command.expires) > check.maxLifetime.count())
        return unexpected(ErrorCode::Validation,
                          u"command %1 is valid for %2 s, more than the allowed %3 s"_s
                              .arg(command.id)
                              .arg(command.ts.secsTo(*command.expires))
                              .arg(check.maxLifetime.count()));
    if (check.now >= *command.expires)
        return unexpected(ErrorCode::Expired,
                          u"command %1 (%2) expired at %3"_s.arg(command.id, command.type,
                                                                  formatTimestamp(*command.expires)));
    return {};
}

} // namespace sparky
