#include "backup/layout.h"

#include <cstdio>

namespace gitvault {

std::string strip_git_suffix(const std::string& p) {
  if (p.size() > 4 && p.compare(p.size() - 4, 4, ".git") == 0) return p.substr(0, p.size() - 4);
  return p;
}

RepositoryFiles legacy_layout_files(const std::string& id, const std::string& storage, const std::string& relative_path) {
  std::string base = id + "/" + storage + "/" + strip_git_suffix(relative_path);
  return {base + ".bundle", base + ".refs", base + "/custom_hooks.tar"};
}

RepositoryFiles manifest_layout_files(const std::string& id, const std::string& storage, const std::string& relative_path,
                                      int step) {
  char number[16];
  std::snprintf(number, sizeof number, "%03d", step);
  std::string base = storage + "/" + relative_path + "/" + id + "/" + number;
  return {base + ".bundle", base + ".refs", base + ".custom_hooks.tar"};
}

std::string manifest_name(const std::string& id, const std::string& storage, const std::string& relative_path) {
  return "manifests/" + storage + "/" + relative_path + "/" + id + ".toml";
}

std::string latest_manifest_name(const std::string& storage, const std::string& relative_path) {
  return "manifests/" + storage + "/" + relative_path + "/+latest.toml";
}

}  // namespace gitvault
