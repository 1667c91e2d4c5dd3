// Owning pointers for libgit2 objects, for the files of gitaly/ that use libgit2 directly.
#pragma once

#include <git2.h>

#include <memory>

namespace gitvault::git2 {

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Ptr = std::unique_ptr<T, Freer<T, Free>>;

using Repository = Ptr<git_repository, git_repository_free>;
using Odb = Ptr<git_odb, git_odb_free>;
using Revwalk = Ptr<git_revwalk, git_revwalk_free>;
using Packbuilder = Ptr<git_packbuilder, git_packbuilder_free>;
using Object = Ptr<git_object, git_object_free>;
using Commit = Ptr<git_commit, git_commit_free>;
using Tree = Ptr<git_tree, git_tree_free>;
using Diff = Ptr<git_diff, git_diff_free>;

}  // namespace gitvault::git2
