// The one place gitvault asks "is this flag on?": overrides from GITVAULT_FEATURES, then
// the store, read once (load) so a run sees one consistent state, then evaluation.
//
// Failure policy (flags/README.md, "Safety"):
//  - store cannot be opened or read (corrupt, unreadable, deleted from a directory that
//    exists): every flag is off, reason store_error, and a warning names the store and the
//    error. Off is the conservative engine, so an operator's opt-out is never undone.
//  - the store file does not exist but its directory does (systemd's StateDirectory=, a
//    package's /var/lib/gitvault): the store is created, with its schema, and read empty.
//  - the store's directory does not exist either (a machine where no flag was ever set):
//    definitions' defaults, reason default.
//  - remembered state (flags/README.md): a store that knows nothing of a flag (no state and
//    no change ever logged: new, or recreated empty) takes the state the newest backup
//    record says its run used, when that state was persisted, with a warning naming when
//    and by whom it was set. An operator's emergency opt-out thus survives a lost store,
//    until `gitvault feature set` or `feature delete` writes the store.
//  - a flag with no definition: off with a warning; an error when GITVAULT_STRICT_FLAGS=1
//    (the test suites set it).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "flags/definition.h"
#include "flags/evaluate.h"
#include "flags/store.h"

namespace gitvault::flags {

// A flag's state as a run used it, with where it came from: what a backup record keeps.
struct RecordedFlag {
  std::string name;
  GateState state;
  std::string changed_at, changed_by, changed_on_host, action;  // the last change, from the audit log
  std::string recorded_in;  // where this copy was read from ("backup 20261122020000"), when remembered
};

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
  // The state each defined flag had for this run (store or remembered), for the backup record.
  std::vector<RecordedFlag> snapshot() const;
  // Takes a recorded state for a flag the store knows nothing of (see the policy above).
  // Returns whether it was taken; the warning is in warnings().
  bool remember(const RecordedFlag& recorded);
  // The state evaluate() uses for a flag (the store's, or a remembered one).
  GateState state(const std::string& name) const;
  // Every flag with a state (stored or remembered), defined or not.
  const std::map<std::string, GateState>& states() const { return states_; }
  const std::optional<std::string>& store_error() const { return store_error_; }
  // The remembered state of a flag, when one was taken.
  const RecordedFlag* remembered(const std::string& name) const;
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::string& store_path() const { return store_path_; }

 private:
  std::string store_path_;
  const Registry& registry_;
  std::map<std::string, GateState> states_;
  std::map<std::string, bool> overrides_;
  std::optional<std::string> store_error_;
  std::map<std::string, Event> last_change_;        // flags with any logged change: the last one
  std::map<std::string, RecordedFlag> remembered_;
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
