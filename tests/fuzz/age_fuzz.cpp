// An age file as a destination may hold it (anyone with write access there can put any bytes
// in its place): its header parsed, then opened with an identity it was sealed for
// (tests/fuzz/seeds/age) and read to the end — read or refused with an Error naming it, never
// a crash or a plaintext that was not authenticated. The key-file readers get the same bytes.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "base/error.h"
#include "seal/age.h"

namespace {

class BytesReader : public gitvault::ByteReader {
 public:
  BytesReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::size_t read(void* buf, std::size_t n) override {
    n = std::min(n, size_ - at_);
    std::memcpy(buf, data_ + at_, n);
    at_ += n;
    return n;
  }
  const std::string& name() const override { return name_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
  std::string name_ = "fuzz.age";
};

// The identity of the age specification's test vectors, which the seeds are sealed to.
const std::vector<gitvault::AgeIdentity>& identities() {
  static const auto ids = gitvault::parse_age_identities(
      "AGE-SECRET-KEY-1XMWWC06LY3EE5RYTXM9MFLAZ2U56JJJ36S0MYPDRWSVLUL66MV4QX3S7F6", "fuzz");
  return ids;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    (void)gitvault::parse_age_header(bytes, "fuzz.age");
  } catch (const gitvault::Error&) {
  }
  try {
    gitvault::AgeDecryptingReader r(std::make_unique<BytesReader>(data, size), identities());
    char buf[4096];
    while (r.read(buf, sizeof buf) > 0) {
    }
  } catch (const gitvault::Error&) {
  }
  try {
    (void)gitvault::parse_age_recipients(bytes, "recipients");
  } catch (const gitvault::Error&) {
  }
  try {
    (void)gitvault::parse_age_identities(bytes, "identities");
  } catch (const gitvault::Error&) {
  }
  return 0;
}
