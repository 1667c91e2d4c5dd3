#include "restore/run.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "backup/pipeline.h"
#include "backup/run_locks.h"
#include "backup/worker_client.h"
#include "backup/route.h"
#include "gitaly/encoding.h"
#include "gitaly/error.h"
#include "gitaly/files.h"
#include "restore/repository_restore.h"

namespace gitvault {
namespace {

// The backup a restore without --id takes: the newest complete one. A record that cannot be
// read may be the newest backup: never fall back silently to an older one (ids sort by time
// unless chosen with --id).
std::string newest_restorable_backup(Sink& sink) {
  std::vector<std::string> unreadable;
  auto newest = newest_complete_backup(sink, &unreadable);
  for (const auto& id : unreadable)
    if (!newest || id > *newest)
      throw Error(ErrorCode::Usage,
                  "the record of backup " + id + " (" + sink.describe(record_name(id)) +
                      ") cannot be read, and it may be the newest backup; `gitvault verify --id " + id +
                      "` says why. To restore an older backup, name it: --id " + newest.value_or("ID"));
  if (!newest)
    throw Error(ErrorCode::NotFound, "no complete backup in " + sink.describe("") + " (use --id to pick a partial one)");
  return *newest;
}

}  // namespace

RestoreRunResult run_restore(const RestoreRunOptions& o, Sink& sink) {
  if (o.storages.empty()) throw Error(ErrorCode::Config, "no storage given (--storage NAME=DIR or --config)");
  validate_storages(o.storages, false);
  RestoreRunResult result;
  // The storages restored into are locked before the backup is chosen (one order for every
  // command: storages, then the backup directory). A storage directory that does not exist
  // yet is not locked (nor created): no backup reads it, and nothing there can be swapped.
  std::vector<Storage> existing;
  for (const auto& s : o.storages)
    if (is_directory_nofollow(s.path)) existing.push_back(s);
  RunLocks locks(sink, LockMode::Shared, existing, LockMode::Exclusive, "restore", o.id, o.lock_wait);
  for (const auto& n : locks.notes())
    std::fprintf(o.progress_out ? o.progress_out : stderr, "note: %s\n", printable(n).c_str());
  result.id = o.id.empty() ? newest_restorable_backup(sink) : o.id;
  BackupRecord rec = read_record(sink, result.id);
  if (rec.status == "running")
    throw Error(ErrorCode::Usage, "backup " + rec.id + " never finished (its run died); pick another with --id");

  std::vector<const RepositoryRecord*> selected;
  std::set<std::string> missing_storages;
  for (const auto& r : rec.repositories) {
    if (!o.filter.selects(r.relative_path, r.project_path)) continue;
    if (!find_storage(o.storages, r.storage)) {
      missing_storages.insert(r.storage);
      ++result.skipped_storage;
      continue;
    }
    selected.push_back(&r);
  }
  if (selected.empty())
    throw Error(ErrorCode::Usage, "backup " + rec.id + ": no repository to restore" +
                                      (missing_storages.empty() ? std::string(" matches the selection")
                                                                : " (its repositories are in storages not given: " +
                                                                      *missing_storages.begin() + ")"));

  // Leftovers of restores that were killed are removed before this one starts.
  for (const auto& st : o.storages) {
    std::size_t n = remove_stale_restore_dirs(st);
    if (n && o.progress_out)
      std::fprintf(o.progress_out, "note: removed %zu temporary directories of killed restores in %s/+gitvault/tmp\n", n,
                   st.path.c_str());
  }
  Router router(o.flags_store);
  router.remember_from(sink);
  for (const auto& w : router.warnings()) std::fprintf(o.progress_out ? o.progress_out : stderr, "warning: %s\n", printable(w).c_str());
  std::vector<const RepositoryRecord*> legacy, pipeline;
  for (const RepositoryRecord* r : selected) {
    Route route = router.route(r->storage, r->relative_path, r->project_path);
    (route.engine == Engine::Pipeline ? pipeline : legacy).push_back(r);
  }
  result.via_pipeline = pipeline.size();
  result.via_legacy = legacy.size();

  Progress progress("restore", selected.size(), o.progress_out, o.output);
  std::mutex mu;  // guards result
  auto finished = [&](const RepositoryRecord& r, const std::string& status, const std::string& error,
                      std::uint64_t bytes, double secs) {
    std::lock_guard<std::mutex> lock(mu);
    if (status == "failed")
      result.failures.push_back({r.storage, r.relative_path, r.project_path, error});
    else
      ++result.restored;
    result.bytes += bytes;
    progress.item_done(r.storage, r.relative_path, status, bytes, secs, error);
  };
  // The legacy engine: one repository at a time, through the one scheduler, beside the worker.
  Pipeline legacy_engine(1, 0);
  RepositoryRestoreOptions repo_options;
  repo_options.index_threads = o.index_threads;
  for (const RepositoryRecord* r : legacy)
    legacy_engine.submit(r->storage, [&, r] {
      auto t0 = std::chrono::steady_clock::now();
      std::string status = r->status == "empty" ? "empty" : "ok", error;
      std::uint64_t bytes = 0;
      try {
        bytes = restore_repository(*r, sink, *find_storage(o.storages, r->storage), repo_options);
      } catch (const std::exception& e) {
        status = "failed";
        error = e.what();
      }
      finished(*r, status, error, bytes, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    });
  if (!pipeline.empty()) {
    std::vector<WorkerJob> jobs;
    std::map<std::string, const RepositoryRecord*> by_path;
    for (const RepositoryRecord* r : pipeline) {
      jobs.push_back({r->storage, r->relative_path, r->project_path, false});
      by_path[job_key(r->storage, r->relative_path)] = r;
    }
    std::vector<std::string> args = {"restore", "--no-lock", "--path", o.backup_path, "--id", rec.id,
                                     "--parallel-storage", std::to_string(o.parallel_storage)};
    if (o.parallel > 0) args.insert(args.end(), {"--parallel", std::to_string(o.parallel)});
    std::set<std::string> used;  // only the storages this worker restores into
    for (const RepositoryRecord* r : pipeline) used.insert(r->storage);
    for (const auto& s : o.storages)
      if (used.count(s.name)) args.insert(args.end(), {"--storage", s.name + "=" + s.path});
    std::string program = o.worker_program.empty() ? default_worker_program() : o.worker_program;
    ProcessResult pr;
    std::size_t worker_failures = 0;
    try {
      pr = run_worker(
          program, args, jobs,
          [&](const nlohmann::json& line) {
            std::string msg = line.value("msg", "");
            if (msg != "completed restore" && msg != "restore failed" && msg != "skipped restore") return;
            auto it = by_path.find(job_key(line));
            if (it == by_path.end()) return;
            const RepositoryRecord* r = it->second;
            by_path.erase(it);
            std::string status = msg == "restore failed" ? "failed" : (r->status == "empty" ? "empty" : "ok");
            if (status == "failed") ++worker_failures;
            finished(*r, status, line.value("error", ""), line.value("bytes", std::uint64_t{0}),
                     line.value("duration_seconds", 0.0));
          },
          [&](const std::string& text) {
            if (o.progress_out) std::fprintf(o.progress_out, "gitaly-backup: %s\n", text.c_str());
          });
    } catch (const std::exception& e) {
      pr.exit_code = -1;
      pr.err = e.what();
    }
    for (const auto& [key, r] : by_path)
      finished(*r, "failed", "gitaly-backup worker (" + program + ") ended before restoring this repository: " + pr.describe(), 0, 0);
    // A worker that failed without blaming a repository (its final sync, say) fails the run.
    if (!pr.ok() && by_path.empty() && worker_failures == 0) {
      std::lock_guard<std::mutex> lock(mu);
      result.failures.push_back({"*", "*", "", "gitaly-backup worker (" + program + ") failed: " + pr.describe()});
    }
  }
  legacy_engine.done();
  // The in-process restores are durable before the run says so (the worker syncs its own).
  if (result.via_legacy > 0) {
    std::vector<const Storage*> used;
    for (const RepositoryRecord* r : legacy) used.push_back(find_storage(o.storages, r->storage));
    try {
      sync_restored_storages(used);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu);
      result.failures.push_back({"*", "*", "", std::string("restored repositories may not be durable: ") + e.what()});
    }
  }
  progress.finish();
  result.exit_code = result.failures.empty() ? 0 : 1;

  result.seconds = progress.elapsed_seconds();
  result.missing_storages.assign(missing_storages.begin(), missing_storages.end());
  return result;
}

}  // namespace gitvault
