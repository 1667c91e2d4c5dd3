// How `gitvault feature` shows flags, evaluations, the audit log and changes (text and
// --json). cli/feature_command.cpp gathers what to show; this prints it.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "flags/changes.h"
#include "flags/definition.h"
#include "flags/evaluate.h"
#include "flags/store.h"
#include "ui/progress.h"

namespace gitvault {

// A flag as `feature list` and `feature get` show it.
struct FlagShown {
  const flags::Definition* definition = nullptr;  // nullptr: stored, but has no definition (ignored)
  std::string name;
  flags::GateState state;
  std::string state_words;  // its state as evaluation uses it ("off (flag store unreadable ...)")
};

void report_flag_list(std::FILE* out, std::FILE* err, OutputMode mode, const std::vector<FlagShown>& flags,
                      const std::string& store_path);
void report_flag(std::FILE* out, OutputMode mode, const FlagShown& flag);
void report_flag_evaluation(std::FILE* out, OutputMode mode, const std::string& name, const flags::Evaluation& e,
                            const std::vector<std::string>& actors);
void report_flag_log(std::FILE* out, OutputMode mode, const std::vector<flags::Event>& events,
                     const std::string& store_path);
// `value` is what `feature set` was given ("" for delete).
void report_flag_change(std::FILE* out, std::FILE* err, OutputMode mode, const flags::Definition& d,
                        const flags::ChangeResult& change, const std::vector<std::string>& targets,
                        const std::string& value);

}  // namespace gitvault
