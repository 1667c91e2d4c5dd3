// The gitaly-backup worker's work (docs/pipeline.md): jobs read from a stream, one JSON
// job per line (gitaly/protocol.h), each backed up or restored under the global and
// per-storage limits of the scheduler (base/scheduler.h), one JSON log line per event
// written to `out`; every line gets an answer and no job stops another. cli/ only parses
// the worker's command line and calls run_worker_jobs.
#pragma once

#include <cstdio>
#include <istream>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "backup/layout.h"
#include "git/storage.h"
#include "seal/settings.h"

namespace gitvault {

struct WorkerOptions {
  std::string command;  // "create" or "restore"
  std::string path;
  std::vector<Storage> storages;
  int parallel = 0;          // 0: number of CPUs
  int parallel_storage = 2;  // 0: no per-storage limit
  std::string id;            // create default: UTC YYYYMMDDhhmmss; restore default: newest complete
  Layout layout = Layout::Manifest;
  bool incremental = false;
  // With incremental: the backups to build on, newest first; each repository builds on the
  // first that has it backed up. Empty: chain_bases_of the destination's records.
  std::vector<std::string> previous_ids;
  // Restore: backups to take a repository from when `id` did not back it up (newest first;
  // `gitvault restore --at` sends them: docs/retention.md, "restore --at").
  std::vector<std::string> fallback_ids;
  int max_chain = 0;  // create: RepositoryBackupOptions::max_chain
  // create, not incremental: a repository whose step in `previous_ids` is a full bundle with
  // the same refs is recorded unchanged, its files where they are (RepositoryBackupOptions::full).
  bool reuse_full_steps = false;
  bool verify_objects = false;  // restore: RepositoryRestoreOptions::verify_objects
  bool no_lock = false;  // the caller holds the locks (docs/locking.md)
  SealSettings seal;     // a sealed destination (docs/encryption.md)
};

// Runs every job of `in` to its end. Returns the exit status: 0 every job done, 1 some job
// failed (after "<command>: pipeline: N failures encountered:" and a line each on `err`),
// 2 nothing attempted (bad options, the lock is held).
int run_worker_jobs(WorkerOptions options, std::istream& in, std::FILE* out, std::FILE* err);

}  // namespace gitvault
