// The proof files a destination holds (+gitvault/proof/drills.json and proven.json: anyone
// with write access to the destination can put anything there): read or refused with an
// Error naming them.
#include <cstdint>
#include <string>

#include "backup/proof_state.h"
#include "base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)gitvault::parse_drill_history(text, "drills.json");
  } catch (const gitvault::Error&) {
  }
  try {
    gitvault::ProvenFiles p = gitvault::parse_proven_files(text, "proven.json");
    for (const auto& [key, proof] : p.files) (void)p.proof_of(key);
  } catch (const gitvault::Error&) {
  }
  return 0;
}
