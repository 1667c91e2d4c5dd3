// Per-repository manifests (TOML) as found on disk: read or refused with an Error naming it.
#include <cstdint>
#include <string>

#include "backup/manifest.h"
#include "base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    gitvault::RepositoryRecord r;
    gitvault::parse_manifest(text, "fuzz.toml", r);
    (void)gitvault::format_manifest(r);
  } catch (const gitvault::Error&) {
  }
  return 0;
}
