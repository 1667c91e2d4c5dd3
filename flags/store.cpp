#include "flags/store.h"

#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "base/error.h"
#include "base/system.h"
#include "base/files.h"

using nlohmann::json;

namespace gitvault::flags {
namespace {

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind_int(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("query");
  }
  std::string text(int col) {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  std::int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  [[noreturn]] void fail(const char* what) {
    throw Error(ErrorCode::Io, std::string("flag store ") + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* stmt_ = nullptr;
};

const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS features (
  key TEXT NOT NULL PRIMARY KEY,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  default_when_written INTEGER
);
CREATE TABLE IF NOT EXISTS feature_gates (
  feature_key TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  UNIQUE (feature_key, key, value)
);
CREATE TABLE IF NOT EXISTS feature_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  feature TEXT NOT NULL,
  action TEXT NOT NULL,
  targets TEXT NOT NULL,
  value TEXT NOT NULL,
  before TEXT NOT NULL,
  after TEXT NOT NULL,
  user TEXT NOT NULL,
  host TEXT NOT NULL
);
)";

}  // namespace

std::string state_json(const GateState& s) {
  json j = {{"persisted", s.persisted}, {"boolean", s.boolean},
            {"actors", std::vector<std::string>(s.actors.begin(), s.actors.end())}};
  j["percentage_of_actors"] = s.percentage_of_actors ? json(format_percentage(*s.percentage_of_actors)) : json(nullptr);
  j["percentage_of_time"] = s.percentage_of_time ? json(format_percentage(*s.percentage_of_time)) : json(nullptr);
  return to_json_text(j);
}

GateState parse_state_json(const std::string& text) {
  json j = parse_json_text(text);
  GateState s;
  s.persisted = j.value("persisted", false);
  s.boolean = j.value("boolean", false);
  for (const auto& a : j.value("actors", std::vector<std::string>{})) s.actors.insert(a);
  if (j.contains("percentage_of_actors") && j["percentage_of_actors"].is_string())
    s.percentage_of_actors = parse_percentage(j["percentage_of_actors"].get<std::string>());
  if (j.contains("percentage_of_time") && j["percentage_of_time"].is_string())
    s.percentage_of_time = parse_percentage(j["percentage_of_time"].get<std::string>());
  return s;
}

std::string describe_state(const GateState& s) {
  if (!s.persisted) return "not set (default)";
  if (s.boolean) return "on for everyone";
  std::vector<std::string> parts;
  std::size_t actors = 0, opt_outs = 0;
  for (const auto& a : s.actors) (a.size() > 8 && a.compare(a.size() - 8, 8, ":opt_out") == 0 ? opt_outs : actors)++;
  if (s.percentage_of_actors) parts.push_back(format_percentage(*s.percentage_of_actors) + "% of actors");
  if (s.percentage_of_time) parts.push_back(format_percentage(*s.percentage_of_time) + "% of the time");
  if (actors) parts.push_back(std::to_string(actors) + " actor(s)");
  if (opt_outs) parts.push_back(std::to_string(opt_outs) + " opt-out(s)");
  if (parts.empty()) return "off";
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return "on for " + out;
}

std::string default_store_path() {
  if (::geteuid() == 0) return "/var/lib/gitvault/flags.db";
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg && *xdg) return std::string(xdg) + "/gitvault/flags.db";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/state/gitvault/flags.db";
}

std::unique_ptr<Store> Store::open(const std::string& path, bool create) {
  bool existed = path_exists(path);
  if (create) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (!dir.empty()) make_dirs(dir, 0700);
  } else if (!path_exists(path)) {
    throw Error(ErrorCode::NotFound, "flag store " + path + " does not exist");
  }
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close(db);
    db = nullptr;
    // A store we may not write can still be read.
    rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db ? sqlite3_errmsg(db) : "cannot open";
      sqlite3_close(db);
      throw Error(ErrorCode::Io, "flag store " + path + ": " + msg);
    }
  }
  std::unique_ptr<Store> store(new Store(db, path));
  sqlite3_busy_timeout(db, 10000);
  if (create && !existed) ::chmod(path.c_str(), 0600);
  if (create) {
    bool has_schema = false;
    try {
      Statement q(db, "SELECT count(*) FROM sqlite_master WHERE name = 'feature_events'", path);
      has_schema = q.step() && q.integer(0) == 1;
    } catch (const Error&) {
    }
    if (!has_schema) {
      store->exec("PRAGMA journal_mode=WAL");
      store->exec(kSchema);
    }
  }
  // Prove it is a gitvault store (a corrupt file fails here, not halfway through a run).
  Statement(db, "SELECT count(*) FROM features, feature_gates LIMIT 1", path).step();
  return store;
}

Store::~Store() { sqlite3_close(db_); }

void Store::exec(const std::string& sql) {
  char* err = nullptr;
  int rc;
  // The busy handler is not consulted in every case (journal mode changes, WAL recovery):
  // retry those for up to the busy timeout.
  for (int attempt = 0;; ++attempt) {
    rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt >= 1000) break;
    sqlite3_free(err);
    err = nullptr;
    ::usleep(10000);
  }
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw Error(ErrorCode::Io, "flag store " + path_ + ": " + msg);
  }
}

GateState Store::read_locked(const std::string& flag) {
  GateState s;
  Statement f(db_, "SELECT default_when_written FROM features WHERE key = ?", path_);
  f.bind(1, flag);
  if (!f.step()) return s;
  s.persisted = true;
  if (!f.is_null(0)) s.default_when_written = f.integer(0) != 0;
  Statement g(db_, "SELECT key, value FROM feature_gates WHERE feature_key = ?", path_);
  g.bind(1, flag);
  while (g.step()) {
    std::string key = g.text(0), value = g.text(1);
    if (key == "boolean")
      s.boolean = value == "true";
    else if (key == "actors")
      s.actors.insert(value);
    else if (key == "percentage_of_actors")
      s.percentage_of_actors = parse_percentage(value);
    else if (key == "percentage_of_time")
      s.percentage_of_time = parse_percentage(value);
  }
  return s;
}

GateState Store::read(const std::string& flag) { return read_locked(flag); }

std::map<std::string, GateState> Store::read_all() {
  std::map<std::string, GateState> out;
  exec("BEGIN");
  try {
    std::vector<std::string> keys;
    Statement f(db_, "SELECT key FROM features ORDER BY key", path_);
    while (f.step()) keys.push_back(f.text(0));
    for (const auto& k : keys) out[k] = read_locked(k);
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  exec("COMMIT");
  return out;
}

GateState Store::change(const std::string& flag, const std::string& action, const std::vector<std::string>& targets,
                        const std::string& value, bool default_enabled, const std::function<void(GateState&)>& mutate,
                        bool remove) {
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0 && (st.st_mode & 0222) == 0)
    throw Error(ErrorCode::Io, "flag store " + path_ + " is read-only (mode " +
                                   std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                                   std::to_string(st.st_mode & 7) + "); nothing changed");
  exec("BEGIN IMMEDIATE");
  try {
    GateState before = read_locked(flag);
    GateState after = before;
    if (remove) {
      after = GateState{};
    } else {
      mutate(after);
      after.persisted = true;
      after.default_when_written = default_enabled;
    }
    Statement(db_, "DELETE FROM feature_gates WHERE feature_key = ?", path_).bind(1, flag).step();
    if (remove) {
      Statement(db_, "DELETE FROM features WHERE key = ?", path_).bind(1, flag).step();
    } else {
      std::string now = utc_now_rfc3339();
      Statement(db_,
                "INSERT INTO features (key, created_at, updated_at, default_when_written) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET updated_at = excluded.updated_at, "
                "default_when_written = excluded.default_when_written",
                path_)
          .bind(1, flag).bind(2, now).bind(3, now).bind_int(4, default_enabled ? 1 : 0).step();
      auto gate = [&](const std::string& key, const std::string& v) {
        Statement(db_, "INSERT INTO feature_gates (feature_key, key, value) VALUES (?, ?, ?)", path_)
            .bind(1, flag).bind(2, key).bind(3, v).step();
      };
      if (after.boolean) gate("boolean", "true");
      for (const auto& a : after.actors) gate("actors", a);
      if (after.percentage_of_actors) gate("percentage_of_actors", format_percentage(*after.percentage_of_actors));
      if (after.percentage_of_time) gate("percentage_of_time", format_percentage(*after.percentage_of_time));
    }
    Statement(db_,
              "INSERT INTO feature_events (time, feature, action, targets, value, before, after, user, host) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
              path_)
        .bind(1, utc_now_rfc3339()).bind(2, flag).bind(3, action).bind(4, to_json_text(json(targets))).bind(5, value)
        .bind(6, state_json(before)).bind(7, state_json(after)).bind(8, os_user()).bind(9, host_name()).step();
    exec("COMMIT");
    return after;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<Event> Store::events(const std::string& flag) {
  std::vector<Event> out;
  Statement q(db_,
              flag.empty() ? "SELECT id, time, feature, action, targets, value, before, after, user, host FROM "
                             "feature_events ORDER BY id"
                           : "SELECT id, time, feature, action, targets, value, before, after, user, host FROM "
                             "feature_events WHERE feature = ? ORDER BY id",
              path_);
  if (!flag.empty()) q.bind(1, flag);
  while (q.step()) {
    Event e;
    e.id = q.integer(0);
    e.time = q.text(1);
    e.feature = q.text(2);
    e.action = q.text(3);
    e.targets = parse_json_text(q.text(4)).get<std::vector<std::string>>();
    e.value = q.text(5);
    e.before = q.text(6);
    e.after = q.text(7);
    e.user = q.text(8);
    e.host = q.text(9);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace gitvault::flags
