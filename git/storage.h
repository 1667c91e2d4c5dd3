// Storages (a name and a directory of bare repositories), safe repository paths inside
// them, repository discovery and path filters.
#pragma once

#include <string>
#include <vector>

namespace gitvault {

struct Storage {
  std::string name;
  std::string path;  // absolute, no trailing slash
};

// A directory as storages and config spell it: absolute, normalised, no trailing slash.
std::string normalise_dir(const std::string& path);

// Parses "NAME=DIR". Throws Error(Usage) for a malformed spec.
Storage parse_storage_spec(const std::string& spec);

// Checks a storage list: unique names, valid names, existing directories.
// Throws Error(Config) naming the offending storage.
void validate_storages(const std::vector<Storage>& storages, bool must_exist);

const Storage* find_storage(const std::vector<Storage>& storages, const std::string& name);

// Validates a repository's relative path and returns its absolute path inside the storage.
// Any bytes but NUL are accepted in a component (names need not be UTF-8 and may hold
// control characters: base/encoding.h). Refused (Error PathEscape): empty, absolute, "."
// or ".." components, NUL bytes,
// gitvault's and gitaly's reserved top-level directories, and any existing component that is
// a symbolic link (so nothing can lead outside the storage).
std::string resolve_repository_path(const Storage& storage, const std::string& relative_path);

struct Repository {
  std::string storage;        // storage name
  std::string relative_path;  // e.g. "@hashed/ab/cd/abcd….git" or "group/project.git"
  std::string project_path;   // gitlab.fullpath, "" when unknown
  std::string path;           // absolute path on disk
  // The repository of the same storage whose objects this one borrows (its object pool, as
  // GitLab links a fork network's members: objects/info/alternates), "" when none.
  std::string pool;
};

// True when dir looks like a bare repository: HEAD, objects/ and refs/ present.
bool is_bare_repository(const std::string& dir);

// The relative path of the repository whose objects `repo_path` borrows: its
// objects/info/alternates names exactly one directory (relative to its objects directory, as
// GitLab writes it, or absolute), and that is <storage>/<path>/objects of a bare repository of
// the same storage, reached without a symbolic link. "" otherwise: no alternates, several, or
// one outside the storage (such a repository is backed up self-contained).
std::string borrowed_objects_repository(const Storage& storage, const std::string& repo_path);

// Every bare repository under the storage, at any depth, sorted by relative path. Symbolic
// links are never followed; directories that are not repositories are searched, not
// reported. Reserved directories (+gitaly, +gitvault) are skipped.
std::vector<Repository> discover_repositories(const Storage& storage, std::vector<std::string>* warnings = nullptr);

// Selection by --repositories-paths / --skip-repositories-paths. An entry matches a
// repository when it equals, or is a directory prefix of, its relative path or its
// project path (".git" optional): "group" selects "group/a.git" and "group/sub/b.git".
class PathFilter {
 public:
  PathFilter() = default;
  PathFilter(std::vector<std::string> include, std::vector<std::string> exclude);
  bool selects(const std::string& relative_path, const std::string& project_path) const;
  bool empty() const { return include_.empty() && exclude_.empty(); }

 private:
  std::vector<std::string> include_, exclude_;
};

std::vector<std::string> split_list(const std::string& comma_list);

}  // namespace gitvault
