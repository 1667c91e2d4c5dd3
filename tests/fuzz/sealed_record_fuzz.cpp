// A sealed record as a destination may hold it (anyone with write access there can put any
// bytes in its place): its clear header peeked, its seal line read, and the whole opened with
// an identity and a trusted signer — read or refused with an Error naming it, never a crash or
// a record accepted whose signature does not hold (destination/sealed_sink.h).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "base/error.h"
#include "base/files.h"
#include "destination/sealed_sink.h"

namespace {

gitvault::SealedSink& sink() {
  static std::string dir = [] {
    char tmpl[] = "/tmp/gitvault-fuzz-sealed-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  static std::unique_ptr<gitvault::SealedSink> s = [] {
    gitvault::SealingKeys keys;
    const gitvault::AgeIdentity id = gitvault::AgeIdentity::generate();
    keys.recipients = {id.recipient()};
    keys.identities = {id};
    keys.signer = std::make_shared<const gitvault::SigningKey>(gitvault::SigningKey::generate());
    keys.trusted = {keys.signer->public_key()};
    return std::make_unique<gitvault::SealedSink>(std::make_unique<gitvault::LocalSink>(dir), std::move(keys),
                                                  [](const std::string&) {
                                                    return gitvault::SealedName{gitvault::SealedKind::Record, false, ""};
                                                  });
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  gitvault::SealedSink& s = sink();
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    gitvault::write_whole(s.target(), "+gitvault/backups/f.json", bytes);
  } catch (const gitvault::Error&) {
    return 0;
  }
  for (int what = 0; what < 3; ++what) {
    try {
      if (what == 0) s.peek("+gitvault/backups/f.json", 4096, 4);
      if (what == 1) s.record_seal("+gitvault/backups/f.json");
      if (what == 2) gitvault::read_whole(s, "+gitvault/backups/f.json");
    } catch (const gitvault::Error&) {
    }
  }
  return 0;
}
