#include "restore/restored_proof.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/error.h"
#include "base/files.h"
#include "base/process.h"
#include "git/hooks_tar.h"
#include "git/refs.h"

namespace gitvault {
namespace {

namespace fs = std::filesystem;

// Every entry under `dir` (relative name -> "d" for a directory, "f<mode><content>" for a
// file, "?" for anything else); empty when `dir` does not exist. Links are not followed.
std::map<std::string, std::string> tree_of(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return out;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::none); it != fs::end(it); ++it) {
    std::string rel = fs::relative(it->path(), dir).string();
    fs::file_status st = it->symlink_status();
    std::string what(1, '?');
    if (fs::is_directory(st)) {
      what[0] = 'd';
    } else if (fs::is_regular_file(st)) {
      std::ifstream in(it->path(), std::ios::binary);
      std::ostringstream content;
      content << in.rdbuf();
      bool exec = (st.permissions() & fs::perms::owner_exec) != fs::perms::none;
      what[0] = 'f';
      what.push_back(exec ? 'x' : '-');
      what += content.str();
    }
    out.emplace(std::move(rel), std::move(what));
  }
  return out;
}

std::string compare_hooks(const RepositoryRecord& r, Sink& sink, const std::string& repo_path) {
  std::map<std::string, std::string> expected;
  if (r.custom_hooks) {
    std::string scratch = repo_path + ".hooks-" + unique_suffix();
    make_dirs(scratch, 0700);
    try {
      extract_hooks_tar(read_verified(sink, *r.custom_hooks), scratch, sink.describe(r.custom_hooks->name));
      expected = tree_of(scratch + "/custom_hooks");
    } catch (...) {
      remove_tree(scratch);
      throw;
    }
    remove_tree(scratch);
  }
  std::map<std::string, std::string> actual = tree_of(repo_path + "/custom_hooks");
  for (const auto& [name, what] : expected) {
    auto it = actual.find(name);
    if (it == actual.end()) return "custom hook " + name + " of the backup is not in the restored repository";
    if (it->second != what) return "custom hook " + name + " differs from the backup's";
  }
  for (const auto& [name, what] : actual)
    if (!expected.count(name)) return "custom hook " + name + " is restored but not in the backup";
  return "";
}

}  // namespace

std::vector<std::string> prove_restored(const RepositoryRecord& r, Sink& sink, const std::string& repo_path) {
  std::vector<std::string> found;
  RefSnapshot actual;
  try {
    actual = read_refs(repo_path);
  } catch (const Error& e) {
    return {std::string("refs unreadable: ") + e.what()};
  }
  if (r.refs) {
    std::string text = r.refs->has_checksum ? read_verified(sink, *r.refs) : read_whole(sink, r.refs->name);
    RefSnapshot expected = parse_refs_file(text, sink.describe(r.refs->name));
    expected.head_target = actual.head_target;  // not part of the file: compared below
    if (std::string d = describe_ref_differences(expected, actual); !d.empty())
      found.push_back("refs differ from " + sink.describe(r.refs->name) + ": " + d);
  }
  if (!r.head_target.empty() && actual.head_target != r.head_target)
    found.push_back("HEAD points at " + (actual.head_target.empty() ? std::string("a detached commit") : actual.head_target) +
                    ", the record says " + r.head_target);
  if (!r.head_oid.empty() && actual.head_oid != r.head_oid)
    found.push_back("HEAD is " + (actual.head_oid.empty() ? std::string("unborn") : actual.head_oid) +
                    ", the record says " + r.head_oid);
  if (std::string h = compare_hooks(r, sink, repo_path); !h.empty()) found.push_back(h);
  ProcessResult fsck = run_process(git_command(repo_path, {"fsck", "--connectivity-only", "--no-progress"}));
  if (!fsck.ok()) found.push_back("git fsck --connectivity-only failed: " + fsck.describe());
  return found;
}

}  // namespace gitvault
