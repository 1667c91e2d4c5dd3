// The pack of a small nightly increment, made in process with libgit2's pack builder.
//
// A night's increment is usually a handful of commits: spawning `git pack-objects` for it
// costs several milliseconds of process start-up, libgit2 builds the same objects' pack in
// well under one. libgit2's builder recomputes every delta and holds the pack in memory, so
// it is only used below limits; anything larger, or anything unusual, is left to git.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gitvault {

struct IncrementPackLimits {
  std::size_t max_commits = 100;
  std::size_t max_objects = 2000;
  std::uint64_t max_bytes = 8u << 20;  // uncompressed size of the blobs and trees the new commits add
};

// Every object reachable from `tips` and not from `prerequisites` (and possibly a few that
// are: objects an older commit already had), as a complete pack (no deltas against objects
// outside it, so not thin). nullopt, and git should be used, when a new tip is not a commit
// (a new annotated tag), when the new commits exceed the limits, or on any libgit2 error.
std::optional<std::string> small_increment_pack(const std::string& repo_path, const std::vector<std::string>& tips,
                                                const std::vector<std::string>& prerequisites,
                                                const IncrementPackLimits& limits = {});

}  // namespace gitvault
