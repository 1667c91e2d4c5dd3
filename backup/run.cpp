#include "backup/run.h"

#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <thread>

#include "backup/layout.h"
#include "backup/pipeline.h"
#include "backup/repository_backup.h"
#include "backup/route.h"
#include "backup/run_locks.h"
#include "backup/worker_client.h"
#include "gitaly/encoding.h"
#include "gitaly/error.h"
#include "gitaly/system.h"

namespace gitvault {
namespace {

std::string progress_detail(const RepositoryRecord& rr) {
  return rr.status == "failed" ? rr.error : rr.engine + " (" + rr.reason + ")";
}

// The gitaly-backup worker of one run, which backs up the repositories the flag sends
// through the pipeline, concurrently. It is started before discovery, so that its start-up
// and its reading of the previous backup's record overlap ours, and fed the repositories
// once they are known.
class WorkerRun {
 public:
  WorkerRun(const BackupRunOptions& o, const std::string& id, const std::string& previous_id)
      : program_(o.worker_program.empty() ? default_worker_program() : o.worker_program) {
    std::vector<std::string> args = {"create", "--no-lock", "--path", o.backup_path, "--id", id, "--layout", "manifest",
                                     "--parallel-storage", std::to_string(o.parallel_storage)};
    if (o.parallel > 0) args.insert(args.end(), {"--parallel", std::to_string(o.parallel)});
    if (!previous_id.empty()) args.insert(args.end(), {"--incremental", "--previous-id", previous_id});
    for (const auto& s : o.storages) args.insert(args.end(), {"--storage", s.name + "=" + s.path});
    std::FILE* progress_out = o.progress_out;
    thread_ = std::thread([this, args, progress_out] {
      try {
        result_ = run_worker(
            program_, args, queue_, [this](const nlohmann::json& line) { on_line(line); },
            [progress_out](const std::string& text) {
              if (progress_out) std::fprintf(progress_out, "gitaly-backup: %s\n", text.c_str());
            });
      } catch (const std::exception& e) {
        result_.exit_code = -1;
        result_.err = e.what();
      }
    });
  }
  ~WorkerRun() {
    if (thread_.joinable()) {
      queue_.close();
      thread_.join();
    }
  }
  WorkerRun(const WorkerRun&) = delete;
  WorkerRun& operator=(const WorkerRun&) = delete;

  // Hands over the repositories at `indices`. rec.repositories must not change shape, and
  // rec and progress must outlive finish().
  void submit(BackupRecord& rec, const std::vector<std::size_t>& indices, Progress& progress) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      rec_ = &rec;
      progress_ = &progress;
      for (std::size_t i : indices)
        by_path_[job_key(rec.repositories[i].storage, rec.repositories[i].relative_path)] = i;
    }
    for (std::size_t i : indices) {
      const RepositoryRecord& rr = rec.repositories[i];
      queue_.push({rr.storage, rr.relative_path, rr.project_path, false});
    }
  }

  // Waits for the worker. Repositories it did not report are failed, with the reason.
  void finish(long& worker_peak_rss_kib) {
    queue_.close();
    thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    worker_peak_rss_kib = peak_rss_kib_;
    if (!rec_) return;
    bool died = result_.signal != 0 || (result_.exit_code != 0 && result_.exit_code != 1);
    for (const auto& [path, i] : by_path_) {
      RepositoryRecord& rr = rec_->repositories[i];
      if (rr.status != "pending") continue;
      rr.status = "failed";
      rr.error = "gitaly-backup worker (" + program_ + ") ended before backing up this repository: " +
                 (died ? result_.describe() : "no result reported");
      progress_->item_done(rr.storage, rr.relative_path, rr.status, 0, 0, rr.error);
    }
  }

 private:
  void on_line(const nlohmann::json& line) {
    std::lock_guard<std::mutex> lock(mu_);
    if (line.value("msg", "") == "finished") peak_rss_kib_ = line.value("peak_rss_kib", 0L);
    if (!rec_ || !line.contains("repository")) return;
    auto it = by_path_.find(job_key(line));
    if (it == by_path_.end()) return;
    RepositoryRecord& rr = rec_->repositories[it->second];
    if (rr.status != "pending") return;
    RepositoryRecord done = repository_from_json(line["repository"]);
    done.engine = rr.engine;
    done.reason = rr.reason;
    done.project_path = rr.project_path;
    rr = std::move(done);
    progress_->item_done(rr.storage, rr.relative_path, rr.status, rr.bytes, rr.seconds, progress_detail(rr));
  }

  const std::string program_;
  WorkerJobQueue queue_;
  ProcessResult result_;  // written by thread_, read after join
  std::thread thread_;
  std::mutex mu_;
  BackupRecord* rec_ = nullptr;                        // guarded by mu_
  Progress* progress_ = nullptr;                       // guarded by mu_
  std::map<std::string, std::size_t> by_path_;         // guarded by mu_
  long peak_rss_kib_ = 0;                              // guarded by mu_
};

}  // namespace

std::vector<Repository> select_repositories(const std::vector<Storage>& storages, const PathFilter& filter,
                                            std::vector<std::string>* warnings) {
  std::vector<Repository> out;
  for (const auto& s : storages)
    for (auto& repo : discover_repositories(s, warnings))
      if (filter.selects(repo.relative_path, repo.project_path)) out.push_back(std::move(repo));
  return out;
}

BackupRunResult run_backup(const BackupRunOptions& o, Sink& sink) {
  if (o.storages.empty()) throw Error(ErrorCode::Config, "no storage given (--storage NAME=DIR or --config)");
  validate_storages(o.storages, true);
  BackupRunResult result;
  BackupRecord& rec = result.record;
  rec.id = o.id.empty() ? default_backup_id() : o.id;
  if (!valid_backup_id(rec.id)) throw Error(ErrorCode::Usage, "invalid backup id '" + rec.id + "'");
  std::FILE* log = o.progress_out ? o.progress_out : stderr;
  // One writer per backup directory; storages are read while no restore swaps their repositories.
  RunLocks locks(sink, LockMode::Exclusive, o.storages, LockMode::Shared, "backup", rec.id, o.lock_wait);
  for (const auto& n : locks.notes()) std::fprintf(log, "note: %s\n", printable(n).c_str());
  if (sink.exists(record_name(rec.id)))
    throw Error(ErrorCode::Usage, "backup " + rec.id + " already exists in " + sink.describe(""));

  // The flag state is read once: every repository of this run sees the same state.
  Router router(o.flags_store);
  // Every record's header is read once: for the flags' remembered state and the previous backup.
  std::vector<BackupRecord> headers = read_all_headers(sink, nullptr);
  router.remember_from(sink, headers);
  rec.flags = router.snapshot();
  for (const auto& w : router.warnings()) std::fprintf(log, "warning: %s\n", printable(w).c_str());

  // Incremental: the steps build on the newest complete backup, or the one named.
  if (o.incremental) {
    rec.incremental = true;
    if (!o.previous_id.empty()) {
      BackupRecord prev = read_record_header(sink, o.previous_id);  // Error(NotFound) -> usage
      if (prev.status == "running")
        throw Error(ErrorCode::Usage, "backup " + prev.id + " never finished; it cannot be the previous backup");
      rec.previous_id = prev.id;
    } else {
      rec.previous_id = newest_complete_of(headers).value_or("");
      if (rec.previous_id.empty())
        std::fprintf(log, "note: no complete backup in %s yet: every repository gets a full step\n",
                     sink.describe("").c_str());
    }
  }

  // The worker starts now unless the flag is off for every repository (then it never runs).
  std::optional<WorkerRun> worker;
  if (router.pipeline_may_be_used()) worker.emplace(o, rec.id, rec.previous_id);

  std::vector<std::string> warnings;
  std::vector<Repository> repos = select_repositories(o.storages, o.filter, &warnings);
  for (const auto& w : warnings) std::fprintf(log, "warning: %s\n", printable(w).c_str());
  if (repos.empty() && !o.filter.empty())
    throw Error(ErrorCode::Usage, "no repository matches --repositories-paths/--skip-repositories-paths");

  rec.started_at = utc_now_rfc3339();
  rec.host = host_name();
  rec.gitvault_version = GITVAULT_VERSION;
  for (const auto& s : o.storages) rec.storages.push_back(s.name);
  std::vector<std::size_t> legacy, pipeline;
  for (const auto& repo : repos) {
    RepositoryRecord rr;
    rr.storage = repo.storage;
    rr.relative_path = repo.relative_path;
    rr.project_path = repo.project_path;
    Route route = router.route(repo.storage, repo.relative_path, repo.project_path);
    rr.engine = to_string(route.engine);
    rr.layout = to_string(route.layout);
    rr.reason = route.reason;
    rr.status = "pending";
    (route.engine == Engine::Pipeline ? pipeline : legacy).push_back(rec.repositories.size());
    rec.repositories.push_back(std::move(rr));
  }
  write_record(sink, rec);  // "running": a run that dies stays visibly unfinished

  Progress progress("backup", repos.size(), o.progress_out, o.output);
  // The legacy engine: one repository at a time, through the one scheduler (backup/pipeline.h),
  // beside the worker.
  Pipeline legacy_engine(1, 0);
  RepositoryBackupOptions repo_options;
  repo_options.pack_threads = o.pack_threads;
  for (std::size_t i : legacy)
    legacy_engine.submit(repos[i].storage, [&, i] {
      RepositoryRecord& rr = rec.repositories[i];
      const Repository& repo = repos[i];
      auto t0 = std::chrono::steady_clock::now();
      try {
        backup_repository(
            repo, sink, [&](int) { return legacy_layout_files(rec.id, repo.storage, repo.relative_path); },
            repo_options, rr);
      } catch (const std::exception& e) {
        rr.mark_failed(e.what());
      }
      rr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      progress.item_done(rr.storage, rr.relative_path, rr.status, rr.bytes, rr.seconds, progress_detail(rr));
    });
  if (worker) {
    if (!pipeline.empty()) worker->submit(rec, pipeline, progress);
    worker->finish(result.worker_peak_rss_kib);
  }
  legacy_engine.done();
  progress.finish();

  for (const auto& rr : rec.repositories)
    if (rr.status == "failed") result.failures.push_back({rr.storage, rr.relative_path, rr.project_path, rr.error});
  std::size_t failed = rec.count("failed");
  rec.status = failed == 0 ? "complete" : (failed == rec.repositories.size() ? "failed" : "partial");
  rec.finished_at = utc_now_rfc3339();
  try {
    sink.sync();  // every file written by this run (here or by the worker) is durable first
    write_record(sink, rec);
    sink.sync();
  } catch (const std::exception& e) {
    // The "running" record stays: the backup is not reported complete.
    result.failures.push_back({"-", "-", "", std::string("cannot write the backup record: ") + e.what()});
    rec.status = "failed";
  }
  result.exit_code = (rec.status == "complete") ? 0 : 1;
  result.seconds = progress.elapsed_seconds();
  result.peak_rss_kib = peak_rss_kib();
  return result;
}

}  // namespace gitvault
