#include "git/storage.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "git/refs.h"

namespace fs = std::filesystem;

namespace gitvault {
namespace {

bool valid_storage_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  }) && n != "." && n != "..";
}

bool is_reserved_top(const std::string& name) { return name == "+gitaly" || name == "+gitvault"; }

void walk(const std::string& storage_root, const std::string& dir, const std::string& rel, const Storage& storage,
          std::vector<Repository>& out, std::vector<std::string>* warnings) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (warnings) warnings->push_back("cannot read directory " + dir + ": " + std::strerror(errno));
    return;
  }
  std::vector<std::pair<std::string, bool>> names;  // name, type known to be a directory
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (rel.empty() && is_reserved_top(name)) continue;
    // The entry type from readdir spares an lstat per entry; DT_UNKNOWN falls back to it.
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;  // files and symlinks
    names.emplace_back(name, e->d_type == DT_DIR);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& [name, known_dir] : names) {
    std::string child = dir + "/" + name;
    struct stat st;
    if (!known_dir && (::lstat(child.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) continue;  // files and symlinks
    std::string child_rel = rel.empty() ? name : rel + "/" + name;
    if (is_bare_repository(child)) {
      Repository repo{storage.name, child_rel, "", child, borrowed_objects_repository(storage, child)};
      try {
        repo.project_path = read_config_string(child, "gitlab.fullpath");
      } catch (const Error&) {
        // unreadable config: the backup of this repository will report the problem
      }
      out.push_back(std::move(repo));
    } else {
      walk(storage_root, child, child_rel, storage, out, warnings);
    }
  }
}

bool prefix_matches(const std::string& entry, const std::string& path) {
  if (path.empty() || entry.empty()) return false;
  auto strip = [](std::string s) {
    while (!s.empty() && s.back() == '/') s.pop_back();
    if (s.size() > 4 && s.compare(s.size() - 4, 4, ".git") == 0) s.resize(s.size() - 4);
    return s;
  };
  std::string e = strip(entry), p = strip(path);
  return p == e || (p.size() > e.size() && p.compare(0, e.size(), e) == 0 && p[e.size()] == '/');
}

}  // namespace

std::string borrowed_objects_repository(const Storage& storage, const std::string& repo_path) {
  const std::string alternates = repo_path + "/objects/info/alternates";
  std::string text;
  try {
    if (!path_exists(alternates)) return "";
    text = read_file(alternates);
  } catch (const Error&) {
    return "";
  }
  std::vector<std::string> dirs;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    dirs.push_back(line);
  }
  if (dirs.size() != 1) return "";
  fs::path dir(dirs[0]);
  if (dir.is_relative()) dir = fs::path(repo_path) / "objects" / dir;
  dir = dir.lexically_normal();
  if (dir.filename() != "objects") return "";
  const std::string pool = dir.parent_path().string();
  const std::string root = storage.path + "/";
  if (pool.size() <= root.size() || pool.compare(0, root.size(), root) != 0) return "";
  const std::string rel = pool.substr(root.size());
  try {
    if (resolve_repository_path(storage, rel) != pool || !is_bare_repository(pool)) return "";
  } catch (const Error&) {
    return "";
  }
  if (pool == repo_path) return "";
  return rel;
}

std::string normalise_dir(const std::string& p) {
  std::string abs = fs::absolute(fs::path(p)).lexically_normal().string();
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  return abs;
}

Storage parse_storage_spec(const std::string& spec) {
  auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw Error(ErrorCode::Usage, "storage must be NAME=DIR, got '" + spec + "'");
  Storage s{spec.substr(0, eq), normalise_dir(spec.substr(eq + 1))};
  if (!valid_storage_name(s.name)) throw Error(ErrorCode::Usage, "invalid storage name '" + s.name + "'");
  return s;
}

void validate_storages(const std::vector<Storage>& storages, bool must_exist) {
  for (std::size_t i = 0; i < storages.size(); ++i) {
    const Storage& s = storages[i];
    if (!valid_storage_name(s.name)) throw Error(ErrorCode::Config, "invalid storage name '" + s.name + "'");
    for (std::size_t j = 0; j < i; ++j)
      if (storages[j].name == s.name) throw Error(ErrorCode::Config, "storage '" + s.name + "' is defined twice");
    if (must_exist && !fs::is_directory(s.path))
      throw Error(ErrorCode::Config, "storage '" + s.name + "': " + s.path + " is not a directory");
  }
}

const Storage* find_storage(const std::vector<Storage>& storages, const std::string& name) {
  for (const auto& s : storages)
    if (s.name == name) return &s;
  return nullptr;
}

std::string resolve_repository_path(const Storage& storage, const std::string& relative_path) {
  auto refuse = [&](const std::string& why) {
    return Error(ErrorCode::PathEscape,
                 "repository path '" + printable(relative_path) + "' in storage '" + storage.name + "' refused: " + why);
  };
  if (relative_path.empty()) throw refuse("empty");
  if (relative_path[0] == '/') throw refuse("absolute path");
  if (relative_path.find('\0') != std::string::npos) throw refuse("NUL byte");
  std::string current = storage.path;
  std::size_t start = 0;
  bool first = true;
  while (start <= relative_path.size()) {
    std::size_t slash = relative_path.find('/', start);
    std::string part = relative_path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty()) throw refuse("empty path component");
    if (part == "." || part == "..") throw refuse("'" + part + "' component");
    if (first && is_reserved_top(part)) throw refuse("reserved directory " + part);
    first = false;
    current += "/" + part;
    struct stat st;
    if (::lstat(current.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) throw refuse(current + " is a symbolic link");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return current;
}

bool is_bare_repository(const std::string& dir) {
  struct stat st;
  return ::stat((dir + "/HEAD").c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         ::stat((dir + "/objects").c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
         ::stat((dir + "/refs").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<Repository> discover_repositories(const Storage& storage, std::vector<std::string>* warnings) {
  std::vector<Repository> out;
  walk(storage.path, storage.path, "", storage, out, warnings);
  return out;
}

PathFilter::PathFilter(std::vector<std::string> include, std::vector<std::string> exclude)
    : include_(std::move(include)), exclude_(std::move(exclude)) {}

bool PathFilter::selects(const std::string& relative_path, const std::string& project_path) const {
  auto any = [&](const std::vector<std::string>& list) {
    return std::any_of(list.begin(), list.end(), [&](const std::string& e) {
      return prefix_matches(e, relative_path) || prefix_matches(e, project_path);
    });
  };
  if (!include_.empty() && !any(include_)) return false;
  return !any(exclude_);
}

std::vector<std::string> split_list(const std::string& comma_list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= comma_list.size()) {
    std::size_t comma = comma_list.find(',', start);
    std::string item = comma_list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace gitvault
