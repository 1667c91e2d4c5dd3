#include "git/connectivity.h"

#include <git2.h>

#include <cstring>
#include <unordered_set>

#include "base/error.h"
#include "git/git2_handles.h"
#include "git/refs.h"

namespace gitvault {
namespace {

struct OidHash {
  std::size_t operator()(const git_oid& o) const {
    std::size_t h;
    static_assert(sizeof h <= GIT_OID_RAWSZ);
    std::memcpy(&h, o.id, sizeof h);
    return h;
  }
};
struct OidEq {
  bool operator()(const git_oid& a, const git_oid& b) const { return git_oid_equal(&a, &b) != 0; }
};

std::string hex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

struct Pending {
  git_oid oid;
  git_object_t type;  // GIT_OBJECT_ANY when only the object itself says
  git_oid from;       // the object that names it (for the message); zero for a tip
};

}  // namespace

std::string first_missing_reachable(const std::string& repo_path, const std::vector<std::string>& tips,
                                    const std::string& complete_objects) {
  ensure_libgit2();
  git_repository* r = nullptr;
  if (git_repository_open_bare(&r, repo_path.c_str()) != 0) {
    const git_error* e = git_error_last();
    throw Error(ErrorCode::Git, "open repository " + repo_path + ": " + (e && e->message ? e->message : "libgit2 error"));
  }
  git2::Repository repo(r);
  git_odb* o = nullptr;
  if (git_repository_odb(&o, repo.get()) != 0)
    throw Error(ErrorCode::Git, "open object database of " + repo_path);
  git2::Odb odb(o);
  git_odb* known = nullptr;
  if (!complete_objects.empty() && git_odb_open(&known, complete_objects.c_str()) != 0)
    throw Error(ErrorCode::Git, "open object database " + complete_objects);
  git2::Odb complete(known);

  std::unordered_set<git_oid, OidHash, OidEq> seen;
  std::vector<Pending> todo;
  const git_oid zero{};
  for (const auto& t : tips) {
    Pending p{{}, GIT_OBJECT_ANY, zero};
    if (git_oid_fromstr(&p.oid, t.c_str()) != 0) return "tip " + t + " is not an object id";
    todo.push_back(p);
  }
  auto missing = [](const char* what, const Pending& p) {
    std::string s = std::string(what) + " " + hex(p.oid);
    if (!git_oid_is_zero(&p.from)) s += " (named by " + hex(p.from) + ")";
    return s + " is missing or unreadable";
  };
  while (!todo.empty()) {
    Pending p = todo.back();
    todo.pop_back();
    // Blobs are not remembered (a big repository has millions): each distinct tree's are
    // looked up once, since trees are remembered.
    if (p.type != GIT_OBJECT_BLOB && !seen.insert(p.oid).second) continue;
    if (complete && git_odb_exists(complete.get(), &p.oid)) continue;
    git_object_t type = p.type;
    if (type == GIT_OBJECT_ANY || type == GIT_OBJECT_TAG) {
      std::size_t len = 0;
      if (git_odb_read_header(&len, &type, odb.get(), &p.oid) != 0) return missing("object", p);
    }
    switch (type) {
      case GIT_OBJECT_BLOB:
        if (!git_odb_exists(odb.get(), &p.oid)) return missing("blob", p);
        break;
      case GIT_OBJECT_COMMIT: {
        git_commit* c = nullptr;
        if (git_commit_lookup(&c, repo.get(), &p.oid) != 0) return missing("commit", p);
        git2::Commit commit(c);
        todo.push_back({*git_commit_tree_id(c), GIT_OBJECT_TREE, p.oid});
        for (unsigned i = 0; i < git_commit_parentcount(c); ++i)
          todo.push_back({*git_commit_parent_id(c, i), GIT_OBJECT_COMMIT, p.oid});
        break;
      }
      case GIT_OBJECT_TREE: {
        git_tree* t = nullptr;
        if (git_tree_lookup(&t, repo.get(), &p.oid) != 0) return missing("tree", p);
        git2::Tree tree(t);
        for (std::size_t i = 0, n = git_tree_entrycount(t); i < n; ++i) {
          const git_tree_entry* e = git_tree_entry_byindex(t, i);
          git_object_t et = git_tree_entry_type(e);
          if (et == GIT_OBJECT_TREE || et == GIT_OBJECT_BLOB) todo.push_back({*git_tree_entry_id(e), et, p.oid});
        }
        break;
      }
      case GIT_OBJECT_TAG: {
        git_tag* g = nullptr;
        if (git_tag_lookup(&g, repo.get(), &p.oid) != 0) return missing("tag", p);
        todo.push_back({*git_tag_target_id(g), GIT_OBJECT_ANY, p.oid});
        git_tag_free(g);
        break;
      }
      default:
        return "object " + hex(p.oid) + " has an unexpected type";
    }
  }
  return "";
}

}  // namespace gitvault
