// `gitvault backup`: discover, select, back up each repository with its engine, record
// the outcome, print progress and a summary. Per-repository failures never stop the run.
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "backup/record.h"
#include "backup/sink.h"
#include "gitaly/progress.h"
#include "gitaly/storage.h"

namespace gitvault {

struct BackupRunOptions {
  std::vector<Storage> storages;
  std::string id;  // empty: UTC YYYYMMDDhhmmss
  PathFilter filter;
  OutputMode output = OutputMode::Human;
  std::FILE* progress_out = stderr;  // per-repository lines / live line
  int pack_threads = 0;
  // Engine choice: the gitaly_backup flag, read once from this store at the start.
  std::string flags_store;
  // The pipeline: the worker, where it writes (the sink's location), and its limits.
  std::string worker_program;
  std::string backup_path;
  int parallel = 0;          // 0: number of CPUs
  int parallel_storage = 2;  // 0: no per-storage limit
  // Incremental backups (pipeline path; the legacy path always writes full backups): build
  // on previous_id, or on the newest complete backup when it is empty.
  bool incremental = false;
  std::string previous_id;
  // How long to wait for another run's lock (0: fail at once, exit 2). docs/locking.md.
  std::chrono::milliseconds lock_wait{0};
};

struct BackupRunResult {
  BackupRecord record;
  std::vector<Failure> failures;
  long worker_peak_rss_kib = 0;
  long peak_rss_kib = 0;
  double seconds = 0;
  int exit_code = 0;  // 0 complete, 1 some repositories failed or the record could not be written
};

// Prints progress (options.progress_out); the summary is the caller's (cli/report.h).
// Throws Error(Config/Usage) for problems that mean nothing was attempted (exit 2).
BackupRunResult run_backup(const BackupRunOptions& options, Sink& sink);

// The repositories of every storage that the filter selects, in storage then path order.
std::vector<Repository> select_repositories(const std::vector<Storage>& storages, const PathFilter& filter,
                                            std::vector<std::string>* warnings);

}  // namespace gitvault
