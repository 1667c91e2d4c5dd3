// The one place gitvault asks "is this flag on?": overrides from GITVAULT_FEATURES, then
// the store, read once (load) so a run sees one consistent state, then evaluation.
//
// Failure policy (docs/feature-flags.md):
//  - store cannot be opened or read (corrupt, unreadable, deleted from a directory that
//    exists): every flag is off, reason store_error, and a warning names the store and the
//    error. Off is the conservative engine, so an operator's opt-out is never undone.
//  - the store's directory does not exist either (a machine where no flag was ever set):
//    definitions' defaults, reason default.
//  - a flag with no definition: off with a warning; an error when GITVAULT_STRICT_FLAGS=1
//    (the test suites set it).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "flags/definition.h"
#include "flags/evaluate.h"

namespace gitvault::flags {

class FeatureFlags {
 public:
  explicit FeatureFlags(std::string store_path, const Registry& registry = builtin_registry());

  // Reads overrides and the store. Throws Error(Usage) only for a malformed GITVAULT_FEATURES.
  void load();

  Evaluation evaluate(const std::string& name, const std::vector<std::string>& actors) const;
  // False when evaluate() is off whatever the actors (and whatever the dice): overridden
  // off, store unreadable, not set and off by default, or set with no gate that can open.
  // Lets a run tell before discovery that a code path will not be used at all.
  bool may_be_enabled(const std::string& name) const;
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::string& store_path() const { return store_path_; }

 private:
  std::string store_path_;
  const Registry& registry_;
  std::map<std::string, GateState> states_;
  std::map<std::string, bool> overrides_;
  std::optional<std::string> store_error_;
  std::vector<std::string> warnings_;
};

// Parses GITVAULT_FEATURES ("gitaly_backup=false,other=true"); throws Error(Usage).
std::map<std::string, bool> parse_overrides(const std::string& text, const Registry& registry);

// The actors of a repository: Repository:<relative path>, Project:<project path> (when
// known), Storage:<name>.
std::vector<std::string> repository_actors(const std::string& storage, const std::string& relative_path,
                                           const std::string& project_path);

// --flags-db, else GITVAULT_FLAGS_DB, else the config file's [flags] db, else the default.
std::string resolve_store_path(const std::string& option, const std::string& config_value);

}  // namespace gitvault::flags
