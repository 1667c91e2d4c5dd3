#include "run/restore_run.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "backup/catalog.h"
#include "backup/run_locks.h"
#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "base/system.h"
#include "gitaly/protocol.h"
#include "restore/repository_restore.h"
#include "run/repository_run.h"
#include "run/route.h"

namespace gitvault {
namespace {

// The backup a restore without --id takes: the newest complete one. A record that cannot be
// read may be the newest backup: never fall back silently to an older one (ids sort by time
// unless chosen with --id).
std::string newest_restorable_backup(Sink& sink, BackupCatalog& catalog) {
  std::vector<std::string> unreadable;
  auto newest = catalog.newest_complete(&unreadable);
  for (const auto& id : unreadable)
    if (!newest || id > *newest)
      throw Error(ErrorCode::Usage,
                  "the record of backup " + id + " (" + describe_record(sink, id) +
                      ") cannot be read, and it may be the newest backup; `gitvault verify --id " + id +
                      "` says why. To restore an older backup, name it: --id " + newest.value_or("ID"));
  if (!newest)
    throw Error(ErrorCode::NotFound, "no complete backup in " + sink.describe("") + " (use --id to pick a partial one)");
  return *newest;
}

// The repositories this restore takes of `candidates` (a backup's, or what a restore at a
// moment chose): those the filters select whose storage was given. The others are counted
// (and their storages named) in `result`.
std::vector<const RepositoryRecord*> select_repositories(const std::vector<const RepositoryRecord*>& candidates,
                                                         const RestoreRunOptions& o, RestoreRunResult& result) {
  std::vector<const RepositoryRecord*> selected;
  std::set<std::string> missing_storages;
  for (const RepositoryRecord* r : candidates) {
    if (!o.filter.selects(r->relative_path, r->project_path)) continue;
    if (o.only && !o.only->count(job_key(r->storage, r->relative_path))) continue;
    if (!find_storage(o.storages, r->storage)) {
      missing_storages.insert(r->storage);
      ++result.skipped_storage;
      continue;
    }
    selected.push_back(r);
    if (r->from_gitaly_backup) ++result.verified_by_git_alone;
  }
  result.missing_storages.assign(missing_storages.begin(), missing_storages.end());
  if (selected.empty())
    throw Error(ErrorCode::Usage, "backup " + result.id + ": no repository to restore" +
                                      (missing_storages.empty() ? std::string(" matches the selection")
                                                                : " (its repositories are in storages not given: " +
                                                                      *missing_storages.begin() + ")"));
  return selected;
}

// The backups a restore takes: --id's (or the newest complete one), or, with --at, the one at
// the moment and the older ones that back up what it did not. Fills `candidates` and, for
// --at, what came from older backups; returns the records (the first is the backup's).
std::vector<BackupRecord> backups_to_restore(const RestoreRunOptions& o, Sink& sink, BackupCatalog& catalog,
                                             RestoreRunResult& result, std::vector<const RepositoryRecord*>& candidates) {
  std::vector<BackupRecord> records;
  if (!o.at) {
    result.id = o.id.empty() ? newest_restorable_backup(sink, catalog) : o.id;
    records.push_back(catalog.read(result.id));
    for (const auto& r : records[0].repositories) candidates.push_back(&r);
  } else {
    result.at = o.at;
    MomentSelection sel = catalog.at(*o.at, [&](const RepositoryRecord& r) {
      return o.filter.selects(r.relative_path, r.project_path);
    });
    result.from_older = older_sources(sel);
    records = std::move(sel.backups);
    result.id = records[0].id;
    for (const auto& c : sel.chosen) candidates.push_back(&records[c.backup].repositories[c.repository]);
  }
  result.moment = backup_time(records[0].id, records[0].started_at);
  return records;
}

// Pools before the rest: a fork network's member links to its pool only when this run
// restored the pool first (restore/repository_restore.h).
void pools_first(std::vector<const RepositoryRecord*>& selected) {
  std::set<std::string> pools;
  for (const RepositoryRecord* r : selected)
    if (r->pool.linked()) pools.insert(job_key(r->storage, r->pool.relative_path));
  std::stable_partition(selected.begin(), selected.end(),
                        [&](const RepositoryRecord* r) { return pools.count(job_key(r->storage, r->relative_path)) > 0; });
}

// Which repositories this run has restored (for forks on the legacy engine, whose pools may
// have been restored by either), and how fork networks came back. Both lanes write it.
class PoolProgress {
 public:
  void restored(const RepositoryRecord& r) {
    std::lock_guard<std::mutex> lock(mu_);
    restored_.insert(job_key(r.storage, r.relative_path));
  }
  bool was_restored(const std::string& storage, const std::string& relative_path) {
    std::lock_guard<std::mutex> lock(mu_);
    return restored_.count(job_key(storage, relative_path)) > 0;
  }
  void fork(bool linked, bool pulled_in, RestoreRunResult& result) {
    std::lock_guard<std::mutex> lock(mu_);
    result.pool_linked += linked;
    result.pool_pulled_in += pulled_in;
  }

 private:
  std::mutex mu_;
  std::set<std::string> restored_;  // guarded by mu_
};

// How each engine restores a repository and how its outcome is counted. A repository
// backed up empty is reported "empty".
RepositoryRun::Engines restore_engines(const RestoreRunOptions& o, Sink& sink,
                                       const std::vector<const RepositoryRecord*>& selected,
                                       const RepositoryRestoreOptions& repo_options, PoolProgress& pools,
                                       RestoreRunResult& result) {
  auto restored = [&selected](std::size_t i) {
    JobOutcome out;
    out.status = selected[i]->status == ItemStatus::Empty ? ItemStatus::Empty : ItemStatus::Ok;
    return out;
  };
  RepositoryRun::Engines engines;
  engines.legacy = [&o, &sink, &selected, &repo_options, &pools, &result, restored](std::size_t i) {
    JobOutcome out = restored(i);
    const RepositoryRecord& r = *selected[i];
    RepositoryRestoreOptions ro = repo_options;
    ro.pool_restored = [&](const std::string& pool) { return pools.was_restored(r.storage, pool); };
    RestoredRepository done = restore_repository(r, sink, *find_storage(o.storages, r.storage), ro);
    pools.fork(!done.linked_pool.empty(), done.pool_pulled_in, result);
    out.bytes = done.bytes;
    return out;
  };
  engines.worker_result = [&pools, &result, restored](std::size_t i,
                                                      const WorkerAnswer& line) -> std::optional<JobOutcome> {
    using Kind = WorkerAnswer::Kind;
    if (line.kind != Kind::Completed && line.kind != Kind::Failed && line.kind != Kind::Skipped) return std::nullopt;
    JobOutcome out = restored(i);
    if (line.kind == Kind::Failed) {
      out.status = ItemStatus::Failed;
      out.error = line.error;
    }
    out.bytes = line.bytes;
    out.seconds = line.duration_seconds;
    pools.fork(!line.linked_pool.empty(), line.pool_pulled_in, result);
    return out;
  };
  engines.done = [&selected, &pools, &result](std::size_t i, const JobOutcome& out) {
    const RepositoryRecord& r = *selected[i];
    if (out.status == ItemStatus::Failed) {
      result.failures.push_back({r.storage, r.relative_path, r.project_path, out.error});
    } else {
      ++result.restored;
      pools.restored(r);
    }
    result.bytes += out.bytes;
  };
  return engines;
}

// The worker's command: backup records[0], the older ones (--at) to fall back on.
WorkerCommand restore_worker(const RestoreRunOptions& o, const std::vector<BackupRecord>& records,
                             const std::set<std::string>& storages) {
  std::vector<std::string> extra;
  if (o.verify_objects) extra.push_back("--verify-objects");
  for (std::size_t i = 1; i < records.size(); ++i) extra.insert(extra.end(), {"--fallback-id", records[i].id});
  return worker_command(o, "restore", records[0].id, storages, extra);
}

}  // namespace

RestoreRunResult run_restore(const RestoreRunOptions& o, Sink& sink) {
  const auto t0 = std::chrono::steady_clock::now();
  RunObserver& observer = o.observer ? *o.observer : silent_observer();
  if (o.storages.empty()) throw Error(ErrorCode::Config, "no storage given (--storage NAME=DIR or --config)");
  validate_storages(o.storages, false);
  RestoreRunResult result;
  // The storages restored into are locked before the backup is chosen (one order for every
  // command: storages, then the backup directory). A storage directory that does not exist
  // yet is not locked (nor created): no backup reads it, and nothing there can be swapped.
  std::vector<Storage> existing;
  for (const auto& s : o.storages)
    if (is_directory_nofollow(s.path)) existing.push_back(s);
  std::optional<RunLocks> locks;
  if (!o.caller_holds_locks) {
    locks.emplace(sink, LockMode::Shared, existing, LockMode::Exclusive, "restore", o.id, o.lock_wait);
    for (const auto& n : locks->notes()) observer.note(n);
  }
  BackupCatalog catalog(sink);  // gitvault's backups and gitaly-backup's own
  std::vector<const RepositoryRecord*> candidates;
  const std::vector<BackupRecord> records = backups_to_restore(o, sink, catalog, result, candidates);
  const BackupRecord& rec = records[0];
  result.from_gitaly_backup = rec.from_gitaly_backup;
  if (rec.status == BackupStatus::Running)
    throw Error(ErrorCode::Usage, "backup " + rec.id + " never finished (its run died); pick another with --id");

  for (const auto& part : rec.parts)
    for (const auto& st : part.storages) result.host_of_storage[st] = part.host;
  std::vector<const RepositoryRecord*> selected = select_repositories(candidates, o, result);
  pools_first(selected);

  // Leftovers of restores that were killed are removed before this one starts.
  for (const auto& st : o.storages)
    if (std::size_t n = remove_stale_restore_dirs(st))
      observer.note("removed " + std::to_string(n) + " temporary directories of killed restores in " + st.path +
                    "/+gitvault/tmp");
  Router router(o.flags_store);
  router.remember_from(sink);
  for (const auto& w : router.warnings()) observer.warning(w);
  std::vector<EngineJob> jobs;
  std::set<std::string> worker_storages;  // only the storages the worker restores into
  for (const RepositoryRecord* r : selected) {
    Route route = router.route(r->storage, r->relative_path, r->project_path);
    jobs.push_back({r->storage, r->relative_path, r->project_path, route.engine});
    if (route.engine == Engine::Pipeline) {
      ++result.via_pipeline;
      worker_storages.insert(r->storage);
    } else {
      ++result.via_legacy;
    }
  }
  std::optional<WorkerCommand> worker;
  if (result.via_pipeline > 0) worker = restore_worker(o, records, worker_storages);
  RepositoryRun run("restore", "restoring", worker, observer);

  RepositoryRestoreOptions repo_options;
  repo_options.index_threads = o.index_threads;
  repo_options.verify_objects = o.verify_objects;
  PoolProgress pools;
  run.run(jobs, restore_engines(o, sink, selected, repo_options, pools, result));
  if (std::string why = run.worker_failure(); !why.empty()) result.failures.push_back({"*", "*", "", why});

  // The in-process restores are durable before the run says so (the worker syncs its own).
  if (result.via_legacy > 0) {
    std::vector<const Storage*> used;
    for (std::size_t i = 0; i < jobs.size(); ++i)
      if (jobs[i].engine == Engine::Legacy) used.push_back(find_storage(o.storages, jobs[i].storage));
    try {
      sync_restored_storages(used);
    } catch (const std::exception& e) {
      result.failures.push_back({"*", "*", "", std::string("restored repositories may not be durable: ") + e.what()});
    }
  }
  result.exit_code = result.failures.empty() ? 0 : 1;
  result.peak_rss_kib = peak_rss_kib();
  result.worker_peak_rss_kib = run.worker_peak_rss_kib();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace gitvault
