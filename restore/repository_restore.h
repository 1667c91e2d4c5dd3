// Restoring one repository, verified, without ever touching the existing repository until
// the new one is proven good:
//
//   1. check the SHA-256 and size of every recorded file (the bundles while they stream);
//      a chain (incremental backups) is indexed step by step, oldest first, and each
//      step's prerequisites must already be there from the steps before it;
//   2. build the repository in <storage>/+gitvault/tmp/ (same file system as the target):
//      `git index-pack --stdin` hashes every object and checks the pack checksum;
//   3. write refs and HEAD exactly as recorded, restore custom hooks and gitlab.fullpath;
//   4. verify: refs equal the recorded ones (libgit2) and every object reachable from them
//      is present (for a full bundle: index-pack --check-self-contained-and-connected and
//      every tip present; otherwise `git fsck --connectivity-only`);
//   5. when a repository is there already: syncfs, so the whole new repository is durable,
//      then swap it in with one atomic rename (RENAME_EXCHANGE) and remove the old one;
//      when the path is free: rename it into place, and leave durability to the caller's one
//      sync_restored_storages() at the end of the run (one syncfs per storage instead of one
//      per repository; nothing existed there to lose).
//
// Any failure leaves the target path as it was and removes the temporary directory.
#pragma once

#include <functional>

#include "backup/record.h"
#include "destination/sink.h"
#include "git/storage.h"

namespace gitvault {

struct RepositoryRestoreOptions {
  int index_threads = 0;  // git index-pack --threads; 0 = git's default
  // Re-hash every object with `git index-pack` even where the backup kept the pack's index
  // (PackCompanions), which a restore otherwise installs as it is (docs/restore.md).
  bool verify_objects = false;
  // A fork network's member (PoolLink): whether this run restored its pool (waiting for it
  // when need be). True links the repository to the restored pool (objects/info/alternates,
  // relative, as GitLab writes it), provided the pool holds every tip the repository's chain
  // builds on; otherwise, or unset, the pool's steps are indexed into the repository itself
  // (self-contained).
  std::function<bool(const std::string& pool_relative_path)> pool_restored;
};

struct RestoredRepository {
  std::uint64_t bytes = 0;  // read from the backup
  std::string linked_pool;  // the pool it borrows objects from now, "" when self-contained
  bool pool_pulled_in = false;  // it has a pool in the backup but was restored self-contained
};

// Throws Error on failure.
RestoredRepository restore_repository(const RepositoryRecord& record, Sink& sink, const Storage& target,
                                 const RepositoryRestoreOptions& options);

// Removes <storage>/+gitvault/tmp/restore-<pid>-* directories left by restores that were
// killed (their pid is no longer a live process on this machine). Returns how many.
std::size_t remove_stale_restore_dirs(const Storage& storage);

// Makes every repository restored into these storages durable (one syncfs per storage).
// Call it after the last restore_repository() and before reporting the run a success.
void sync_restored_storages(const std::vector<const Storage*>& storages);

}  // namespace gitvault
