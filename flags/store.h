// The flag store: an embedded SQLite database, opened by path, with GitLab's two tables
// (`features`, `feature_gates`) plus `feature_events` (the audit log). WAL mode and a busy
// timeout let several processes read and write at once; every change is one IMMEDIATE
// transaction that rewrites the flag's gates and appends its event, so concurrent writers
// never lose an event.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "flags/evaluate.h"

struct sqlite3;

namespace gitvault::flags {

struct Event {
  std::int64_t id = 0;
  std::string time, feature, action, value, user, host;
  std::vector<std::string> targets;
  std::string before, after;  // JSON of the gate state
};

class Store {
 public:
  // Opens (and with create, creates: directory 0700, file 0600) the database at path.
  // Throws Error naming the path when it cannot be opened or is not a gitvault store.
  static std::unique_ptr<Store> open(const std::string& path, bool create);
  ~Store();

  GateState read(const std::string& flag);
  std::map<std::string, GateState> read_all();

  // Runs `mutate` on the flag's current state inside one transaction, stores the result
  // (or removes the flag entirely when `remove` is set) and appends an event. mutate may
  // throw (Error(Usage) for a refused change): nothing is written then. Returns the new state.
  GateState change(const std::string& flag, const std::string& action, const std::vector<std::string>& targets,
                   const std::string& value, bool default_enabled, const std::function<void(GateState&)>& mutate,
                   bool remove = false);

  std::vector<Event> events(const std::string& flag);  // "" = every flag, oldest first
  const std::string& path() const { return path_; }

 private:
  Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void exec(const std::string& sql);
  GateState read_locked(const std::string& flag);
  sqlite3* db_;
  std::string path_;
};

std::string state_json(const GateState& s);
GateState parse_state_json(const std::string& text);
// One line for people: "off", "on", "25% of actors, actors: Project:1", ...
std::string describe_state(const GateState& s);

// Where the store lives when neither --flags-db, GITVAULT_FLAGS_DB nor the config says:
// /var/lib/gitvault/flags.db for root, else $XDG_STATE_HOME (or ~/.local/state)/gitvault/flags.db.
std::string default_store_path();

}  // namespace gitvault::flags
