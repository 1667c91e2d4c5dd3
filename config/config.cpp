#include "config/config.h"

#include <sys/stat.h>

#include <cstdlib>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <toml++/toml.h>

#include "base/error.h"
#include "base/system.h"

namespace fs = std::filesystem;

namespace gitvault {

namespace {

// [retention] (and [prune], its older spelling, read first so [retention] wins).
void read_retention(toml::table& tbl, Config& cfg) {
  if (auto n = tbl["prune"]["keep_last"].value_exact<int64_t>()) cfg.keep_last = static_cast<int>(*n);
  cfg.keep_within = tbl["prune"]["keep_within"].value_or(std::string());
  for (auto [key, field] : {std::pair{"keep_last", &cfg.keep_last}, std::pair{"keep_hourly", &cfg.keep_hourly},
                            std::pair{"keep_daily", &cfg.keep_daily}, std::pair{"keep_weekly", &cfg.keep_weekly},
                            std::pair{"keep_monthly", &cfg.keep_monthly}, std::pair{"keep_yearly", &cfg.keep_yearly}})
    if (auto n = tbl["retention"][key].value_exact<int64_t>()) *field = static_cast<int>(*n);
  if (auto w = tbl["retention"]["keep_within"].value<std::string>()) cfg.keep_within = *w;
}

// [encryption] (docs/encryption.md): files named relative to the config file.
void read_encryption(toml::table& tbl, SealSettings& seal, const std::function<std::string(const std::string&)>& file) {
  auto strings = [&](const char* key) {
    std::vector<std::string> out;
    if (auto* arr = tbl["encryption"][key].as_array())
      for (auto& n : *arr)
        if (auto v = n.value<std::string>()) out.push_back(*v);
    return out;
  };
  seal.recipients = strings("recipients");
  seal.trusted_signers = strings("trusted_signers");
  for (auto [key, field] : {std::pair{"recipients_file", &seal.recipients_file},
                            std::pair{"identity_file", &seal.identity_file}, std::pair{"signing_key", &seal.signing_key},
                            std::pair{"shadow_dir", &seal.shadow_dir}})
    if (auto p = tbl["encryption"][key].value<std::string>()) *field = file(*p);
}

}  // namespace

namespace {

enum class Kind { String, Integer, Boolean, Duration, Strings };  // Strings: an array of strings  // Duration: "30s", "10m", "2h", "7d", "2w"

struct Key {
  const char* name;
  Kind kind;
  std::int64_t min = 0, max = 0;  // integers: the allowed range (max 0: no limit)
};

// Every key gitvault.toml may hold, by table ("storage" is the array of [[storage]] tables).
const std::map<std::string, std::vector<Key>>& schema() {
  static const std::map<std::string, std::vector<Key>> s = {
      {"storage", {{"name", Kind::String}, {"path", Kind::String}, {"host", Kind::String}}},
      {"backup",
       {{"path", Kind::String}, {"host", Kind::String}, {"full_every", Kind::Duration}, {"max_chain", Kind::Integer, 0, 100000},
        {"independent", Kind::Boolean}}},
      {"flags", {{"db", Kind::String}}},
      {"limits",
       {{"parallel", Kind::Integer, 0, 1024},
        {"parallel_storage", Kind::Integer, 0, 1024},
        {"pack_threads", Kind::Integer, 0, 1024},
        {"index_threads", Kind::Integer, 0, 1024}}},
      {"locks", {{"wait", Kind::Duration}}},
      {"worker", {{"path", Kind::String}}},
      {"verify", {{"scratch", Kind::String}}},
      {"prune", {{"keep_last", Kind::Integer, 1, 100000}, {"keep_within", Kind::Duration}}},
      {"retention",
       {{"keep_last", Kind::Integer, -1, 1000000},
        {"keep_hourly", Kind::Integer, -1, 1000000},
        {"keep_daily", Kind::Integer, -1, 1000000},
        {"keep_weekly", Kind::Integer, -1, 1000000},
        {"keep_monthly", Kind::Integer, -1, 1000000},
        {"keep_yearly", Kind::Integer, -1, 1000000},
        {"keep_within", Kind::Duration}}},
      {"metrics", {{"textfile", Kind::String}}},
      {"encryption",
       {{"recipients", Kind::Strings},
        {"recipients_file", Kind::String},
        {"identity_file", Kind::String},
        {"signing_key", Kind::String},
        {"trusted_signers", Kind::Strings},
        {"shadow_dir", Kind::String}}},
      {"s3",
       {{"endpoint", Kind::String},
        {"region", Kind::String},
        {"use_path_style", Kind::Boolean},
        {"part_size", Kind::Integer, 5 << 20, 5LL << 30},
        {"parts_in_flight", Kind::Integer, 1, 64},
        {"request_timeout", Kind::Integer, 1, 86400},
        {"dead_after", Kind::Integer, 1, 86400},
        {"ca_file", Kind::String},
        {"allow_whole_bucket", Kind::Boolean},
        {"allow_insecure_http", Kind::Boolean},
        {"object_lock", Kind::String},
        {"lock_for", Kind::Duration},
        {"access_key_id", Kind::String},
        {"secret_access_key", Kind::String}}},
  };
  return s;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::String: return "a string";
    case Kind::Integer: return "an integer";
    case Kind::Boolean: return "true or false";
    case Kind::Duration: return "a duration such as \"30s\", \"10m\", \"2h\", \"7d\" or \"2w\"";
    case Kind::Strings: return "an array of strings";
  }
  return "?";
}

bool is_duration(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  return i > 0 && i <= 12 && i + 1 == s.size() && std::string("smhdw").find(s[i]) != std::string::npos;
}

int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

void check_table(const toml::table& t, const std::string& table, const std::string& where,
                 std::vector<ConfigProblem>& out) {
  const auto& keys = schema().at(table);
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    auto it = std::find_if(keys.begin(), keys.end(), [&](const Key& x) { return key == x.name; });
    if (it == keys.end()) {
      std::string known;
      for (const auto& x : keys) known += (known.empty() ? "" : ", ") + std::string(x.name);
      out.push_back({line_of(v), "unknown key '" + key + "' in " + where + " (known: " + known + ")"});
      continue;
    }
    const bool ok = it->kind == Kind::String     ? v.is_string()
                    : it->kind == Kind::Integer  ? v.is_integer()
                    : it->kind == Kind::Duration ? v.is_string() && is_duration(*v.value<std::string>())
                    : it->kind == Kind::Strings  ? v.is_array() && v.as_array()->is_homogeneous(toml::node_type::string)
                                                 : v.is_boolean();
    if (!ok) {
      out.push_back({line_of(v), where + " " + key + " must be " + kind_name(it->kind)});
      continue;
    }
    if (it->kind == Kind::Integer && it->max > 0) {
      std::int64_t n = *v.value<std::int64_t>();
      if (n < it->min || n > it->max)
        out.push_back({line_of(v), where + " " + key + " = " + std::to_string(n) + " is out of range (" +
                                       std::to_string(it->min) + " to " + std::to_string(it->max) + ")"});
    }
  }
}

// Every unknown table or key, value of the wrong type or out of range, by line.
std::vector<ConfigProblem> schema_problems(const toml::table& tbl) {
  std::vector<ConfigProblem> out;
  for (const auto& [k, v] : tbl) {
    const std::string key(k.str());
    if (!schema().count(key)) {
      out.push_back({line_of(v), "unknown table or key '" + key + "' (known: [[storage]], [backup], "
                                 "[encryption], [flags], [limits], [locks], [metrics], [prune], [retention], [s3], [verify], [worker])"});
      continue;
    }
    if (key == "storage") {
      const toml::array* arr = v.as_array();
      if (!arr) {
        out.push_back({line_of(v), "storage must be an array of tables ([[storage]])"});
        continue;
      }
      for (const auto& node : *arr) {
        if (const toml::table* t = node.as_table())
          check_table(*t, "storage", "[[storage]]", out);
        else
          out.push_back({line_of(node), "each [[storage]] must be a table"});
      }
    } else if (const toml::table* t = v.as_table()) {
      check_table(*t, key, "[" + key + "]", out);
    } else {
      out.push_back({line_of(v), "'" + key + "' must be a table ([" + key + "])"});
    }
  }
  return out;
}

}  // namespace

namespace {

// A file named in the config, relative to the config file's directory.
std::string config_file_path(const fs::path& base, const std::string& p) { return (base / p).lexically_normal().string(); }

// The [s3] table, checked: Error(Config) naming the file for a bad object lock or a secret
// others can read.
S3Config s3_config_of(const toml::table& s3, const std::string& path, const fs::path& base) {
  auto fail = [&](const std::string& why) { return Error(ErrorCode::Config, "config " + path + ": " + why); };
  S3Config c;
  c.endpoint = s3["endpoint"].value_or(std::string());
  c.region = s3["region"].value_or(std::string());
  if (auto b = s3["use_path_style"].value_exact<bool>()) c.use_path_style = *b;
  if (auto n = s3["part_size"].value_exact<int64_t>()) c.part_size = *n;
  if (auto n = s3["parts_in_flight"].value_exact<int64_t>()) c.parts_in_flight = *n;
  if (auto n = s3["request_timeout"].value_exact<int64_t>()) c.request_timeout = *n;
  if (auto n = s3["dead_after"].value_exact<int64_t>()) c.dead_after = *n;
  if (auto p = s3["ca_file"].value<std::string>()) c.ca_file = config_file_path(base, *p);
  if (auto b = s3["allow_whole_bucket"].value_exact<bool>()) c.allow_whole_bucket = *b;
  if (auto b = s3["allow_insecure_http"].value_exact<bool>()) c.allow_insecure_http = *b;
  c.object_lock = s3["object_lock"].value_or(std::string());
  c.lock_for = s3["lock_for"].value_or(std::string());
  if (!c.object_lock.empty() && c.object_lock != "governance" && c.object_lock != "compliance")
    throw fail("[s3] object_lock must be \"governance\" or \"compliance\"");
  if (c.object_lock.empty() != c.lock_for.empty())
    throw fail("[s3] object_lock and lock_for go together (object_lock = \"governance\", lock_for = \"35d\")");
  c.access_key_id = s3["access_key_id"].value_or(std::string());
  c.secret_access_key = s3["secret_access_key"].value_or(std::string());
  if (!c.secret_access_key.empty()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
      throw fail("[s3] secret_access_key is in a file others can read: chmod 600 " + path);
  }
  return c;
}

}  // namespace

Config load_config(const std::string& path) {
  Config cfg;
  toml::table tbl;
  try {
    tbl = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::string where = e.source().begin ? ":" + std::to_string(e.source().begin.line) : "";
    throw Error(ErrorCode::Config, "config " + path + where + ": " + std::string(e.description()));
  }
  // A key this version does not know is refused, not ignored: a typo would otherwise change
  // nothing without a word, and a table a newer version needs (say [encryption]) would be
  // dropped by an older one that then writes what the table was there to prevent.
  if (auto problems = schema_problems(tbl); !problems.empty()) {
    std::string what;
    for (const auto& p : problems)
      what += (what.empty() ? "" : "; ") + path + (p.line > 0 ? ":" + std::to_string(p.line) : "") + ": " + p.what;
    throw Error(ErrorCode::Config, what + " (the config is refused: gitvault config check --config " + path + ")");
  }
  auto fail = [&](const std::string& why) { return Error(ErrorCode::Config, "config " + path + ": " + why); };
  fs::path base = fs::absolute(path).parent_path();
  auto resolve = [&](const std::string& p) { return normalise_dir((base / p).string()); };
  auto resolve_file = [&](const std::string& p) { return config_file_path(base, p); };
  if (auto* arr = tbl["storage"].as_array()) {
    for (auto& node : *arr) {
      auto* t = node.as_table();
      if (!t) throw fail("[[storage]] must be a table");
      auto name = (*t)["name"].value<std::string>();
      auto dir = (*t)["path"].value<std::string>();
      if (!name || !dir) throw fail("each [[storage]] needs name and path");
      cfg.storages.push_back({*name, resolve(*dir)});
      if (auto host = (*t)["host"].value<std::string>()) {
        if (!valid_host_name(*host))
          throw fail("[[storage]] '" + *name + "': invalid host '" + *host + "' (letters, digits, '.', '_', '-')");
        cfg.storage_hosts[*name] = *host;
      }
    }
    if (!cfg.storage_hosts.empty())
      for (const auto& s : cfg.storages)
        if (!cfg.storage_hosts.count(s.name))
          throw fail("[[storage]] '" + s.name + "' names no host while others do: a backup of several hosts needs "
                     "every storage's host");
  } else if (tbl.contains("storage")) {
    throw fail("storage must be an array of tables ([[storage]])");
  }
  if (auto p = tbl["backup"]["path"].value<std::string>())
    cfg.backup_path = p->find("://") != std::string::npos ? *p : resolve(*p);  // a URL stays as it is
  if (auto f = tbl["backup"]["full_every"].value<std::string>()) cfg.full_every = *f;
  if (auto n = tbl["backup"]["max_chain"].value_exact<int64_t>()) cfg.max_chain = static_cast<int>(*n);
  if (auto b = tbl["backup"]["independent"].value_exact<bool>()) cfg.independent = *b;
  if (auto h = tbl["backup"]["host"].value<std::string>()) {
    if (!valid_host_name(*h)) throw fail("[backup] host: invalid host '" + *h + "'");
    cfg.host = *h;
  }
  if (auto p = tbl["flags"]["db"].value<std::string>()) cfg.flags_db = resolve(*p);
  if (auto p = tbl["metrics"]["textfile"].value<std::string>()) cfg.metrics_textfile = resolve(*p);
  read_encryption(tbl, cfg.seal, resolve_file);
  if (auto n = tbl["limits"]["parallel"].value_exact<int64_t>()) cfg.parallel = static_cast<int>(*n);
  if (auto n = tbl["limits"]["parallel_storage"].value_exact<int64_t>()) cfg.parallel_storage = static_cast<int>(*n);
  if (auto n = tbl["limits"]["pack_threads"].value_exact<int64_t>()) cfg.pack_threads = static_cast<int>(*n);
  if (auto n = tbl["limits"]["index_threads"].value_exact<int64_t>()) cfg.index_threads = static_cast<int>(*n);
  cfg.lock_wait = tbl["locks"]["wait"].value_or(std::string());
  if (auto p = tbl["worker"]["path"].value<std::string>()) cfg.worker = resolve_file(*p);
  if (auto p = tbl["verify"]["scratch"].value<std::string>()) cfg.verify_scratch = resolve(*p);
  read_retention(tbl, cfg);
  if (auto* s3 = tbl["s3"].as_table()) cfg.s3 = s3_config_of(*s3, path, base);
  validate_storages(cfg.storages, false);
  return cfg;
}

std::vector<std::string> expected_hosts(const Config& config) {
  std::set<std::string> hosts;
  for (const auto& [storage, host] : config.storage_hosts) hosts.insert(host);
  return {hosts.begin(), hosts.end()};
}

std::string with_s3_config(const std::string& location, const S3Config& s3) {
  if (location.rfind("s3://", 0) != 0) {
    if (!s3.object_lock.empty())
      throw Error(ErrorCode::Config, "[s3] object_lock is set but the backup path " + location +
                                         " is a directory, which gitvault cannot lock: use an s3:// bucket with "
                                         "Object Lock (docs/object-storage.md, \"Local destinations\")");
    return location;
  }
  std::string out = location;
  auto has = [&](const std::string& key) {
    auto q = out.find('?');
    if (q == std::string::npos) return false;
    std::string query = "&" + out.substr(q + 1);
    return query.find("&" + key + "=") != std::string::npos;
  };
  auto add = [&](const std::string& key, const std::string& value) {
    if (value.empty() || has(key)) return;
    out += (out.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
  };
  add("endpoint", s3.endpoint);
  add("region", s3.region);
  if (s3.use_path_style) add("use_path_style", *s3.use_path_style ? "true" : "false");
  if (s3.part_size) add("part_size", std::to_string(*s3.part_size));
  if (s3.parts_in_flight) add("parts_in_flight", std::to_string(*s3.parts_in_flight));
  if (s3.request_timeout) add("request_timeout", std::to_string(*s3.request_timeout));
  if (s3.dead_after) add("dead_after", std::to_string(*s3.dead_after));
  std::string ca;  // percent-encoded: a path may hold '&' or '='
  for (unsigned char ch : s3.ca_file) {
    static const char* hex = "0123456789ABCDEF";
    if (std::isalnum(ch) || ch == '/' || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      ca += static_cast<char>(ch);
    } else {
      ca += '%';
      ca += hex[ch >> 4];
      ca += hex[ch & 15];
    }
  }
  add("ca_file", ca);
  if (s3.allow_whole_bucket) add("allow_whole_bucket", *s3.allow_whole_bucket ? "true" : "false");
  if (s3.allow_insecure_http) add("allow_insecure_http", *s3.allow_insecure_http ? "true" : "false");
  add("object_lock", s3.object_lock);
  add("lock_for", s3.lock_for);
  return out;
}

std::vector<ConfigProblem> check_config(const std::string& path) {
  std::vector<ConfigProblem> out;
  toml::table tbl;
  try {
    tbl = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    out.push_back({static_cast<int>(e.source().begin.line), std::string(e.description())});
    return out;
  }
  out = schema_problems(tbl);
  if (out.empty()) {
    try {
      load_config(path);
    } catch (const Error& e) {
      out.push_back({0, e.what()});
    }
  }
  return out;
}

}  // namespace gitvault
