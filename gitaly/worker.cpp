#include "gitaly/worker.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "backup/catalog.h"
#include "backup/layout.h"
#include "backup/destination_open.h"
#include "destination/s3_sink.h"
#include "backup/manifest.h"
#include "base/scheduler.h"
#include "backup/record.h"
#include "backup/repository_backup.h"
#include "backup/run_locks.h"
#include "gitaly/protocol.h"
#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "base/system.h"
#include "git/refs.h"
#include "restore/repository_restore.h"

using nlohmann::json;

namespace gitvault {
namespace {

using Options = WorkerOptions;

class Logger {
 public:
  explicit Logger(std::FILE* out) : out_(out) {}
  void log(WorkerAnswer answer) {
    answer.time = utc_now_rfc3339();
    std::string text = format_worker_answer(answer) + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    if (std::fwrite(text.data(), 1, text.size(), out_) != text.size() || std::fflush(out_) != 0)
      reader_gone_ = true;  // whoever drives us is gone (EPIPE): stop taking new jobs
  }
  bool reader_gone() const { return reader_gone_; }
  void failure(const std::string& rel, const std::string& project, const std::string& error) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.push_back(" - " + rel + " (" + project + "): " + error);
  }
  std::vector<std::string> failures() {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }
  void restored(const std::string& storage) {
    std::lock_guard<std::mutex> lock(mu_);
    restored_storages_.insert(storage);
  }
  bool restored_into(const std::string& storage) {
    std::lock_guard<std::mutex> lock(mu_);
    return restored_storages_.count(storage) > 0;
  }

 private:
  std::mutex mu_;
  std::FILE* const out_;
  std::vector<std::string> failures_;  // guarded by mu_
  std::set<std::string> restored_storages_;  // guarded by mu_
  std::atomic<bool> reader_gone_{false};
};



// What each job of this run came to, for the jobs that wait on another: a fork network's
// member on its pool (backed up first, so that the fork's bundle holds only what the pool
// lacks; restored first, so that the fork can link to it). A job waits only for a job read
// before it: the scheduler starts a storage's jobs in the order they were read, and a pool is
// in its forks' storage, so the awaited job has started and no waiting can deadlock.
class JobBoard {
 public:
  struct Result {
    bool ok = false;
    // create: the repository's entry and tips, from which a fork builds on it when it is a
    // pool (pool_of_job: only then is its chain read, when its record names a chain file).
    RepositoryRecord entry;
    std::vector<std::string> tips;
  };
  // Numbers the job; the first job of a repository is the one others wait for.
  std::size_t read(const WorkerJob& job) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::size_t seq = next_++;
    entries_.try_emplace(job_key(job.storage, job.relative_path), Entry{seq, false, nullptr});
    return seq;
  }
  // The job's end (only the first call of the job that is waited for counts).
  void finished(const WorkerJob& job, std::size_t seq, std::shared_ptr<const Result> result) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = entries_.find(job_key(job.storage, job.relative_path));
      if (it == entries_.end() || it->second.seq != seq || it->second.done) return;
      it->second.done = true;
      it->second.result = std::move(result);
    }
    cv_.notify_all();
  }
  // The result of the repository's job when it was read before job `seq`; nullptr when there
  // was none, or it ended without one.
  std::shared_ptr<const Result> wait_for(const std::string& storage, const std::string& relative_path,
                                         std::size_t seq) {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = entries_.find(job_key(storage, relative_path));
    if (it == entries_.end() || it->second.seq >= seq) return nullptr;
    cv_.wait(lock, [&] { return it->second.done; });
    return it->second.result;
  }

 private:
  struct Entry {
    std::size_t seq;
    bool done;
    std::shared_ptr<const Result> result;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t next_ = 0;                 // guarded by mu_
  std::map<std::string, Entry> entries_;  // guarded by mu_
};

// A repository's entry in a backup, and the backup that wrote it (the step an incremental
// create builds on names it).
struct FoundEntry {
  RepositoryRecord repository;
  std::string backup_id;
};

// Where a repository's files are found: for a restore, in one backup (named, or the newest
// complete one); for an incremental create, in the backups it builds on (newest first, each
// repository from the first that has it backed up: chain_bases_of). From their records when
// there are any, else from the repositories' manifests (of the backup named, or +latest).
class BackupSource {
 public:
  BackupSource(Sink& sink, std::vector<std::string> ids)
      : sink_(sink), ids_(std::move(ids)), catalog_(sink), chains_(sink) {
    for (const auto& id : ids_) {
      std::optional<BackupRecord> record;
      try {
        record = read_record_if_any(id);
      } catch (const Error& e) {
        // A sealed record this host can neither open nor find in its shadow (another host
        // wrote it, or the shadow was lost): its repositories get full steps (previous_entry).
        if (e.code() != ErrorCode::Config) throw;
      }
      if (!record) continue;
      std::map<std::string, std::size_t> index;
      for (std::size_t i = 0; i < record->repositories.size(); ++i)
        index[job_key(record->repositories[i].storage, record->repositories[i].relative_path)] = i;
      records_.push_back({std::move(*record), std::move(index)});
    }
  }
  // A restore's source: backup `id`, or the newest complete one when it is empty.
  static std::vector<std::string> restore_ids(Sink& sink, const std::string& id) {
    std::string use = id.empty() ? BackupCatalog(sink).newest_complete(nullptr).value_or("") : id;
    return use.empty() ? std::vector<std::string>{} : std::vector<std::string>{use};
  }
  // The earlier steps of an entry find returned, read from the chain file it names (a
  // restore needs them; a night only for a repository that changed).
  void load_chain(RepositoryRecord& r) { chains_.load(r); }
  std::vector<ChainStep> chain_of(const RepositoryRecord& r) { return chains_.steps_of(r); }
  // Throws Error(NotFound) when no backup has anything for the repository. An entry that was
  // not backed up (failed) is returned only when no backup has one that was.
  FoundEntry find(const WorkerJob& job) {
    if (!records_.empty()) {
      const std::string key = job_key(job.storage, job.relative_path);
      const Indexed* first = nullptr;
      for (const auto& r : records_) {
        auto it = r.index.find(key);
        if (it == r.index.end()) continue;
        if (r.record.repositories[it->second].backed_up()) return {r.record.repositories[it->second], r.record.id};
        if (!first) first = &r;
      }
      if (first) return {first->record.repositories[first->index.at(key)], first->record.id};
      throw Error(ErrorCode::NotFound, "backup " + records_.front().record.id + " has no repository " + job.relative_path);
    }
    const std::string id = ids_.empty() ? "" : ids_.front();
    std::string name = id.empty() ? latest_manifest_name(job.storage, job.relative_path)
                                  : manifest_name(id, job.storage, job.relative_path);
    if (!sink_.exists(name)) throw Error(ErrorCode::NotFound, "no backup: " + sink_.describe(name) + " does not exist");
    std::string text = read_whole(sink_, name);
    FoundEntry found;
    RepositoryRecord& rr = found.repository;
    rr.storage = job.storage;
    rr.relative_path = job.relative_path;
    rr.project_path = job.project_path;
    parse_manifest(text, sink_.describe(name), rr);
    // From a +latest manifest, the backup is the directory of its refs file
    // (<storage>/<path>/<id>/NNN.refs).
    found.backup_id = !id.empty() || !rr.refs ? id
                                              : std::filesystem::path(rr.refs->name).parent_path().filename().string();
    return found;
  }

 private:
  struct Indexed {
    BackupRecord record;
    std::map<std::string, std::size_t> index;
  };
  // Backup `id`'s record (one read: no separate existence check; gitaly-backup's own backup
  // read from its manifests), nullopt when it has none.
  std::optional<BackupRecord> read_record_if_any(const std::string& id) {
    try {
      return catalog_.read(id);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::NotFound) return std::nullopt;
      throw;
    }
  }
  Sink& sink_;
  std::vector<std::string> ids_;
  BackupCatalog catalog_;
  ChainReader chains_;
  std::vector<Indexed> records_;
};

// The entry with its earlier steps read, when it names the chain file they are in instead.
RepositoryRecord with_chain(const RepositoryRecord& rr, BackupSource* previous) {
  RepositoryRecord out = rr;
  if (!out.chain_read() && previous) previous->load_chain(out);
  return out;
}

// A fork network's member: the pool it borrows objects from, as this run backed it up, when
// it did (before this job); otherwise nullopt, with a warning saying why (manifest layout only:
// chains need it).
std::optional<PoolBackup> pool_of_job(const Options& o, const Storage& storage, const std::string& path,
                                      JobBoard& board, std::size_t seq, BackupSource* previous, RepositoryRecord& rr) {
  if (o.layout != Layout::Manifest) return std::nullopt;
  const std::string pool = borrowed_objects_repository(storage, path);
  if (pool.empty()) return std::nullopt;
  auto done = board.wait_for(storage.name, pool, seq);
  if (done && !done->tips.empty())
    if (auto backup = pool_backup_of(with_chain(done->entry, previous), o.id, done->tips)) return backup;
  rr.warnings.push_back("its pool " + pool + (done ? " has no backup in this run" : " was not backed up before it in this run") +
                        ": a full, self-contained bundle");
  return std::nullopt;
}

// The destination stopped answering (`why`): the repository is not attempted, said once at
// the end of the run (run_worker_jobs) instead of each repository retrying on its own.
void mark_not_attempted(RepositoryRecord& rr, const std::string& why, WorkerAnswer::Kind& kind, std::string& level) {
  rr.status = ItemStatus::NotAttempted;
  rr.error = why;
  kind = WorkerAnswer::Kind::NotAttempted;
  level = "warn";
}

// The start of every answer about a job.
WorkerAnswer answer_about(const std::string& command, const WorkerJob& job, WorkerAnswer::Kind kind,
                          const std::string& level) {
  WorkerAnswer a;
  a.kind = kind;
  a.command = command;
  a.level = level;
  a.names_job = true;
  a.job = job;
  return a;
}

// The repository's entry in the backups an incremental create builds on; none for a new
// repository, and a warning (a full bundle) when they cannot be read.
std::optional<FoundEntry> previous_entry(BackupSource* previous, const WorkerJob& job, RepositoryRecord& rr) {
  if (!previous) return std::nullopt;
  try {
    return previous->find(job);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::NotFound)
      rr.warnings.push_back(std::string("previous backup unreadable (") + e.what() + "): full bundle");
  }
  return std::nullopt;
}

// One create job.
void run_create(const Options& o, Sink& sink, BackupSource* previous, Logger& logger, JobBoard& board,
                const WorkerJob& job, std::size_t seq) {
  auto t0 = std::chrono::steady_clock::now();
  logger.log(answer_about("create", job, WorkerAnswer::Kind::Started, "info"));
  RepositoryRecord rr;
  rr.storage = job.storage;
  rr.relative_path = job.relative_path;
  rr.project_path = job.project_path;
  rr.engine = Engine::Pipeline;
  rr.layout = o.layout;
  WorkerAnswer::Kind kind = WorkerAnswer::Kind::Completed;
  std::string level = "info";
  std::vector<std::string> tips;
  if (std::string dead = sink.unreachable(); !dead.empty()) {
    mark_not_attempted(rr, dead, kind, level);
  } else try {
    const Storage* st = find_storage(o.storages, job.storage);
    if (!st) throw Error(ErrorCode::Config, "unknown storage '" + job.storage + "'");
    std::string path = resolve_repository_path(*st, job.relative_path);
    if (!is_bare_repository(path)) {
      rr.status = ItemStatus::Skipped;
      rr.error = "repository does not exist: " + path;
    } else {
      Repository repo{job.storage, job.relative_path, job.project_path, path, ""};
      const std::string named = sink.repository_path_in(job.storage, job.relative_path);
      if (named != job.relative_path) rr.files_path = named;
      StepFiles files = [&](int step) {
        return o.layout == Layout::Legacy ? legacy_layout_files(o.id, job.storage, named)
                                    : manifest_layout_files(o.id, job.storage, named, step);
      };
      RepositoryBackupOptions ro;
      const std::optional<PoolBackup> pool = pool_of_job(o, *st, path, board, seq, previous, rr);
      ro.pool = pool ? &*pool : nullptr;
      ro.tips_out = &tips;
      ro.pack_threads = git_threads_per_job(o.parallel);
      ro.reuse_single_pack = true;
      ro.keep_pack_index = true;
      ro.small_increments_in_process = true;
      ro.max_chain = o.max_chain;
      const std::optional<FoundEntry> prev = previous_entry(previous, job, rr);
      if (prev) {
        ro.previous = &prev->repository;
        ro.previous_id = prev->backup_id;
        ro.full = !o.incremental;
        ro.chain_of = [previous](const RepositoryRecord& r) { return previous->chain_of(r); };
      }
      backup_repository(repo, sink, files, ro, rr);
      // An unchanged step writes nothing at all: the record holds it, and +latest.toml
      // already describes the same refs and files (unless only the hooks changed). A
      // manifest lists every step; the record names the chain file instead.
      if (has_own_manifest(rr)) write_manifests(sink, o.id, with_chain(rr, previous));
    }
    if (rr.status != ItemStatus::Ok) {
      kind = WorkerAnswer::Kind::Skipped;
      level = "warn";
    }
  } catch (const std::exception& e) {
    rr.mark_failed(e.what());
    if (std::string gone = sink.unreachable(); !gone.empty()) {  // it died under this job
      mark_not_attempted(rr, gone, kind, level);
    } else {
      kind = WorkerAnswer::Kind::Failed;
      level = "error";
      logger.failure(job.relative_path, job.project_path, rr.error);
    }
  }
  rr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WorkerAnswer l = answer_about("create", job, kind, level);
  l.duration_seconds = rr.seconds;
  l.bytes = rr.bytes;
  l.error = rr.error;
  l.repository = repository_to_json(rr);
  auto result = std::make_shared<JobBoard::Result>();
  result->ok = rr.backed_up();
  result->tips = std::move(tips);
  result->entry = std::move(rr);
  board.finished(job, seq, std::move(result));
  logger.log(l);
}

void run_restore(const Options& o, Sink& sink, BackupSource& source, Logger& logger, JobBoard& board,
                 const WorkerJob& job, std::size_t seq) {
  auto t0 = std::chrono::steady_clock::now();
  logger.log(answer_about("restore", job, WorkerAnswer::Kind::Started, "info"));
  WorkerAnswer::Kind kind = WorkerAnswer::Kind::Completed;
  std::string level = "info", error;
  std::uint64_t bytes = 0;
  bool ok = false;
  RestoredRepository restored;
  try {
    const Storage* st = find_storage(o.storages, job.storage);
    if (!st) throw Error(ErrorCode::Config, "unknown storage '" + job.storage + "'");
    RepositoryRecord rr;
    try {
      rr = source.find(job).repository;
      source.load_chain(rr);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::NotFound || !job.always_create) throw;
      std::string path = resolve_repository_path(*st, job.relative_path);
      if (!path_exists(path)) {
        init_bare_repository(path);
        logger.restored(job.storage);
        kind = WorkerAnswer::Kind::Skipped;
        level = "warn";
        error = std::string(e.what()) + "; created an empty repository (always_create)";
      }
    }
    if (!rr.storage.empty()) {
      RepositoryRestoreOptions ro;
      ro.index_threads = git_threads_per_job(o.parallel);
      ro.verify_objects = o.verify_objects;
      ro.pool_restored = [&](const std::string& pool) {
        auto done = board.wait_for(job.storage, pool, seq);
        return done && done->ok;
      };
      restored = restore_repository(rr, sink, *st, ro);
      bytes = restored.bytes;
      ok = true;
      logger.restored(job.storage);
    }
  } catch (const std::exception& e) {
    kind = WorkerAnswer::Kind::Failed;
    level = "error";
    error = e.what();
    logger.failure(job.relative_path, job.project_path, error);
  }
  auto result = std::make_shared<JobBoard::Result>();
  result->ok = ok;
  board.finished(job, seq, std::move(result));
  WorkerAnswer l = answer_about("restore", job, kind, level);
  l.linked_pool = restored.linked_pool;
  l.pool_pulled_in = restored.pool_pulled_in;
  l.duration_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  l.bytes = bytes;
  l.error = error;
  logger.log(l);
}

// Reads job lines until the end of `in` and runs each under the scheduler's limits. Every
// line gets an answer and nothing on one line can stop the lines after it.
void read_and_run_jobs(const Options& o, std::istream& in, Sink& sink, BackupSource* source, Logger& logger) {
  const bool create = o.command == "create";
  Scheduler scheduler(o.parallel, o.parallel_storage);
  JobBoard board;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      WorkerJob job = parse_job_line(line, line_no);
      const std::size_t seq = board.read(job);
      scheduler.submit(job.storage, [&, job, seq] {
        try {
          if (logger.reader_gone()) {
          } else if (create) {
            run_create(o, sink, source, logger, board, job, seq);
          } else {
            run_restore(o, sink, *source, logger, board, job, seq);
          }
        } catch (...) {
          // run_create/run_restore report their own failures; this is the last fence.
          logger.failure(job.relative_path, job.project_path, "internal error");
        }
        board.finished(job, seq, nullptr);  // no-op when the job said its result; never left waiting
      });
    } catch (const std::exception& e) {
      WorkerAnswer a;
      a.kind = WorkerAnswer::Kind::InvalidJob;
      a.command = o.command;
      a.level = "error";
      a.error = e.what();
      a.line = line_no;
      logger.log(a);
      logger.failure("stdin line " + std::to_string(line_no), "", e.what());
    }
  }
  scheduler.done();
}

// Restored repositories become durable before "finished" says the run is over: the storages
// this run restored into, and only those (others may not even exist).
void make_restores_durable(const Options& o, Logger& logger) {
  std::vector<const Storage*> used;
  for (const auto& st : o.storages)
    if (logger.restored_into(st.name)) used.push_back(&st);
  try {
    sync_restored_storages(used);
  } catch (const std::exception& e) {
    logger.failure("(all)", "", std::string("restored repositories may not be durable: ") + e.what());
  }
}

}  // namespace

int run_worker_jobs(WorkerOptions o, std::istream& in, std::FILE* out, std::FILE* err) {
  const bool create = o.command == "create";
  if (o.parallel <= 0) o.parallel = default_parallel();
  if (create && o.id.empty()) o.id = default_backup_id();
  if (!o.id.empty() && !valid_backup_id(o.id)) {
    std::fprintf(err, "gitaly-backup: invalid backup id '%s'\n", o.id.c_str());
    return 2;
  }

  std::unique_ptr<Sink> destination;
  try {
    destination = open_backup_destination(o.path, o.seal, create ? DestinationUse::Backup : DestinationUse::ReadContent, o.id);
  } catch (const Error& e) {
    std::fprintf(err, "gitaly-backup: %s\n", printable(e.what()).c_str());
    return 2;
  }
  Sink& sink = *destination;
  Logger logger(out);
  std::optional<RunLocks> locks;
  try {
    if (!o.no_lock)
      locks.emplace(sink, create ? LockMode::Exclusive : LockMode::Shared, o.storages,
                    create ? LockMode::Shared : LockMode::Exclusive, "gitaly-backup " + o.command, o.id,
                    std::chrono::milliseconds(0));
  } catch (const Error& e) {
    std::fprintf(err, "gitaly-backup: %s\n", printable(e.what()).c_str());
    return 2;
  }
  if (locks)
    for (const auto& n : locks->notes()) std::fprintf(err, "gitaly-backup: note: %s\n", printable(n).c_str());
  std::optional<BackupSource> source;
  if (create && (o.incremental || o.reuse_full_steps) && o.layout != Layout::Manifest) {
    std::fprintf(err, "gitaly-backup: -incremental and -reuse-full-steps need -layout manifest\n");
    return 2;
  }
  if (!create)
    for (const auto& st : o.storages) remove_stale_restore_dirs(st);  // leftovers of killed restores
  try {
    if (!create) {
      std::vector<std::string> ids = BackupSource::restore_ids(sink, o.id);
      ids.insert(ids.end(), o.fallback_ids.begin(), o.fallback_ids.end());
      source.emplace(sink, ids);
    }
    if (create && (o.incremental || (o.reuse_full_steps && !o.previous_ids.empty())))
      source.emplace(sink, o.previous_ids.empty() ? chain_bases_of(read_all_headers(sink, nullptr)) : o.previous_ids);
  } catch (const Error& e) {
    std::fprintf(err, "gitaly-backup: %s\n", printable(e.what()).c_str());
    return 1;
  }
  read_and_run_jobs(o, in, sink, source ? &*source : nullptr, logger);
  if (!create) make_restores_durable(o, logger);
  if (create)
    if (std::string dead = sink.unreachable(); !dead.empty())
      logger.failure("*", "", dead + ": the repositories after it were not attempted");
  if (create) {
    // The files of this run were committed without a sync each (Sink::create_new): one for
    // all of them before the run reports its end (gitvault's own sync then finds none left).
    try {
      sink.sync();
    } catch (const std::exception& e) {
      logger.failure("*", "", std::string("the backup's files may not be durable: ") + e.what());
    }
  }
  auto failures = logger.failures();
  WorkerAnswer end;
  end.kind = WorkerAnswer::Kind::Finished;
  end.command = o.command;
  end.level = "info";
  end.failures = failures.size();
  end.peak_rss_kib = peak_rss_kib();
  logger.log(end);
  if (failures.empty()) return 0;
  std::fprintf(err, "%s: pipeline: %zu failures encountered:\n", o.command.c_str(), failures.size());
  for (const auto& f : failures) std::fprintf(err, "%s\n", printable(f).c_str());
  return 1;
}

}  // namespace gitvault
