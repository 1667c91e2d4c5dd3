// The one skeleton of every run over repositories (backup and restore): each repository goes
// to the engine its route chose — the legacy engine, in process and one at a time, or the
// gitaly-backup worker, which does many at once under its limits — and its outcome comes
// back exactly once, to one callback, whichever engine did it and however the engine ended.
//
//   RepositoryRun run("backup", "backing up", worker_command, observer);  // the worker starts
//   ... discover, route ...                                                // meanwhile
//   run.run(jobs, {legacy, worker_result, done});                          // returns when all are done
//
// Concurrency: the legacy engine and the conversation with the worker are two lanes of one
// Scheduler (base/scheduler.h); the worker's own concurrency is its Scheduler.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "seal/settings.h"

#include "backup/record.h"
#include "base/process.h"
#include "base/run_observer.h"
#include "base/scheduler.h"
#include "git/storage.h"
#include "gitaly/client.h"

namespace gitvault {

// What every run over repositories is given, backup and restore alike.
struct RepositoryRunOptions {
  std::vector<Storage> storages;  // backup: what is read; restore: where each storage goes, by name
  std::string id;                 // backup: the new id (empty: UTC YYYYMMDDhhmmss); restore: empty = newest complete
  PathFilter filter;
  RunObserver* observer = nullptr;  // progress, notes, warnings (nullptr: none)
  // The route: the gitaly_backup flag, read once from this store at the start.
  std::string flags_store;
  // The pipeline: the worker, the backup directory it works in (the sink's location), its limits.
  std::string worker_program;  // empty: worker_program_or_default
  std::string backup_path;
  int parallel = 0;          // 0: number of CPUs
  int parallel_storage = 2;  // 0: no per-storage limit
  std::chrono::milliseconds lock_wait{0};  // how long to wait for another run's lock (docs/locking.md)
  // Several hosts, one backup (docs/object-storage.md): every host the config expects, and
  // which of them this run is. Empty `hosts`: a backup of this host alone.
  std::vector<std::string> hosts;
  std::string host;
  // A sealed destination (docs/encryption.md): the worker opens it sealed too.
  SealSettings seal;
};

struct EngineJob {
  std::string storage;
  std::string relative_path;
  std::string project_path;
  Engine engine = Engine::Legacy;
};

struct JobOutcome {
  ItemStatus status = ItemStatus::Ok;
  std::string error;   // when failed
  std::string detail;  // what was done, for progress ("pipeline (gitaly_backup on: ...)")
  std::uint64_t bytes = 0;
  double seconds = 0;
};

// The gitaly-backup command line of one run (without the jobs, which go to its stdin).
struct WorkerCommand {
  std::string program;
  std::vector<std::string> args;
  // Added to its environment: the S3 credentials when the destination is object storage
  // (the only child that gets them).
  std::vector<std::pair<std::string, std::string>> env;
};

class RepositoryRun {
 public:
  struct Engines {
    // Does job i in process (legacy engine). An exception fails that job with its message.
    std::function<JobOutcome(std::size_t job)> legacy;
    // Reads a worker log line about job i: its outcome when the line is the worker's last word
    // on it, nullopt for any other line. An exception fails that job with its message.
    std::function<std::optional<JobOutcome>(std::size_t job, const WorkerAnswer& line)> worker_result;
    // Called exactly once per job with its outcome, never two at a time.
    std::function<void(std::size_t job, const JobOutcome& outcome)> done;
  };

  // `verb` names the run in progress ("backup"), `doing` in failures ("backing up"). With a
  // worker command the worker starts now, so that its start-up overlaps the caller's work.
  RepositoryRun(std::string verb, std::string doing, std::optional<WorkerCommand> worker, RunObserver& observer);
  ~RepositoryRun();  // ends the worker's input and waits for it
  RepositoryRun(const RepositoryRun&) = delete;
  RepositoryRun& operator=(const RepositoryRun&) = delete;

  // Runs every job with its engine and returns when each has had its `done`. Jobs the worker
  // never reported (it died, or there was none to start) are failed with the reason.
  void run(const std::vector<EngineJob>& jobs, const Engines& engines);

  long worker_peak_rss_kib() const;
  // Set when the worker ended badly without blaming any repository (its final sync, say):
  // the run must not be reported complete. Empty otherwise.
  std::string worker_failure() const;
  // Asked before each repository of the legacy engine starts and on each line of the worker: a
  // reason to stop the run (the destination's lock was lost), or empty to go on. Once it gives
  // one, the repositories not started are failed "not attempted: <reason>" and the worker is
  // stopped. Set before run().
  void set_stop_check(std::function<std::string()> check) { stop_check_ = std::move(check); }

 private:
  void on_worker_line(const WorkerAnswer& line);
  void finish_locked(std::size_t job, JobOutcome outcome);  // requires mu_

  const std::string verb_;
  const std::string doing_;
  const std::optional<WorkerCommand> worker_;
  RunObserver& observer_;
  WorkerJobQueue queue_;
  ProcessResult worker_end_;  // written by the worker lane, read after lanes_.done()
  mutable std::mutex mu_;
  const std::vector<EngineJob>* jobs_ = nullptr;        // guarded by mu_
  const Engines* engines_ = nullptr;                    // guarded by mu_
  std::map<std::string, std::size_t> with_worker_;      // jobs the worker has not reported; guarded by mu_
  std::size_t worker_failed_jobs_ = 0;                  // guarded by mu_
  long worker_peak_rss_kib_ = 0;                        // guarded by mu_
  std::string worker_failure_;                          // guarded by mu_
  std::function<std::string()> stop_check_;             // set before run(), then only read
  std::string stop_reason() const { return stop_check_ ? stop_check_() : ""; }
  Scheduler lanes_;  // declared last: its jobs use the members above
};

// The gitaly-backup command of a run: `subcommand` ("create", "restore") of backup `id` in
// o.backup_path, under o's limits, over the storages of o.storages named in `storages`,
// then `extra` arguments. The caller holds the locks (--no-lock). The program is
// o.worker_program, else $GITVAULT_WORKER, else gitaly-backup next to gitvault or on PATH.
WorkerCommand worker_command(const RepositoryRunOptions& o, const std::string& subcommand, const std::string& id,
                             const std::set<std::string>& storages, const std::vector<std::string>& extra = {});

}  // namespace gitvault
