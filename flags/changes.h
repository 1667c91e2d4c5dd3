// `gitvault feature set` and `feature delete`: GitLab's rules for changing a flag, applied
// to the store in one transaction each (flags/README.md, "Writes"). A refused change throws
// Error(Usage) and writes nothing.
#pragma once

#include <string>
#include <vector>

#include "flags/definition.h"
#include "flags/evaluate.h"
#include "flags/store.h"

namespace gitvault::flags {

struct SetRequest {
  std::string value;                 // true|100, false|0, opt_out, remove_opt_out, or a percentage
  std::vector<std::string> targets;  // actors ("Repository:a.git"); empty = everyone
  bool percentage_of_actors = false;  // --actors
  bool percentage_of_time = false;    // --random (deprecated)
};

struct ChangeResult {
  std::string action;  // the audit log's word: enable, disable, opt_out, ..., delete
  GateState after;
  std::vector<std::string> warnings;
};

ChangeResult set_flag(Store& store, const Definition& def, const SetRequest& request);
ChangeResult delete_flag(Store& store, const Definition& def);

}  // namespace gitvault::flags
