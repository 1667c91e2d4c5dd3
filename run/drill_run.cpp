#include "run/drill_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "backup/catalog.h"
#include "backup/run_locks.h"
#include "base/error.h"
#include "base/files.h"
#include "base/scheduler.h"
#include "gitaly/protocol.h"
#include "backup/proof_state.h"
#include "restore/restored_proof.h"

namespace gitvault {
namespace {

namespace fs = std::filesystem;

// Whether one of the two paths is the other or lies inside it (symbolic links resolved).
bool overlap(const std::string& a, const std::string& b) {
  std::error_code ec;
  std::string x = fs::weakly_canonical(a, ec).string() + "/";
  std::string y = fs::weakly_canonical(b, ec).string() + "/";
  return x.rfind(y, 0) == 0 || y.rfind(x, 0) == 0;
}

// A drill writes and removes repositories under its scratch directory: never where a live
// storage or the backup itself is.
void check_scratch(const DrillOptions& o) {
  if (o.scratch_dir.empty() || o.scratch_dir[0] != '/')
    throw Error(ErrorCode::Usage, "the drill's scratch directory must be an absolute path: '" + o.scratch_dir + "'");
  for (const auto& s : o.storages)
    if (overlap(o.scratch_dir, s.path))
      throw Error(ErrorCode::Usage, "scratch directory " + o.scratch_dir + " overlaps storage " + s.name + " (" + s.path +
                                        "): a drill never restores into a live storage; choose another --scratch");
  if (o.backup_path.rfind("s3://", 0) != 0 && !o.backup_path.empty() && overlap(o.scratch_dir, o.backup_path))
    throw Error(ErrorCode::Usage, "scratch directory " + o.scratch_dir + " overlaps the backup directory " +
                                      o.backup_path + "; choose another --scratch");
}

std::uint64_t chain_size(const RepositoryRecord& r) {
  std::uint64_t n = 0;
  for (const auto& f : distinct_chain_files(r)) n += f.size;
  return n;
}

struct Candidate {
  const RepositoryRecord* record;
  std::uint64_t size;
  std::int64_t last_drilled;  // 0: never
};

std::size_t sample_size(const DrillOptions& o, std::size_t candidates) {
  if (o.all) return candidates;
  std::size_t n = o.sample_count;
  if (o.sample_percent > 0) n = static_cast<std::size_t>(std::ceil(o.sample_percent * candidates / 100.0));
  return std::clamp<std::size_t>(n, 1, candidates);
}

// The sample: first the largest repositories in rotation (a fifth of the sample, at least
// one when it has two or more; among the largest tenth, the least recently drilled), then
// repositories never drilled, then random ones.
std::vector<DrilledRepository> choose_sample(std::vector<Candidate> cands, const DrillOptions& o) {
  std::vector<DrilledRepository> out;
  const std::size_t n = sample_size(o, cands.size());
  auto take = [&](const Candidate& c, const char* why) {
    out.push_back({c.record->storage, c.record->relative_path, c.record->project_path, why, c.size, {}});
  };
  if (n == cands.size()) {
    for (const auto& c : cands) take(c, o.all ? "all" : "random");
    return out;
  }
  std::mt19937_64 rng(o.seed ? o.seed : std::random_device{}());
  std::shuffle(cands.begin(), cands.end(), rng);
  std::vector<bool> picked(cands.size(), false);
  std::vector<std::size_t> by_size(cands.size());
  for (std::size_t i = 0; i < cands.size(); ++i) by_size[i] = i;
  std::stable_sort(by_size.begin(), by_size.end(), [&](auto a, auto b) { return cands[a].size > cands[b].size; });
  std::size_t largest = std::max<std::size_t>(n / 5, n >= 2 ? 1 : 0);
  std::size_t pool = std::max<std::size_t>(largest, (cands.size() + 9) / 10);
  by_size.resize(std::min(pool, by_size.size()));
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](auto a, auto b) { return cands[a].last_drilled < cands[b].last_drilled; });
  for (std::size_t k = 0; k < largest && k < by_size.size(); ++k) {
    picked[by_size[k]] = true;
    take(cands[by_size[k]], "largest in rotation");
  }
  for (std::size_t i = 0; i < cands.size() && out.size() < n; ++i)
    if (!picked[i] && cands[i].last_drilled == 0) {
      picked[i] = true;
      take(cands[i], "never drilled");
    }
  for (std::size_t i = 0; i < cands.size() && out.size() < n; ++i)
    if (!picked[i]) {
      picked[i] = true;
      take(cands[i], "random");
    }
  return out;
}

// The backup a drill takes: --id's, else the newest complete one.
BackupRecord backup_to_drill(const DrillOptions& o, BackupCatalog& catalog, Sink& sink) {
  std::string id = o.id;
  if (id.empty()) {
    std::vector<std::string> unreadable;
    auto newest = catalog.newest_complete(&unreadable);
    if (!newest) throw Error(ErrorCode::NotFound, "no complete backup in " + sink.describe("") + " to drill");
    id = *newest;
  }
  BackupRecord rec = catalog.read(id);
  if (rec.status == BackupStatus::Running)
    throw Error(ErrorCode::Usage, "backup " + rec.id + " never finished (its run died); pick another with --id");
  ChainReader(sink).load(rec);  // the sample goes by sizes, which are the chains'
  return rec;
}

// Each restored repository proven afresh, in parallel; problems go to the repository.
void prove_sample(DrillResult& result, const std::map<std::string, const RepositoryRecord*>& records,
                  const std::map<std::string, std::string>& scratch_of, Sink& sink, int parallel) {
  std::mutex mu;
  Scheduler scheduler(parallel, 0);
  for (auto& d : result.repositories) {
    if (!d.ok()) continue;
    scheduler.submit(d.storage, [&] {
      std::vector<std::string> found;
      try {
        found = prove_restored(*records.at(job_key(d.storage, d.relative_path)), sink,
                               scratch_of.at(d.storage) + "/" + d.relative_path);
      } catch (const std::exception& e) {
        found.push_back(e.what());
      }
      std::lock_guard<std::mutex> lock(mu);
      d.problems.insert(d.problems.end(), found.begin(), found.end());
    });
  }
  scheduler.done();
}

// The restore of the sample into scratch storages (one per storage name under `root`).
RestoreRunResult restore_sample(const DrillOptions& o, const BackupRecord& rec, const std::string& root,
                                DrillResult& result, std::map<std::string, std::string>& scratch_of, Sink& sink) {
  RestoreRunOptions ro;
  static_cast<RepositoryRunOptions&>(ro) = o;
  ro.storages.clear();
  ro.filter = PathFilter();
  ro.id = rec.id;
  ro.verify_objects = true;
  ro.caller_holds_locks = true;  // the drill's pin
  ro.index_threads = o.index_threads;
  ro.only.emplace();
  for (const auto& d : result.repositories) {
    ro.only->insert(job_key(d.storage, d.relative_path));
    if (!scratch_of.count(d.storage)) {
      std::string dir = root + "/storage-" + std::to_string(scratch_of.size() + 1);
      make_dirs(dir, 0700);
      scratch_of[d.storage] = dir;
      ro.storages.push_back({d.storage, dir});
    }
  }
  return run_restore(ro, sink);
}

void record_drill(DrillResult& result, Sink& sink, std::int64_t now) {
  DrillHistory h;
  for (const auto& d : result.repositories)
    if (d.ok()) h.drilled[{d.storage, d.relative_path}] = now;
  h.last_run = now;
  if (result.failed == 0 && result.problems.empty()) h.last_success = now;
  try {
    save_drill_history(sink, h);
  } catch (const std::exception& e) {
    result.problems.push_back(std::string("the drill could not be recorded (the next sample cannot know it): ") + e.what());
  }
}

void measure(DrillResult& result, const RestoreRunResult& rr) {
  result.bytes = rr.bytes;
  result.restore_seconds = rr.seconds;
  result.via_pipeline = rr.via_pipeline;
  result.via_legacy = rr.via_legacy;
  const double secs = std::max(rr.seconds, 1e-3);
  result.bytes_per_second = static_cast<double>(rr.bytes) / secs;
  result.repositories_per_second = static_cast<double>(result.repositories.size()) / secs;
  // The larger of the two extrapolations: by bytes, and by repositories (small repositories
  // cost their fixed overhead, large ones their bytes).
  double by_bytes = rr.bytes > 0 ? static_cast<double>(result.candidate_bytes) / result.bytes_per_second : 0;
  double by_count = static_cast<double>(result.candidates) / result.repositories_per_second;
  result.estimated_full_restore_seconds = std::max(by_bytes, by_count);
}

}  // namespace

DrillResult run_drill(const DrillOptions& o, Sink& sink) {
  const auto t0 = std::chrono::steady_clock::now();
  check_scratch(o);
  make_dirs(o.scratch_dir, 0700);
  DrillResult result;
  // Beside backups, never beside prune (backup/run_locks.h): the whole drill reads under it.
  ReaderPin pin(sink, "drill", o.id, o.lock_wait);
  result.notes = pin.notes();
  BackupCatalog catalog(sink);
  BackupRecord rec = backup_to_drill(o, catalog, sink);
  result.id = rec.id;
  result.backup_finished_at = rec.finished_at;
  DrillHistory history;
  try {
    history = read_drill_history(sink);
  } catch (const Error& e) {
    result.notes.push_back(std::string("drilled as if nothing had been drilled before: ") + e.what());
  }

  std::vector<Candidate> cands;
  std::map<std::string, const RepositoryRecord*> records;
  for (const auto& r : rec.repositories) {
    if (!r.backed_up() || !o.filter.selects(r.relative_path, r.project_path)) continue;
    auto it = history.drilled.find({r.storage, r.relative_path});
    cands.push_back({&r, chain_size(r), it == history.drilled.end() ? 0 : it->second});
    records[job_key(r.storage, r.relative_path)] = &r;
    result.candidate_bytes += cands.back().size;
  }
  result.candidates = cands.size();
  if (cands.empty()) throw Error(ErrorCode::Usage, "backup " + rec.id + ": no repository to drill matches the selection");
  result.repositories = choose_sample(cands, o);

  const std::string root = o.scratch_dir + "/drill-" + rec.id + "-" + unique_suffix();
  make_dirs(root, 0700);
  std::map<std::string, std::string> scratch_of;  // storage name -> its scratch storage
  try {
    RestoreRunResult rr = restore_sample(o, rec, root, result, scratch_of, sink);
    std::map<std::string, std::string> failed;
    for (const auto& f : rr.failures) {
      if (f.storage == "*") result.problems.push_back(f.reason);
      else failed[job_key(f.storage, f.relative_path)] = f.reason;
    }
    for (auto& d : result.repositories)
      if (auto it = failed.find(job_key(d.storage, d.relative_path)); it != failed.end())
        d.problems.push_back("restore failed: " + it->second);
    measure(result, rr);
    prove_sample(result, records, scratch_of, sink, o.parallel > 0 ? o.parallel : default_parallel());
  } catch (...) {
    remove_tree(root);
    throw;
  }
  try {
    remove_tree(root);
  } catch (const std::exception& e) {
    result.notes.push_back(std::string("the scratch directory could not be removed: ") + e.what());
  }

  for (const auto& d : result.repositories) result.failed += !d.ok();
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  record_drill(result, sink, now);
  try {
    history = read_drill_history(sink);  // with this drill, and any that ran beside it
  } catch (const Error&) {
  }
  for (const auto& c : cands) result.drilled_ever += history.drilled.count({c.record->storage, c.record->relative_path});
  result.last_success = history.last_success;
  result.exit_code = result.failed == 0 && result.problems.empty() ? 0 : 1;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace gitvault
