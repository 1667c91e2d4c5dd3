// `gitvault restore`: pick the backup (the newest complete one unless --id), select its
// repositories (storages given on the command line, path filters), route each to its engine
// (run/route.h) and restore it verified (run/repository_run.h). Per-repository failures never
// stop the run.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "backup/record.h"
#include "destination/sink.h"
#include "base/run_observer.h"
#include "git/storage.h"
#include "run/repository_run.h"

namespace gitvault {

struct RestoreRunOptions : RepositoryRunOptions {
  int index_threads = 0;  // git index-pack's threads (0: git's default)
  bool verify_objects = false;  // re-hash every object even where the pack's index was kept
  // Only these repositories (gitaly/protocol.h job_key(storage, relative_path)), when given:
  // a drill's sample. Applied with the path filter.
  std::optional<std::set<std::string>> only;
  // The caller holds what keeps prune out (a drill's pin, backup/run_locks.h) and restores
  // into scratch storages of its own: no lock is taken here.
  bool caller_holds_locks = false;
  // Restore as of this moment (Unix seconds) instead of one backup (`--at`): each repository
  // from the newest backup at or before it that backed it up (BackupCatalog::at).
  std::optional<std::int64_t> at;
};


struct RestoreRunResult {
  std::string id;
  std::int64_t moment = 0;               // the backup's moment (backup_time)
  std::optional<std::int64_t> at;        // --at, when given
  std::vector<OlderSource> from_older;   // --at: repositories from older backups
  std::size_t restored = 0;
  std::size_t skipped_storage = 0;  // repositories of storages not given
  std::vector<Failure> failures;
  std::uint64_t bytes = 0;
  std::size_t via_pipeline = 0;
  std::size_t via_legacy = 0;
  std::vector<std::string> missing_storages;  // backed-up storages not given: not restored
  std::map<std::string, std::string> host_of_storage;  // a backup of several hosts: who backed up each storage
  // A backup gitaly-backup wrote (backup/gitaly_backups.h): it recorded no checksums, so its
  // selected repositories are verified by git alone (index-pack, refs, connectivity).
  bool from_gitaly_backup = false;
  std::size_t verified_by_git_alone = 0;
  // Fork networks (PoolLink): members linked to the pool this run restored, and members
  // restored self-contained because their pool was not (not selected, or it failed).
  std::size_t pool_linked = 0;
  std::size_t pool_pulled_in = 0;
  double seconds = 0;
  long peak_rss_kib = 0;         // gitvault's own
  long worker_peak_rss_kib = 0;  // the worker's, when it ran
  int exit_code = 0;
};

// Reports progress to options.observer; prints nothing (ui/report.h prints the result).
// Throws Error(Config/Usage/NotFound) when nothing could be attempted.
RestoreRunResult run_restore(const RestoreRunOptions& options, Sink& sink);

}  // namespace gitvault
