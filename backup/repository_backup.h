// Backing up one repository: its refs (libgit2, one consistent snapshot), a bundle of
// everything they reach (the header written here, the pack streamed from
// `git pack-objects`), and its custom_hooks directory as a tar. Every file goes through the
// sink and is recorded with its SHA-256 and size.
#pragma once

#include <functional>
#include <optional>

#include "backup/layout.h"
#include "backup/record.h"
#include "destination/sink.h"
#include "git/storage.h"

namespace gitvault {

// A pool as this run backed it up, for its forks: its chain (the last step this run's) and
// the tips of that step.
struct PoolBackup {
  std::string relative_path;
  std::vector<ChainStep> chain;
  std::vector<std::string> tips;
};

struct RepositoryBackupOptions {
  int pack_threads = 0;  // git's pack.threads; 0 = git's default (all cores)
  // When the repository's objects are exactly one pack (no loose objects, no alternates,
  // every ref tip in it), the bundle is that pack copied as it is behind the header: no git
  // process, the cost of reading the file. Off on the legacy path, which always runs
  // `git pack-objects` (the conservative engine).
  bool reuse_single_pack = false;
  // With reuse_single_pack: also keep the pack's index (and reverse index and bitmap) beside
  // the bundle, so a restore installs the pack instead of re-indexing it (PackCompanions).
  bool keep_pack_index = false;
  // An increment of a few commits is packed in process by libgit2 (small_increment_pack)
  // instead of by a `git pack-objects` process; larger ones still go to git.
  bool small_increments_in_process = false;
  // Incremental backups: the repository's entry in the previous backup and that backup's
  // id. Unset: a full backup. Refs byte for byte the same as the previous step's give an
  // "unchanged" step (no git, no data); otherwise an increment whose prerequisites are the
  // previous step's tips, or a full bundle when some of them are gone (history rewritten).
  const RepositoryRecord* previous = nullptr;
  std::string previous_id;
  // With `previous`, a full backup (docs/backup-format.md, "Full backups that reuse"): only
  // a previous step that is a whole chain of one — a full bundle — with refs byte for byte the
  // same is taken again (an unchanged step, its files where they are); anything else is a
  // full bundle, never an increment.
  bool full = false;
  // The earlier steps of `previous` when its record names the chain file they are in
  // (RepositoryRecord::chain_in): read only for a repository that changed.
  std::function<std::vector<ChainStep>(const RepositoryRecord&)> chain_of;
  // A repository whose chain already has this many steps gets a full step instead of an
  // increment (a chain of its own, short again): how long a restore's chain may grow
  // (docs/retention.md, "Frequent backups"). 0: no limit.
  int max_chain = 0;
  // A fork network's member (storage.h, Repository::pool): its pool as this run backed it up.
  // A step that would be full becomes the first step of the repository's own on the pool's
  // chain (PoolLink): a bundle of what the pool's tips do not reach. Unset, or when a tip of
  // the pool's is not in the repository: a full, self-contained bundle.
  const PoolBackup* pool = nullptr;
  // When set, receives the ref tips of this step (sorted): what a pool gives its forks.
  std::vector<std::string>* tips_out = nullptr;
};

// The pool's backup from its entry in this backup (`backup_id`) and its tips; nullopt when it
// has nothing a fork can build on (failed, empty, or itself linked to a pool).
std::optional<PoolBackup> pool_backup_of(const RepositoryRecord& pool, const std::string& backup_id,
                                         std::vector<std::string> tips);

// Where step N of the repository's chain writes its files (the legacy layout has one step).
using StepFiles = std::function<RepositoryFiles(int step)>;

// Fills `out` (refs, head, files, bytes, status "ok" or "empty"). Throws Error on failure;
// files already committed for this repository are then not referenced by any record.
void backup_repository(const Repository& repo, Sink& sink, const StepFiles& files,
                       const RepositoryBackupOptions& options, RepositoryRecord& out);

}  // namespace gitvault
