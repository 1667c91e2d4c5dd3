#include "git/refs.h"

#include <git2.h>
#include <sys/stat.h>

#include <cerrno>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "git/git2_handles.h"

namespace gitvault {
namespace {

std::string last_git2_error() {
  const git_error* e = git_error_last();
  return e && e->message ? e->message : "unknown libgit2 error";
}

using RepoPtr = git2::Repository;

RepoPtr open_repository(const std::string& path) {
  ensure_libgit2();
  git_repository* repo = nullptr;
  if (git_repository_open_bare(&repo, path.c_str()) != 0)
    throw Error(ErrorCode::Git, "open repository " + path + ": " + last_git2_error());
  return RepoPtr(repo);
}

std::string oid_hex(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

}  // namespace

void ensure_libgit2() {
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
    // Repositories are read as they are on disk: the service user's ~/.gitconfig, XDG and
    // system config play no part (and looking for them costs 9 system calls per open).
    for (int level : {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL, GIT_CONFIG_LEVEL_PROGRAMDATA})
      git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, "");
  });
}

RefSnapshot read_refs(const std::string& repo_path) {
  if (auto snap = read_refs_plain_files(repo_path)) return std::move(*snap);
  return read_refs_libgit2(repo_path);
}

RefSnapshot read_refs_libgit2(const std::string& repo_path) {
  RepoPtr repo = open_repository(repo_path);
  RefSnapshot snap;
  git_reference_iterator* it = nullptr;
  if (git_reference_iterator_new(&it, repo.get()) != 0)
    throw Error(ErrorCode::Git, "list refs of " + repo_path + ": " + last_git2_error());
  git_reference* ref = nullptr;
  int rc;
  while ((rc = git_reference_next(&ref, it)) == 0) {
    std::string name = git_reference_name(ref);
    if (git_reference_type(ref) == GIT_REFERENCE_SYMBOLIC) {
      git_reference* resolved = nullptr;
      if (git_reference_resolve(&resolved, ref) == 0) {
        snap.refs.push_back({oid_hex(git_reference_target(resolved)), name});
        git_reference_free(resolved);
      }  // a dangling symbolic ref has no object to back up, as in `git show-ref`
    } else if (const git_oid* oid = git_reference_target(ref)) {
      snap.refs.push_back({oid_hex(oid), name});
    }
    git_reference_free(ref);
  }
  git_reference_iterator_free(it);
  if (rc != GIT_ITEROVER) throw Error(ErrorCode::Git, "list refs of " + repo_path + ": " + last_git2_error());
  std::sort(snap.refs.begin(), snap.refs.end(), [](const RefEntry& a, const RefEntry& b) { return a.name < b.name; });

  git_reference* head = nullptr;
  if (git_reference_lookup(&head, repo.get(), "HEAD") == 0) {
    if (git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) {
      snap.head_target = git_reference_symbolic_target(head);
      auto found = std::find_if(snap.refs.begin(), snap.refs.end(),
                                [&](const RefEntry& r) { return r.name == snap.head_target; });
      if (found != snap.refs.end()) snap.head_oid = found->oid;
    } else if (const git_oid* oid = git_reference_target(head)) {
      snap.head_oid = oid_hex(oid);
    }
    git_reference_free(head);
  } else {
    throw Error(ErrorCode::Git, "read HEAD of " + repo_path + ": " + last_git2_error());
  }
  return snap;
}

std::string format_refs_file(const RefSnapshot& snapshot) {
  std::string out;
  out.reserve((snapshot.refs.size() + 1) * 64);
  if (!snapshot.head_oid.empty()) out += snapshot.head_oid + " HEAD\n";
  for (const auto& r : snapshot.refs) out += r.oid + " " + r.name + "\n";
  return out;
}

bool is_valid_oid(const std::string& s) {
  if (s.size() != 40) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_valid_refname(const std::string& name) {
  ensure_libgit2();
  int valid = 0;
  return git_reference_name_is_valid(&valid, name.c_str()) == 0 && valid;
}

RefSnapshot parse_refs_file(const std::string& text, const std::string& file_name) {
  RefSnapshot snap;
  std::size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos)
      throw Error(ErrorCode::Corrupt, file_name + ": truncated (last line has no newline)");
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    std::size_t sp = line.find(' ');
    std::string oid = line.substr(0, sp);
    std::string name = sp == std::string::npos ? "" : line.substr(sp + 1);
    bool name_ok = name == "HEAD" || (name.rfind("refs/", 0) == 0 && is_valid_refname(name));
    if (!is_valid_oid(oid) || !name_ok)
      throw Error(ErrorCode::Corrupt, file_name + ":" + std::to_string(line_no) + ": malformed ref line");
    if (name == "HEAD")
      snap.head_oid = oid;
    else
      snap.refs.push_back({oid, name});
  }
  std::sort(snap.refs.begin(), snap.refs.end(), [](const RefEntry& a, const RefEntry& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < snap.refs.size(); ++i)
    if (snap.refs[i].name == snap.refs[i - 1].name)
      throw Error(ErrorCode::Corrupt, file_name + ": ref " + snap.refs[i].name + " listed twice");
  return snap;
}

void write_refs(const std::string& repo_path, const RefSnapshot& snapshot, Durability durability) {
  auto write = [&](const std::string& path, const std::string& data) {
    if (durability == Durability::Fsync)
      write_file_atomic(path, data, 0644);
    else
      write_file(path, data, 0644);
  };
  // packed-refs wants byte order, which std::string comparison is.
  std::string packed = "# pack-refs with: sorted \n";
  for (const auto& r : snapshot.refs) packed += r.oid + " " + r.name + "\n";
  write(repo_path + "/packed-refs", packed);
  std::string head;
  if (!snapshot.head_target.empty())
    head = "ref: " + snapshot.head_target + "\n";
  else if (!snapshot.head_oid.empty())
    head = snapshot.head_oid + "\n";
  else
    head = "ref: refs/heads/main\n";
  write(repo_path + "/HEAD", head);
}

std::string describe_ref_differences(const RefSnapshot& expected, const RefSnapshot& actual, std::size_t limit) {
  std::vector<std::string> diffs;
  auto add = [&](std::string s) {
    if (diffs.size() < limit) diffs.push_back(std::move(s));
  };
  if (expected.head_oid != actual.head_oid)
    add("HEAD is " + (actual.head_oid.empty() ? std::string("unborn") : actual.head_oid) + ", expected " +
        (expected.head_oid.empty() ? std::string("unborn") : expected.head_oid));
  if (!expected.head_target.empty() && expected.head_target != actual.head_target)
    add("HEAD points at " + actual.head_target + ", expected " + expected.head_target);
  std::map<std::string, std::string> want, have;
  for (const auto& r : expected.refs) want[r.name] = r.oid;
  for (const auto& r : actual.refs) have[r.name] = r.oid;
  std::size_t total = 0;
  for (const auto& [name, oid] : want) {
    auto it = have.find(name);
    if (it == have.end()) {
      ++total;
      add(name + " is missing");
    } else if (it->second != oid) {
      ++total;
      add(name + " is " + it->second + ", expected " + oid);
    }
  }
  for (const auto& [name, oid] : have)
    if (!want.count(name)) {
      ++total;
      add(name + " is unexpected");
    }
  std::string out;
  for (const auto& d : diffs) out += (out.empty() ? "" : "; ") + d;
  if (total + (expected.head_oid != actual.head_oid) > diffs.size() && !out.empty()) out += "; ...";
  return out;
}

namespace {

// The value of `section.name` when the file says it the plain way `git config` writes an
// ordinary value — "[section]" then "name = value", once, the value free of quotes,
// backslashes and comment characters — or nullopt for anything else, which libgit2 then
// reads (the caller sends a file with an include there too). (libgit2's config open costs eight system calls and a lock per
// repository: at 20,000 repositories in the hashed layout, whose every config names
// gitlab.fullpath, a visible part of a quiet night.)
std::optional<std::string> plain_config_value(const std::string& text, const std::string& section,
                                              const std::string& name) {
  if (text.find('\\') != std::string::npos) return std::nullopt;
  std::optional<std::string> found;
  bool in_section = false;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t eol = text.find('\n', begin);
    if (eol == std::string::npos) eol = text.size();
    const std::string line = trim_blanks(std::string_view(text).substr(begin, eol - begin));
    begin = eol + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']') return std::nullopt;  // a section header with more on its line
      in_section = ascii_lower(trim_blanks(line.substr(1, line.size() - 2))) == section;
      continue;
    }
    if (!in_section) continue;
    const std::size_t eq = line.find('=');
    if (ascii_lower(trim_blanks(line.substr(0, eq))) != name) continue;
    if (found || eq == std::string::npos) return std::nullopt;  // said twice, or a bare "name" (true)
    std::string value = trim_blanks(line.substr(eq + 1));
    if (value.find_first_of("\";#") != std::string::npos) return std::nullopt;
    found = value;
  }
  return found ? found : std::optional<std::string>("");
}

}  // namespace

std::string read_config_string(const std::string& repo_path, const std::string& key) {
  // The repository's own file only: no repository open, no global or system config (a
  // thousand repositories are discovered in a few milliseconds), and libgit2 (whose
  // start-up costs milliseconds) only for a file that says the key other than plainly.
  std::string file = repo_path + "/config";
  {
    std::string text;
    try {
      text = read_file(file);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::NotFound) return "";
      throw;
    }
    // Most repositories' config does not mention the key at all, nor include another file:
    // one search tells (names are case-insensitive, so the search is too).
    const std::string lower_key = ascii_lower(key), lower_text = ascii_lower(text);
    const std::string name = lower_key.substr(lower_key.rfind('.') + 1);
    const bool includes = lower_text.find("[include") != std::string::npos;
    if (lower_text.find(name) == std::string::npos && !includes) return "";
    if (!includes && lower_key.find('.') == lower_key.rfind('.'))  // "section.name", no subsection
      if (auto value = plain_config_value(text, lower_key.substr(0, lower_key.find('.')), name)) return *value;
  }
  ensure_libgit2();
  git_config* cfg = nullptr;
  if (git_config_open_ondisk(&cfg, file.c_str()) != 0)
    throw Error(ErrorCode::Git, "read config " + file + ": " + last_git2_error());
  const char* value = nullptr;
  std::string out;
  git_config* snapshot = nullptr;
  if (git_config_snapshot(&snapshot, cfg) == 0) {
    if (git_config_get_string(&value, snapshot, key.c_str()) == 0 && value) out = value;
    git_config_free(snapshot);
  }
  git_config_free(cfg);
  return out;
}

void write_config_string(const std::string& repo_path, const std::string& key, const std::string& value) {
  RepoPtr repo = open_repository(repo_path);
  git_config* cfg = nullptr;
  if (git_repository_config(&cfg, repo.get()) != 0 || git_config_set_string(cfg, key.c_str(), value.c_str()) != 0) {
    std::string err = last_git2_error();
    git_config_free(cfg);
    throw Error(ErrorCode::Git, "write config of " + repo_path + ": " + err);
  }
  git_config_free(cfg);
}

std::vector<std::string> missing_objects(const std::string& repo_path, const std::vector<std::string>& oids) {
  RepoPtr repo = open_repository(repo_path);
  git_odb* o = nullptr;
  if (git_repository_odb(&o, repo.get()) != 0)
    throw Error(ErrorCode::Git, "open object database of " + repo_path + ": " + last_git2_error());
  git2::Odb odb(o);
  std::vector<std::string> missing;
  for (const auto& hex : oids) {
    git_oid oid;
    if (git_oid_fromstr(&oid, hex.c_str()) != 0 || !git_odb_exists(odb.get(), &oid)) missing.push_back(hex);
  }
  return missing;
}

void init_bare_repository(const std::string& path) {
  ensure_libgit2();
  git_repository_init_options opts;
  git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);  // (clang: the _INIT macro leaves fields out)
  opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_NO_REINIT | GIT_REPOSITORY_INIT_MKPATH;
  opts.initial_head = "main";
  git_repository* repo = nullptr;
  if (git_repository_init_ext(&repo, path.c_str(), &opts) != 0)
    throw Error(ErrorCode::Git, "create repository " + path + ": " + last_git2_error());
  git_repository_free(repo);
}

std::vector<std::string> ref_tips(const RefSnapshot& snap) {
  std::vector<std::string> tips;
  tips.reserve(snap.refs.size() + 1);
  for (const auto& r : snap.refs) tips.push_back(r.oid);
  if (!snap.head_oid.empty()) tips.push_back(snap.head_oid);
  std::sort(tips.begin(), tips.end());
  tips.erase(std::unique(tips.begin(), tips.end()), tips.end());
  return tips;
}

void init_bare_repository_skeleton(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) throw_errno("create repository", path, errno);
  for (const char* dir : {"/objects", "/objects/info", "/objects/pack", "/refs", "/refs/heads", "/refs/tags"})
    if (::mkdir((path + dir).c_str(), 0755) != 0) throw_errno("create repository directory", path + dir, errno);
  write_file(path + "/HEAD", "ref: refs/heads/main\n", 0644);
  write_file(path + "/config", "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n", 0644);
}

}  // namespace gitvault
