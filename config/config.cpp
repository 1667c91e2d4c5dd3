#include "config/config.h"

#include <filesystem>
#include <toml++/toml.h>

#include "base/error.h"

namespace fs = std::filesystem;

namespace gitvault {

Config load_config(const std::string& path) {
  Config cfg;
  toml::table tbl;
  try {
    tbl = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::string where = e.source().begin ? ":" + std::to_string(e.source().begin.line) : "";
    throw Error(ErrorCode::Config, "config " + path + where + ": " + std::string(e.description()));
  }
  auto fail = [&](const std::string& why) { return Error(ErrorCode::Config, "config " + path + ": " + why); };
  fs::path base = fs::absolute(path).parent_path();
  auto resolve = [&](const std::string& p) { return normalise_dir((base / p).string()); };
  if (auto* arr = tbl["storage"].as_array()) {
    for (auto& node : *arr) {
      auto* t = node.as_table();
      if (!t) throw fail("[[storage]] must be a table");
      auto name = (*t)["name"].value<std::string>();
      auto dir = (*t)["path"].value<std::string>();
      if (!name || !dir) throw fail("each [[storage]] needs name and path");
      cfg.storages.push_back({*name, resolve(*dir)});
    }
  } else if (tbl.contains("storage")) {
    throw fail("storage must be an array of tables ([[storage]])");
  }
  if (auto p = tbl["backup"]["path"].value<std::string>()) cfg.backup_path = resolve(*p);
  if (auto p = tbl["flags"]["db"].value<std::string>()) cfg.flags_db = resolve(*p);
  if (auto n = tbl["limits"]["parallel"].value<int64_t>()) cfg.parallel = static_cast<int>(*n);
  if (auto n = tbl["limits"]["parallel_storage"].value<int64_t>()) cfg.parallel_storage = static_cast<int>(*n);
  validate_storages(cfg.storages, false);
  return cfg;
}

}  // namespace gitvault
