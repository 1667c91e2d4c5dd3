#include "run/backup_run.h"

#include "backup/destination_open.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "backup/catalog.h"
#include "backup/layout.h"
#include "backup/object_locks.h"
#include "backup/repository_backup.h"
#include "backup/run_locks.h"
#include "base/error.h"
#include "base/system.h"
#include "gitaly/protocol.h"
#include "run/repository_run.h"
#include "run/route.h"

namespace gitvault {
namespace {

JobOutcome outcome_of(const RepositoryRecord& rr) {
  JobOutcome o;
  o.status = rr.status;
  o.error = rr.error;
  o.detail = std::string(to_string(rr.engine)) + " (" + rr.reason + ")";
  o.bytes = rr.bytes;
  o.seconds = rr.seconds;
  return o;
}

// On a sealed destination, whether backup `id` was sealed for exactly the recipients this run
// seals for (a night that builds on steps sealed for others would need their identities too).
bool sealed_for_the_same_recipients(Sink& sink, const std::string& id) {
  SealedSink* sealed = sealed_layer(sink);
  if (!sealed) return true;
  std::set<std::string> now;
  for (const auto& r : sealed->keys().recipients) now.insert(r.text());
  return now == sealed_recipients(*sealed, record_files(sink, id));
}

// The backups whose steps a full backup may take again (the chain bases), unless the
// recipients of a sealed destination changed since (a full backup must then stand alone).
std::vector<std::string> reusable_full_steps(Sink& sink, const std::vector<BackupRecord>& headers) {
  std::vector<std::string> ids = chain_bases_of(headers);
  if (!ids.empty() && !sealed_for_the_same_recipients(sink, ids.front())) return {};
  return ids;
}

// The backups incremental steps build on, newest first: the one named, or the chain bases
// (chain_bases_of: back to the newest complete one, through partial ones).
std::vector<std::string> previous_backups(const BackupRunOptions& o, Sink& sink,
                                          const std::vector<BackupRecord>& headers, RunObserver& observer) {
  if (!o.previous_id.empty()) {
    // gitaly-backup's own backup may be named: tonight's chains then start from its steps.
    BackupRecord prev = BackupCatalog(sink).read_header(o.previous_id);  // Error(NotFound) -> usage
    if (prev.status == BackupStatus::Running)
      throw Error(ErrorCode::Usage, "backup " + prev.id + " never finished; it cannot be the previous backup");
    return {prev.id};
  }
  std::vector<std::string> ids = chain_bases_of(headers);
  if (!ids.empty() && !sealed_for_the_same_recipients(sink, ids.front())) {
    observer.note("the recipients changed since backup " + ids.front() + ": every repository gets a full step, so " +
                  "this backup restores with the new recipients' identities alone (docs/encryption.md)");
    return {};
  }
  if (ids.empty())
    observer.note("no finished backup in " + sink.describe("") + " yet: every repository gets a full step");
  else if (ids.size() > 1 || newest_complete_of(headers) != ids.front())
    observer.note("building on " + std::to_string(ids.size()) + " backups (newest " + ids.front() + ", oldest " +
                  ids.back() + "): each repository on the newest in which it was backed up");
  return ids;
}

// The moment a run is of, as backups are judged everywhere (docs/retention.md): the time its
// id names — a default id is the second it started — else now.
std::int64_t moment_of_run(const std::string& id) {
  const std::int64_t named = backup_time(id, "");
  return named >= 0 ? named : static_cast<std::int64_t>(std::time(nullptr));
}

// The record headers a night needs, newest first — the newest (the flags' remembered state),
// back to the newest complete one (the chain bases) and, with full_every, to the newest
// complete full one or the start of the window: a few records, however many backups there are.
std::vector<BackupRecord> headers_a_night_needs(Sink& sink, const BackupRunOptions& o, std::int64_t moment) {
  return read_newest_headers(sink, [&](const std::vector<BackupRecord>& read) {
    bool chain_base = false, full = false;
    for (const auto& h : read) {
      const bool finished = h.status == BackupStatus::Complete || h.status == BackupStatus::Partial ||
                            h.status == BackupStatus::Incomplete;
      chain_base = chain_base || (finished && (h.status == BackupStatus::Complete || !h.incremental));
      full = full || (h.status == BackupStatus::Complete && !h.incremental);
    }
    const bool past_window = backup_time(read.back().id, read.back().started_at) < moment - o.full_every_s;
    return chain_base && (o.full_every_s <= 0 || full || past_window);
  });
}

// Whether --incremental must start a new chain tonight: full_every is set and no complete
// full backup is of a moment within it before this run's — both judged by the times their
// ids name, as the window of headers read is (a run whose id names a time is of that time).
bool full_backup_due(const BackupRunOptions& o, const std::vector<BackupRecord>& headers, std::int64_t moment,
                     RunObserver& observer) {
  if (o.full_every_s <= 0 || !o.previous_id.empty()) return false;
  const BackupRecord* newest_full = nullptr;
  std::int64_t newest_full_time = 0;
  for (const auto& h : headers) {
    const std::int64_t t = backup_time(h.id, h.started_at);
    if (h.status == BackupStatus::Complete && !h.incremental && (!newest_full || t > newest_full_time))
      newest_full = &h, newest_full_time = t;
  }
  if (newest_full && moment - newest_full_time <= o.full_every_s) return false;
  observer.note(newest_full ? "the newest full backup, " + newest_full->id + ", started more than full_every ago: "
                                  "this run is a full backup and starts a new chain"
                            : std::string("no complete full backup yet: this run is a full backup"));
  return true;
}

// Each repository's route, into the record (engine, layout, reason) and the run's jobs.
std::vector<EngineJob> route_repositories(const Router& router, const std::vector<Repository>& repos,
                                          BackupRecord& rec) {
  std::vector<EngineJob> jobs;
  for (const auto& repo : repos) {
    Route route = router.route(repo.storage, repo.relative_path, repo.project_path);
    RepositoryRecord rr;
    rr.storage = repo.storage;
    rr.relative_path = repo.relative_path;
    rr.project_path = repo.project_path;
    rr.engine = route.engine;
    rr.layout = route.layout;
    rr.reason = route.reason;
    rec.repositories.push_back(std::move(rr));
    jobs.push_back({repo.storage, repo.relative_path, repo.project_path, route.engine});
  }
  return jobs;
}

// How each engine's outcome lands in the record: the legacy engine fills the repository's
// entry in place; the worker's entry comes whole in its log line.
RepositoryRun::Engines backup_engines(Sink& sink, const std::vector<Repository>& repos,
                                      const RepositoryBackupOptions& repo_options, BackupRunResult& result) {
  BackupRecord& rec = result.record;
  RepositoryRun::Engines engines;
  engines.legacy = [&sink, &repos, &repo_options, &rec](std::size_t i) {
    const Repository& repo = repos[i];
    RepositoryRecord& rr = rec.repositories[i];
    const std::string named = sink.repository_path_in(repo.storage, repo.relative_path);
    if (named != repo.relative_path) rr.files_path = named;
    backup_repository(
        repo, sink, [&](int) { return legacy_layout_files(rec.id, repo.storage, named); }, repo_options, rr);
    return outcome_of(rec.repositories[i]);
  };
  engines.worker_result = [&rec](std::size_t i, const WorkerAnswer& line) -> std::optional<JobOutcome> {
    if (line.repository.is_null()) return std::nullopt;
    RepositoryRecord& rr = rec.repositories[i];
    RepositoryRecord done = repository_from_json(line.repository);
    done.engine = rr.engine;
    done.reason = rr.reason;
    done.project_path = rr.project_path;
    rr = std::move(done);
    return outcome_of(rr);
  };
  engines.done = [&result](std::size_t i, const JobOutcome& outcome) {
    RepositoryRecord& rr = result.record.repositories[i];
    if (outcome.status == ItemStatus::Failed) {
      rr.mark_failed(outcome.error);
      result.failures.push_back({rr.storage, rr.relative_path, rr.project_path, rr.error});
    } else if (outcome.status == ItemStatus::NotAttempted) {
      rr.mark_failed(outcome.error);  // nothing of it is named
      rr.status = ItemStatus::NotAttempted;  // said once for all of them (stop_reason_of)
    }
    rr.seconds = outcome.seconds;
  };
  return engines;
}

// The record's end: its status from the repositories' and the run's failures, written after
// every file of the run is durable. A record that cannot be written leaves "running" behind.
void finish_record(Sink& sink, BackupRunResult& result) {
  BackupRecord& rec = result.record;
  std::size_t failed = rec.count(ItemStatus::Failed) + rec.count(ItemStatus::NotAttempted);
  rec.status = failed == 0 ? BackupStatus::Complete
                           : (failed == rec.repositories.size() ? BackupStatus::Failed : BackupStatus::Partial);
  if (failed == 0 && !result.failures.empty()) rec.status = BackupStatus::Partial;  // the worker failed
  rec.finished_at = utc_now_rfc3339();
  try {
    sink.sync();  // every file written by this run (here or by the worker) is durable first
    if (sealed_layer(sink)) {  // what prune and a quick verify read where no identity is
      ChainReader chains(sink);
      write_redacted_record(sink, rec, chains);
    }
    write_record(sink, rec);
    sink.sync();
  } catch (const std::exception& e) {
    result.failures.push_back({"-", "-", "", std::string("cannot write the backup record: ") + e.what()});
    rec.status = BackupStatus::Failed;
  }
}

// The worker's command line for this backup: every storage, the manifest layout, and the
// backups an incremental builds on — or, for a full backup, the backups whose full bundles
// of unchanged repositories it takes again.
WorkerCommand create_worker(const BackupRunOptions& o, const std::string& id, const std::vector<std::string>& bases,
                            bool full) {
  std::set<std::string> all;
  for (const auto& s : o.storages) all.insert(s.name);
  std::vector<std::string> extra = {"--layout", "manifest"};
  if (!bases.empty()) extra.push_back(full ? "--reuse-full-steps" : "--incremental");
  for (const auto& b : bases) extra.insert(extra.end(), {"--previous-id", b});
  if (!bases.empty() && o.max_chain > 0) extra.insert(extra.end(), {"--max-chain", std::to_string(o.max_chain)});
  return worker_command(o, "create", id, all, extra);
}

// On a destination that locks what it writes, what this backup needs stays locked as long as
// it (backup/object_locks.h). A failure leaves the backup partial: it is never called complete
// while it depends on an object that can be deleted.
void keep_what_it_needs_locked(Sink& sink, BackupRunResult& result, RunObserver& observer) {
  if (sink.lock_for() <= 0) return;
  try {
    LockExtension ext = keep_needs_locked(sink, result.record, parse_rfc3339(result.record.started_at));
    if (!ext.backups.empty())
      observer.note("Object Lock: " + std::to_string(ext.objects) + " objects of " + std::to_string(ext.backups.size()) +
                    " earlier backup(s) this one needs extended (" + ext.backups.front() +
                    (ext.backups.size() > 1 ? " … " + ext.backups.back() : "") + ")");
  } catch (const std::exception& e) {
    result.failures.push_back({"-", "-", "", std::string("cannot keep the earlier backups this one needs locked: ") + e.what()});
  }
}

// A backup id is written once: by one host, or once by each host of several.
void refuse_existing(Sink& sink, const BackupRecord& rec) {
  if (sink.exists("backup_ids/" + rec.id))  // gitaly-backup's marker of its own backup
    throw Error(ErrorCode::Usage, "backup " + rec.id + " already exists in " + sink.describe("") +
                                      " (written by gitaly-backup)");
  std::vector<std::string> files = record_files(sink, rec.id);
  if (files.empty()) return;
  if (rec.hosts.empty())
    throw Error(ErrorCode::Usage, "backup " + rec.id + " already exists in " + sink.describe(""));
  for (const auto& f : files) {
    if (f == record_name(rec.id))
      throw Error(ErrorCode::Usage, "backup " + rec.id + " already exists in " + sink.describe("") +
                                        " as a backup of one host");
    if (f == record_part_name(rec.id, rec.host))
      throw Error(ErrorCode::Usage, "host " + rec.host + " has written its part of backup " + rec.id + " already (" +
                                        sink.describe(f) + ")");
  }
}

// Why the run must stop before its next repository: its lock on the destination was lost, or
// the destination cannot be reached; empty to go on (RepositoryRun::set_stop_check).
std::string stop_reason(const RunLocks& locks, Sink& sink) {
  if (std::string lost = locks.lost(); !lost.empty()) return "it lost its lock on " + sink.describe("") + " (" + lost + ")";
  return sink.unreachable();
}

// The repositories a stopped run did not attempt, said once for all of them.
void report_not_attempted(BackupRunResult& result) {
  const BackupRecord& rec = result.record;
  const std::size_t n = rec.count(ItemStatus::NotAttempted);
  if (n == 0) return;
  auto first = std::find_if(rec.repositories.begin(), rec.repositories.end(),
                            [](const RepositoryRecord& r) { return r.status == ItemStatus::NotAttempted; });
  result.failures.push_back({"*", "*", "", "the backup stopped: " + first->error + "; " + std::to_string(n) +
                                               " repositor" + (n == 1 ? "y" : "ies") + " not attempted"});
}

// A default id (UTC seconds) that a run of the same second has taken already — a run killed
// and restarted at once by systemd's Restart=on-failure — gives way to the next second's.
void take_free_default_id(Sink& sink, BackupRecord& rec, RunObserver& observer) {
  for (int tries = 0; tries < 5 && (!record_files(sink, rec.id).empty() || sink.exists("backup_ids/" + rec.id));
       ++tries) {
    const std::string taken = rec.id;
    while (default_backup_id() == taken) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    rec.id = default_backup_id();
    observer.note("backup " + taken + " exists already (a run of the same second): this backup is " + rec.id);
  }
}

}  // namespace

std::vector<Repository> select_repositories(const std::vector<Storage>& storages, const PathFilter& filter,
                                            std::vector<std::string>* warnings) {
  std::vector<Repository> out;
  for (const auto& s : storages)
    for (auto& repo : discover_repositories(s, warnings))
      if (filter.selects(repo.relative_path, repo.project_path)) out.push_back(std::move(repo));
  // Pools first: a fork network's member is backed up on its pool's backup of this run, which
  // the worker finds only when the pool's job came before it (gitaly/worker.h).
  std::set<std::string> pools;
  for (const auto& r : out)
    if (!r.pool.empty()) pools.insert(job_key(r.storage, r.pool));
  std::stable_partition(out.begin(), out.end(),
                        [&](const Repository& r) { return pools.count(job_key(r.storage, r.relative_path)) > 0; });
  return out;
}

BackupRunResult run_backup(const BackupRunOptions& o, Sink& sink) {
  const auto t0 = std::chrono::steady_clock::now();
  RunObserver& observer = o.observer ? *o.observer : silent_observer();
  if (o.storages.empty()) throw Error(ErrorCode::Config, "no storage given (--storage NAME=DIR or --config)");
  validate_storages(o.storages, true);
  BackupRunResult result;
  BackupRecord& rec = result.record;
  rec.id = o.id.empty() ? default_backup_id() : o.id;
  if (!valid_backup_id(rec.id)) throw Error(ErrorCode::Usage, "invalid backup id '" + rec.id + "'");
  // Several hosts, one backup: each host writes its part under the id they share.
  rec.hosts = o.hosts;
  rec.host = o.hosts.empty() ? host_name() : o.host;
  if (!rec.hosts.empty() && o.id.empty())
    throw Error(ErrorCode::Usage, "a backup of several hosts needs the same --id on every host (for example --id "
                                  "$(date -u +%Y%m%d) from the timer)");
  if (!rec.hosts.empty() && std::find(rec.hosts.begin(), rec.hosts.end(), rec.host) == rec.hosts.end())
    throw Error(ErrorCode::Config, "host '" + rec.host + "' is not one of the config's hosts");
  // One writer per backup directory (per host, for a backup of several hosts); storages are
  // read while no restore swaps their repositories.
  RunLocks locks(sink, LockMode::Exclusive, o.storages, LockMode::Shared, "backup", rec.id, o.lock_wait, o.host);
  for (const auto& n : locks.notes()) observer.note(n);
  if (o.id.empty()) take_free_default_id(sink, rec, observer);
  refuse_existing(sink, rec);

  // The flag state and the headers a night needs, read once: every repository sees the same.
  Router router(o.flags_store);
  const std::int64_t moment = moment_of_run(rec.id);
  std::vector<BackupRecord> headers = headers_a_night_needs(sink, o, moment);
  router.remember_from(sink, headers);
  rec.flags = router.snapshot();
  for (const auto& w : router.warnings()) observer.warning(w);
  rec.incremental = o.incremental && !full_backup_due(o, headers, moment, observer);
  // A night builds on the chain bases; a full backup takes again from them the full bundles
  // of repositories whose refs did not change.
  std::vector<std::string> bases;
  if (rec.incremental) bases = previous_backups(o, sink, headers, observer);
  else if (!o.independent) bases = reusable_full_steps(sink, headers);
  if (rec.incremental && !bases.empty()) rec.previous_id = bases.front();
  // The worker starts now unless the flag is off for every repository (then it never runs).
  std::optional<WorkerCommand> worker;
  if (router.pipeline_may_be_used()) worker = create_worker(o, rec.id, bases, !rec.incremental);
  RepositoryRun run("backup", "backing up", worker, observer);

  std::vector<std::string> warnings;
  std::vector<Repository> repos = select_repositories(o.storages, o.filter, &warnings);
  for (const auto& w : warnings) observer.warning(w);
  if (repos.empty() && !o.filter.empty())
    throw Error(ErrorCode::Usage, "no repository matches --repositories-paths/--skip-repositories-paths");

  rec.started_at = utc_now_rfc3339();
  rec.gitvault_version = GITVAULT_VERSION;
  for (const auto& s : o.storages) rec.storages.push_back(s.name);
  std::vector<EngineJob> jobs = route_repositories(router, repos, rec);
  // "running": a run that dies stays visibly unfinished — except where every name is written
  // once, and the record only at the end (Sink::append_only).
  if (!sink.append_only()) write_record(sink, rec);

  RepositoryBackupOptions repo_options;
  repo_options.pack_threads = o.pack_threads;
  run.set_stop_check([&locks, &sink] { return stop_reason(locks, sink); });
  run.run(jobs, backup_engines(sink, repos, repo_options, result));
  report_not_attempted(result);
  result.worker_peak_rss_kib = run.worker_peak_rss_kib();
  if (std::string why = run.worker_failure(); !why.empty()) result.failures.push_back({"*", "*", "", why});
  keep_what_it_needs_locked(sink, result, observer);

  finish_record(sink, result);
  if (!rec.hosts.empty()) {
    try {
      result.whole = read_record_header(sink, rec.id);
    } catch (const std::exception& e) {
      observer.warning(std::string("cannot read backup ") + rec.id + " as a whole: " + e.what());
    }
  }
  result.exit_code = rec.status == BackupStatus::Complete ? 0 : 1;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.peak_rss_kib = peak_rss_kib();
  return result;
}

}  // namespace gitvault
