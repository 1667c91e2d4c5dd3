// Backup records as found on disk: parsed whole or by header, they are read or refused with
// Error(Corrupt) naming the file; nothing else may escape.
#include <cstdint>
#include <string>

#include "backup/record.h"
#include "base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    gitvault::BackupRecord r = gitvault::parse_record(text, "fuzz.json");
    for (const auto& repo : r.repositories) (void)gitvault::chain_files(repo);
  } catch (const gitvault::Error&) {
  }
  try {
    (void)gitvault::parse_record_header(text, "fuzz.json");
  } catch (const gitvault::Error&) {
  }
  return 0;
}
