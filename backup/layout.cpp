#include "backup/layout.h"

#include "base/error.h"

#include <cstdio>

namespace gitvault {

const char* to_string(Layout l) { return l == Layout::Manifest ? "manifest" : "legacy"; }

std::string strip_git_suffix(const std::string& p) {
  if (p.size() > 4 && p.compare(p.size() - 4, 4, ".git") == 0) return p.substr(0, p.size() - 4);
  return p;
}

RepositoryFiles legacy_layout_files(const std::string& id, const std::string& storage, const std::string& relative_path) {
  std::string base = id + "/" + storage + "/" + strip_git_suffix(relative_path);
  return {base + ".bundle", base + ".refs", base + "/custom_hooks.tar", base + ".idx", base + ".rev", base + ".bitmap"};
}

RepositoryFiles manifest_layout_files(const std::string& id, const std::string& storage, const std::string& relative_path,
                                      int step) {
  char number[16];
  std::snprintf(number, sizeof number, "%03d", step);
  std::string base = storage + "/" + relative_path + "/" + id + "/" + number;
  return {base + ".bundle", base + ".refs", base + ".custom_hooks.tar", base + ".idx", base + ".rev", base + ".bitmap"};
}

std::string manifest_name(const std::string& id, const std::string& storage, const std::string& relative_path) {
  return "manifests/" + storage + "/" + relative_path + "/" + id + ".toml";
}

std::optional<std::pair<std::string, std::string>> repository_of_manifest_name(const std::string& name) {
  const std::string top = "manifests/";
  if (name.rfind(top, 0) != 0) return std::nullopt;
  std::string rest = name.substr(top.size());  // <storage>/<relative path>/<id>.toml
  std::size_t first = rest.find('/'), last = rest.rfind('/');
  if (first == std::string::npos || last == first) return std::nullopt;
  return std::make_pair(rest.substr(0, first), rest.substr(first + 1, last - first - 1));
}

std::optional<std::pair<std::string, std::string>> repository_of_latest_manifest_name(const std::string& name) {
  static const std::string kLatest = "/+latest.toml";
  if (name.size() <= kLatest.size() || name.compare(name.size() - kLatest.size(), kLatest.size(), kLatest) != 0)
    return std::nullopt;
  return repository_of_manifest_name(name.substr(0, name.size() - kLatest.size()) + "/x.toml");
}

std::string parent_directory_name(const std::string& name) {
  const std::size_t last = name.rfind('/');
  if (last == std::string::npos || last == 0) return "";
  const std::size_t before = name.rfind('/', last - 1);
  const std::size_t start = before == std::string::npos ? 0 : before + 1;
  return name.substr(start, last - start);
}

bool is_gitvault_own_file(const std::string& name) { return name.rfind("+gitvault/", 0) == 0; }

std::string latest_manifest_name(const std::string& storage, const std::string& relative_path) {
  return "manifests/" + storage + "/" + relative_path + "/+latest.toml";
}

bool has_gitvault_file_ending(const std::string& name) {
  for (const char* ending : {".bundle", ".refs", "custom_hooks.tar", ".idx", ".rev", ".bitmap", ".toml", ".json"})
    if (name.ends_with(ending)) return true;
  return false;
}

std::vector<std::string> backup_ids_in_name(const std::string& name) {
  std::vector<std::string> out = {name.substr(0, name.find('/')), parent_directory_name(name)};
  if (name.rfind("manifests/", 0) == 0 && name.ends_with(".toml")) {
    const std::string file = name.substr(name.rfind('/') + 1);
    out.push_back(file.substr(0, file.size() - 5));
  }
  return out;
}

bool could_be_gitvaults(const std::string& name, const std::set<std::string>& storages,
                        const std::set<std::string>& ids) {
  if (is_gitvault_own_file(name)) return true;
  if (!has_gitvault_file_ending(name)) return false;
  const std::string first = name.substr(0, name.find('/'));
  if (first == "manifests") {
    const std::string rest = name.substr(first.size() + 1);
    return name.ends_with(".toml") && storages.count(rest.substr(0, rest.find('/'))) > 0;
  }
  if (ids.count(first) > 0 || storages.count(first) > 0) return true;
  // The legacy layout of a run killed before its record was written: <id>/<storage>/….
  const std::size_t slash = name.find('/');
  if (slash == std::string::npos) return false;
  const std::string second = name.substr(slash + 1, name.find('/', slash + 1) - slash - 1);
  return storages.count(second) > 0;
}

}  // namespace gitvault
