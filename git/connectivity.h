// Connectivity in process: is every object reachable from some tips present? The check a
// restore that installs a pack as it is (without `git index-pack`) makes instead of
// `git fsck --connectivity-only`, without a process per repository.
#pragma once

#include <string>
#include <vector>

namespace gitvault {

// Walks everything reachable from `tips` (hex object ids: commits, tags, trees or blobs):
// every commit's parents and tree, every tree's entries (submodule commits excepted), every
// tag's target, each object once. Commits, trees and tags are read (inflated and parsed);
// blobs are only looked up. Returns "" when every object is there, else what is missing,
// e.g. "tree 1a2b... (named by 3c4d...) is missing or unreadable".
// `complete_objects`, when given, is an objects directory known to be closed (every object in
// it comes with everything it reaches, as a pool restored and proven by the same run): the
// walk does not descend into objects found there.
std::string first_missing_reachable(const std::string& repo_path, const std::vector<std::string>& tips,
                                    const std::string& complete_objects = "");

}  // namespace gitvault
