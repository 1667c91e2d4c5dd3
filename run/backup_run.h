// `gitvault backup`: discover, select, route each repository to its engine (run/route.h),
// back it up (run/repository_run.h), record the outcome. Per-repository failures never
// stop the run.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "backup/record.h"
#include "destination/sink.h"
#include "base/run_observer.h"
#include "git/storage.h"
#include "run/repository_run.h"

namespace gitvault {

struct BackupRunOptions : RepositoryRunOptions {
  int pack_threads = 0;  // git pack-objects' threads on the legacy path (0: git's default)
  // Incremental backups (pipeline path; the legacy path always writes full backups): build
  // on previous_id, or when it is empty, each repository on the newest backup that has it
  // backed up, back to the newest complete one (chain_bases_of).
  bool incremental = false;
  std::string previous_id;
  // With `incremental`: a new chain (a full backup) when no complete full backup started
  // within this many seconds (0: never forced). `[backup] full_every = "7d"` for timers.
  std::int64_t full_every_s = 0;
  // With `incremental`: a repository whose chain has this many steps gets a full step
  // (RepositoryBackupOptions::max_chain). `[backup] max_chain`; 0: no limit.
  int max_chain = 0;
  // A full backup writes every repository's bundle again even when an earlier full bundle of
  // the same refs is in the destination (`--independent`). Default: such a repository is
  // recorded unchanged on that bundle (pipeline path; docs/backup-format.md).
  bool independent = false;
};

struct BackupRunResult {
  BackupRecord record;  // of a backup of several hosts: this host's part
  // A backup of several hosts: the whole backup as read back after this part was written
  // (its status says whether every host has finished); nullopt otherwise.
  std::optional<BackupRecord> whole;
  std::vector<Failure> failures;
  long worker_peak_rss_kib = 0;
  long peak_rss_kib = 0;
  double seconds = 0;
  int exit_code = 0;  // 0 complete, 1 some repositories failed or the record could not be written
};

// Reports progress to options.observer; prints nothing (ui/report.h prints the result).
// Throws Error(Config/Usage) for problems that mean nothing was attempted (exit 2).
BackupRunResult run_backup(const BackupRunOptions& options, Sink& sink);

// The repositories of every storage that the filter selects, in storage then path order,
// except that object pools come first.
std::vector<Repository> select_repositories(const std::vector<Storage>& storages, const PathFilter& filter,
                                            std::vector<std::string>* warnings);

}  // namespace gitvault
