// Where a repository's files go in the backup directory.
//
// Legacy layout (the legacy engine), self-contained per backup id:
//   <id>/<storage>/<relative path without .git>.bundle
//   <id>/<storage>/<relative path without .git>.refs
//   <id>/<storage>/<relative path without .git>/custom_hooks.tar
#pragma once

#include <string>

namespace gitvault {

struct RepositoryFiles {
  std::string bundle;
  std::string refs;
  std::string custom_hooks;
};

RepositoryFiles legacy_layout_files(const std::string& id, const std::string& storage, const std::string& relative_path);

// "group/project.git" -> "group/project"
std::string strip_git_suffix(const std::string& relative_path);

}  // namespace gitvault
