// `gitvault restore`: pick the backup (the newest complete one unless --id), select its
// repositories (storages given on the command line, path filters), restore each verified,
// print progress and a summary. Per-repository failures never stop the run.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "backup/record.h"
#include "backup/sink.h"
#include "gitaly/progress.h"
#include "gitaly/storage.h"

namespace gitvault {

struct RestoreRunOptions {
  std::vector<Storage> storages;  // where each backed-up storage is restored to, by name
  std::string id;                 // empty: newest complete backup
  PathFilter filter;
  OutputMode output = OutputMode::Human;
  std::FILE* progress_out = stderr;
  int index_threads = 0;
  // gitaly_backup on: the worker restores (in parallel); off: in-process, one at a time.
  std::string flags_store;
  std::string worker_program;
  std::string backup_path;
  int parallel = 0;
  int parallel_storage = 2;
  std::chrono::milliseconds lock_wait{0};  // docs/locking.md
};

struct RestoreRunResult {
  std::string id;
  std::size_t restored = 0;
  std::size_t skipped_storage = 0;  // repositories of storages not given
  std::vector<Failure> failures;
  std::uint64_t bytes = 0;
  std::size_t via_pipeline = 0;
  std::size_t via_legacy = 0;
  std::vector<std::string> missing_storages;  // backed-up storages not given: not restored
  double seconds = 0;
  int exit_code = 0;
};

// Prints progress (options.progress_out); the summary is the caller's (cli/report.h).
// Throws Error(Config/Usage/NotFound) when nothing could be attempted.
RestoreRunResult run_restore(const RestoreRunOptions& options, Sink& sink);

}  // namespace gitvault
