// Where a repository's files go in the backup directory.
//
// Legacy layout (the legacy engine), self-contained per backup id:
//   <id>/<storage>/<relative path without .git>.bundle
//   <id>/<storage>/<relative path without .git>.refs
//   <id>/<storage>/<relative path without .git>/custom_hooks.tar
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>
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

// Whether `name` is one gitvault's layouts can produce in a backup directory whose records
// name these storages and ids: gitvault's own files, a manifest of a known storage, or a
// repository's file of either layout (<id>/<storage>/… or <storage>/…/<id>/NNN.…) with an
// ending gitvault writes. Prune and the cleanup after a dead writer touch nothing else: a
// bucket shared with other tools keeps their objects.
// The backup ids a file of either layout may be named under: the first component
// (<id>/<storage>/…), the parent directory (<storage>/…/<id>/NNN.…) and a manifest's stem
// (manifests/…/<id>.toml). Prune keeps what a kept backup's name is among, unread.
std::vector<std::string> backup_ids_in_name(const std::string& name);
bool could_be_gitvaults(const std::string& name, const std::set<std::string>& storages,
                        const std::set<std::string>& ids);
// The endings gitvault's files have (.bundle, .refs, custom_hooks.tar, .idx, .rev, .bitmap,
// .toml, .json): for what is judged without records (unfinished uploads).
bool has_gitvault_file_ending(const std::string& name);

RepositoryFiles legacy_layout_files(const std::string& id, const std::string& storage, const std::string& relative_path);

// The name of the directory that holds `name`: "s/p.git/<id>/001.refs" -> "<id>"; "" at the top.
std::string parent_directory_name(const std::string& name);

// "group/project.git" -> "group/project"
std::string strip_git_suffix(const std::string& relative_path);

}  // namespace gitvault
