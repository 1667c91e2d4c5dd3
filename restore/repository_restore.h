// Restoring one repository, verified, without ever touching the existing repository until
// the new one is proven good:
//
//   1. check the SHA-256 and size of every recorded file (the bundle while it streams);
//   2. build the repository in <storage>/+gitvault/tmp/ (same file system as the target):
//      `git index-pack --stdin` hashes every object and checks the pack checksum;
//   3. write refs and HEAD exactly as recorded, restore custom hooks and gitlab.fullpath;
//   4. verify: refs equal the recorded ones (libgit2) and every object reachable from them
//      is present (for a full bundle: index-pack --check-self-contained-and-connected and
//      every tip present; otherwise `git fsck --connectivity-only`);
//   5. syncfs, so the whole new repository is durable, then swap it into place with one
//      atomic rename (RENAME_EXCHANGE when a repository is there already), then remove the
//      old one.
//
// Any failure leaves the target path as it was and removes the temporary directory.
#pragma once

#include "backup/record.h"
#include "backup/sink.h"
#include "gitaly/storage.h"

namespace gitvault {

struct RepositoryRestoreOptions {
  int index_threads = 0;  // git index-pack --threads; 0 = git's default
};

// Returns the number of bytes read from the backup. Throws Error on failure.
std::uint64_t restore_repository(const RepositoryRecord& record, Sink& sink, const Storage& target,
                                 const RepositoryRestoreOptions& options);

}  // namespace gitvault
