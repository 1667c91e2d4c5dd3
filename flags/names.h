// The flags gitvault's code reads, as typed constants: a flag is named in code only here,
// and tests/flags/definition_test.cpp checks that each has a YAML definition.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gitvault::flags {

struct FlagName {
  std::string_view value;
  std::string str() const { return std::string(value); }
};

// ops, default on: the pipeline (the gitaly-backup worker) backs up and restores a
// repository; off: the legacy path (in-process, one at a time). definitions/ops/gitaly_backup.yml
inline constexpr FlagName kGitalyBackup{"gitaly_backup"};

// Every flag the code reads.
inline const std::vector<FlagName>& flags_read_by_code() {
  static const std::vector<FlagName> all = {kGitalyBackup};
  return all;
}

}  // namespace gitvault::flags
