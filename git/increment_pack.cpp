#include "git/increment_pack.h"

#include <set>

#include "git/git2_handles.h"
#include "git/refs.h"

namespace gitvault {
namespace {

using git2::Commit;
using git2::Diff;
using git2::Object;
using git2::Tree;

bool parse_oid(const std::string& hex, git_oid& out) { return git_oid_fromstr(&out, hex.c_str()) == 0; }

// What the walk starts from and stops at, resolved once for both passes.
struct WalkEnds {
  std::vector<git_oid> push;  // the new tips, all commits
  std::vector<git_oid> hide;  // the prerequisites' commits
};

// The new tips (false when one is not a commit: a new tag, tree or blob is git's job) and
// the prerequisites peeled to their commits (one that is not a commit-ish is simply not
// hidden, which can only add objects).
bool resolve_ends(git_repository* repo, git_odb* odb, const std::vector<std::string>& new_tips,
                  const std::vector<std::string>& prerequisites, WalkEnds& out) {
  for (const auto& t : new_tips) {
    git_oid oid;
    size_t size;
    git_object_t type;
    if (!parse_oid(t, oid) || git_odb_read_header(&size, &type, odb, &oid) != 0 || type != GIT_OBJECT_COMMIT)
      return false;
    out.push.push_back(oid);
  }
  for (const auto& p : prerequisites) {
    git_oid oid;
    git_object* obj = nullptr;
    if (!parse_oid(p, oid) || git_object_lookup(&obj, repo, &oid, GIT_OBJECT_ANY) != 0) return false;
    Object object(obj);
    git_object* peeled = nullptr;
    if (git_object_peel(&peeled, object.get(), GIT_OBJECT_COMMIT) != 0) continue;
    Object commit(peeled);
    out.hide.push_back(*git_object_id(commit.get()));
  }
  return true;
}

bool start_walk(git_revwalk* walk, const WalkEnds& ends) {
  for (const auto& oid : ends.push)
    if (git_revwalk_push(walk, &oid) != 0) return false;
  for (const auto& oid : ends.hide)
    if (git_revwalk_hide(walk, &oid) != 0) return false;
  return true;
}

// The blobs and trees a commit adds over its first parent (all of its tree for a root
// commit), summed by size: a bound on what the pack must hold for it.
bool added_bytes(git_repository* repo, git_odb* odb, const git_oid& id, std::uint64_t& total) {
  git_commit* c = nullptr;
  if (git_commit_lookup(&c, repo, &id) != 0) return false;
  Commit commit(c);
  git_tree* t = nullptr;
  if (git_commit_tree(&t, commit.get()) != 0) return false;
  Tree tree(t);
  Tree parent_tree;
  if (git_commit_parentcount(commit.get()) > 0) {
    git_commit* p = nullptr;
    if (git_commit_parent(&p, commit.get(), 0) != 0) return false;
    Commit parent(p);
    git_tree* pt = nullptr;
    if (git_commit_tree(&pt, parent.get()) != 0) return false;
    parent_tree.reset(pt);
  }
  git_diff_options opts;
  git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);  // (clang: the _INIT macro leaves fields out)
  opts.flags |= GIT_DIFF_SKIP_BINARY_CHECK;
  git_diff* d = nullptr;
  if (git_diff_tree_to_tree(&d, repo, parent_tree.get(), tree.get(), &opts) != 0) return false;
  Diff diff(d);
  for (size_t i = 0; i < git_diff_num_deltas(diff.get()); ++i) {
    const git_diff_delta* delta = git_diff_get_delta(diff.get(), i);
    if (delta->status == GIT_DELTA_DELETED || git_oid_is_zero(&delta->new_file.id)) continue;
    if (delta->new_file.mode == GIT_FILEMODE_COMMIT) continue;  // a submodule: no object here
    size_t size;
    git_object_t type;
    if (git_odb_read_header(&size, &type, odb, &delta->new_file.id) != 0) return false;
    total += size;
  }
  return true;
}

}  // namespace

std::optional<std::string> small_increment_pack(const std::string& repo_path, const std::vector<std::string>& tips,
                                                const std::vector<std::string>& prerequisites,
                                                const IncrementPackLimits& limits) {
  ensure_libgit2();
  std::set<std::string> known(prerequisites.begin(), prerequisites.end());
  std::vector<std::string> new_tips;
  for (const auto& t : tips)
    if (!known.count(t)) new_tips.push_back(t);
  if (new_tips.empty()) return std::nullopt;

  git_repository* r = nullptr;
  if (git_repository_open_bare(&r, repo_path.c_str()) != 0) return std::nullopt;
  git2::Repository repo(r);
  git_odb* o = nullptr;
  if (git_repository_odb(&o, repo.get()) != 0) return std::nullopt;
  git2::Odb odb(o);
  WalkEnds ends;
  if (!resolve_ends(repo.get(), odb.get(), new_tips, prerequisites, ends)) return std::nullopt;

  // First pass: count the new commits and bound the bytes they add.
  git_revwalk* w = nullptr;
  if (git_revwalk_new(&w, repo.get()) != 0) return std::nullopt;
  git2::Revwalk walk(w);
  if (!start_walk(walk.get(), ends)) return std::nullopt;
  std::size_t commits = 0;
  std::uint64_t bytes = 0;
  git_oid id;
  int rc;
  while ((rc = git_revwalk_next(&id, walk.get())) == 0) {
    if (++commits > limits.max_commits) return std::nullopt;
    if (!added_bytes(repo.get(), odb.get(), id, bytes) || bytes > limits.max_bytes) return std::nullopt;
  }
  if (rc != GIT_ITEROVER || commits == 0) return std::nullopt;

  // Second pass: the pack builder takes the same walk.
  git_revwalk_reset(walk.get());
  if (!start_walk(walk.get(), ends)) return std::nullopt;
  git_packbuilder* b = nullptr;
  if (git_packbuilder_new(&b, repo.get()) != 0) return std::nullopt;
  git2::Packbuilder pack(b);
  git_packbuilder_set_threads(pack.get(), 1);
  if (git_packbuilder_insert_walk(pack.get(), walk.get()) != 0) return std::nullopt;
  if (git_packbuilder_object_count(pack.get()) > limits.max_objects) return std::nullopt;
  git_buf buf = GIT_BUF_INIT;
  if (git_packbuilder_write_buf(&buf, pack.get()) != 0) {
    git_buf_dispose(&buf);
    return std::nullopt;
  }
  std::string out(buf.ptr, buf.size);
  git_buf_dispose(&buf);
  return out;
}

}  // namespace gitvault
