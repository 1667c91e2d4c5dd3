// Where a repository's files go in the backup directory.
//
// Legacy layout (the legacy engine), self-contained per backup id:
//   <id>/<storage>/<relative path without .git>.bundle
//   <id>/<storage>/<relative path without .git>.refs
//   <id>/<storage>/<relative path without .git>/custom_hooks.tar
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "git/pack_files.h"

namespace gitvault {

// Which of the two layouts below a repository's files are in (its record says).
enum class Layout { Legacy, Manifest };
const char* to_string(Layout l);  // "legacy", "manifest": the record's words

struct RepositoryFiles {
  std::string bundle;
  std::string refs;
  std::string custom_hooks;
  // The companions of a bundle that carries the repository's pack as it is (record.h,
  // PackCompanions): NNN.idx, NNN.rev, NNN.bitmap beside NNN.bundle.
  std::string pack_index;
  std::string pack_reverse_index;
  std::string pack_bitmap;
  const std::string& companion(PackCompanion c) const {
    return c == PackCompanion::Index ? pack_index : c == PackCompanion::ReverseIndex ? pack_reverse_index : pack_bitmap;
  }
};

// Manifest layout (the pipeline), gitaly's:
//   <storage>/<relative path>/<id>/001.bundle, 001.refs, 001.custom_hooks.tar
//   manifests/<storage>/<relative path>/<id>.toml and +latest.toml (a copy of the newest)
// Step N of a chain (incremental backups) is NNN: 001 full, 002 the first increment, ...
RepositoryFiles manifest_layout_files(const std::string& id, const std::string& storage, const std::string& relative_path,
                                      int step = 1);
std::string manifest_name(const std::string& id, const std::string& storage, const std::string& relative_path);
std::string latest_manifest_name(const std::string& storage, const std::string& relative_path);
// The (storage, relative path) of a latest_manifest_name(); nullopt for any other name.
std::optional<std::pair<std::string, std::string>> repository_of_latest_manifest_name(const std::string& name);
// gitvault's own files of the backup directory (records, plans, the lock): "+gitvault/...".
bool is_gitvault_own_file(const std::string& name);
// The (storage, relative path) of a manifest_name(); nullopt for any other name.
std::optional<std::pair<std::string, std::string>> repository_of_manifest_name(const std::string& name);

RepositoryFiles legacy_layout_files(const std::string& id, const std::string& storage, const std::string& relative_path);

// The name of the directory that holds `name`: "s/p.git/<id>/001.refs" -> "<id>"; "" at the top.
std::string parent_directory_name(const std::string& name);

// "group/project.git" -> "group/project"
std::string strip_git_suffix(const std::string& relative_path);

}  // namespace gitvault
