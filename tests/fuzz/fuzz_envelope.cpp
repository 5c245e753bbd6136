// libFuzzer target for everything that parses bytes from the broker: the envelope, the
// event bodies, command verification. Properties checked on every input that parses:
// serialising and parsing again gives the same envelope (canonical form), and body
// validation and signature checks return a value instead of crashing.
//
// Built two ways: with clang and -fsanitize=fuzzer (SPARKY_FUZZ=ON) it is a fuzzer; in the
// normal build, fuzz_replay.cpp provides main() and replays the corpus as a unit test.

#include "sparky/envelope.h"
#include "sparky/protocol.h"
#include "sparky/signing.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace sparky;
    static const VerifyKey key = VerifyKey::fromRaw(QByteArray(32, '\x01')).valueOr(
        VerifyKey::fromBase64(QStringLiteral("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")).value());

    const auto parsed = parseEnvelope(QByteArrayView(reinterpret_cast<const char *>(data), qsizetype(size)));
    if (!parsed)
        return 0;
    const QByteArray again = serializeEnvelope(*parsed);
    const auto reparsed = parseEnvelope(again);
    if (!reparsed || serializeEnvelope(*reparsed) != again)
        std::abort(); // canonical form must round-trip
    (void)protocol::validateEventBody(*parsed);
    CommandCheck check;
    check.node = parsed->node;
    check.now = parsed->ts;
    (void)verifyCommand(*parsed, key, check);
    return 0;
}
