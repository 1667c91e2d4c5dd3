#include "restore/verify.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "backup/catalog.h"
#include "backup/layout.h"
#include "backup/manifest.h"
#include "base/scheduler.h"
#include "backup/record.h"
#include "backup/run_locks.h"
#include "git/bundle.h"
#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "git/refs.h"
#include "restore/repository_restore.h"

namespace gitvault {
namespace {

struct Item {
  const BackupRecord* backup;
  const RepositoryRecord* repo;
};

// Results of file checks, shared by every repository of the run: a chain's earlier steps
// (and a fork network's pool steps, which every member's chain starts with) are hashed once
// even when several repositories or backups of the run name them — also when two of them
// reach the same file at the same time (the second waits for the first's result).
class FileChecks {
 public:
  std::string check(Sink& sink, const FileDigest& d, std::uint64_t& bytes) {
    std::string key = d.name + "\n" + d.sha256 + "\n" + std::to_string(d.size);
    std::promise<std::string> mine;
    std::shared_future<std::string> theirs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = done_.find(key);
      if (it != done_.end())
        theirs = it->second;
      else
        done_.emplace(key, mine.get_future().share());
    }
    if (theirs.valid()) return theirs.get();  // checked, or being checked by another repository
    std::string result;
    try {
      result = check_file(sink, d);
    } catch (...) {
      mine.set_exception(std::current_exception());
      throw;
    }
    bytes += d.size;
    mine.set_value(result);
    return result;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_future<std::string>> done_;  // guarded by mu_
};

std::vector<std::string> tips_of_refs_file(Sink& sink, const FileDigest& refs) {
  return ref_tips(parse_refs_file(read_verified(sink, refs), sink.describe(refs.name)));
}

std::vector<std::string> prerequisites_of(Sink& sink, const FileDigest& bundle) {
  auto reader = sink.open(bundle.name);
  std::string pack_start;
  return read_bundle_header(*reader, pack_start).prerequisites;
}

class RepositoryCheck {
 public:
  RepositoryCheck(Sink& sink, const Item& item, const VerifyOptions& o, FileChecks& files)
      : sink_(sink), b_(*item.backup), r_(*item.repo), o_(o), files_(files) {}

  std::vector<VerifyProblem> run(std::uint64_t& bytes, const std::string& scratch, int index_threads) {
    if (r_.status == ItemStatus::Failed) {
      problem("", "its backup failed: " + r_.error);
      return problems_;
    }
    if (!r_.backed_up()) return problems_;  // skipped (gone), pending (unfinished)
    check_chain_shape();
    for (const auto& f : chain_files(r_)) {
      std::string what = files_.check(sink_, f, bytes);
      if (what == "missing" && gitaly_empty() && is_bundle_of_chain(f.name)) continue;  // named, never written
      if (!what.empty()) problem(f.name, what);
    }
    if (!problems_.empty()) return problems_;  // missing or damaged files: nothing more to learn
    check_head();
    check_prerequisites();
    if (has_own_manifest(r_) && !r_.from_gitaly_backup) check_manifest();  // gitaly's: the record is its manifest
    if (o_.deep) deep(scratch, index_threads);  // every file matches its record: index them
    return problems_;
  }

 private:
  // gitaly-backup records every step of an empty repository with an empty .refs file and a
  // bundle_path it never writes (there is nothing to bundle): those bundles are not missing.
  bool gitaly_empty() const { return r_.from_gitaly_backup && r_.status == ItemStatus::Empty; }
  bool is_bundle_of_chain(const std::string& name) const {
    if (r_.bundle && r_.bundle->name == name) return true;
    return std::any_of(r_.previous_steps.begin(), r_.previous_steps.end(),
                       [&](const ChainStep& s) { return s.bundle && s.bundle->name == name; });
  }
  void problem(const std::string& file, const std::string& what) {
    problems_.push_back({b_.id, r_.storage, r_.relative_path, file.empty() ? "" : sink_.describe(file), what});
  }

  void check_chain_shape() {
    for (std::size_t i = 0; i < r_.previous_steps.size(); ++i)
      if (r_.previous_steps[i].number != static_cast<int>(i + 1))
        problem("", "chain step " + std::to_string(i + 1) + " is numbered " +
                        std::to_string(r_.previous_steps[i].number));
    if (r_.step != static_cast<int>(r_.previous_steps.size() + 1))
      problem("", "step " + std::to_string(r_.step) + " follows " + std::to_string(r_.previous_steps.size()) +
                      " earlier steps (chain incomplete)");
    try {
      check_pool_link(r_);
    } catch (const Error& e) {
      problem("", e.what());
    }
    if (!r_.refs && !(r_.from_gitaly_backup && r_.status == ItemStatus::Empty)) problem("", "no refs file recorded");
    if (r_.status == ItemStatus::Ok) {
      bool base_bundle = r_.previous_steps.empty() ? r_.bundle.has_value() : r_.previous_steps[0].bundle.has_value();
      if (!base_bundle) problem("", "the chain's first step has no bundle");
    }
  }

  void check_head() {
    if (!r_.refs) return;  // gitaly-backup's empty repository without files
    if (!sink_.can_read(r_.refs->name)) return;  // sealed, no identity here: checked as stored
    try {
      if (r_.from_gitaly_backup) {  // it records no HEAD object id nor ref count: the file must parse
        RefSnapshot snap = parse_refs_file(read_whole(sink_, r_.refs->name), sink_.describe(r_.refs->name));
        if (r_.status == ItemStatus::Empty && !snap.refs.empty())
          problem(r_.refs->name, "refs listed for a repository backed up empty");
        return;
      }
      RefSnapshot snap = parse_refs_file(read_verified(sink_, *r_.refs), sink_.describe(r_.refs->name));
      if (snap.head_oid != r_.head_oid) problem(r_.refs->name, "HEAD is " + snap.head_oid + ", the record says " + r_.head_oid);
      if (snap.refs.size() != r_.ref_count)
        problem(r_.refs->name, std::to_string(snap.refs.size()) + " refs, the record says " + std::to_string(r_.ref_count));
    } catch (const Error& e) {
      problem(r_.refs->name, e.what());
    }
  }

  // The chain's first bundle needs nothing; every increment's prerequisites are tips of the
  // step before it.
  void check_prerequisites() {
    if (!r_.refs || gitaly_empty()) return;  // nothing bundled
    std::vector<std::pair<const std::optional<FileDigest>*, const FileDigest*>> steps;  // bundle, refs
    for (const auto& s : r_.previous_steps) steps.push_back({&s.bundle, &s.refs});
    steps.push_back({&r_.bundle, &*r_.refs});
    // A sealed bundle this host cannot open (no identity) is checked by its size only.
    auto unreadable = [this](const FileDigest& d) { return !sink_.can_read(d.name); };
    if (const auto& first = *steps[0].first; first && !unreadable(*first)) {
      try {
        if (auto p = prerequisites_of(sink_, *first); !p.empty())
          problem(first->name, "the chain's first bundle has prerequisites (" + p[0] +
                                   ", ...): a step before it is missing; chain broken");
      } catch (const Error& e) {
        problem(first->name, e.what());
      }
    }
    for (std::size_t k = 1; k < steps.size(); ++k) {
      const auto& bundle = *steps[k].first;
      if (!bundle || unreadable(*bundle)) continue;
      try {
        std::vector<std::string> before = tips_of_refs_file(sink_, *steps[k - 1].second);  // sorted
        for (const auto& p : prerequisites_of(sink_, *bundle))
          if (!std::binary_search(before.begin(), before.end(), p)) {
            problem(bundle->name, "prerequisite " + p + " is not a tip of step " + std::to_string(k) + " (" +
                                      steps[k - 1].second->name + "): chain broken");
            break;
          }
      } catch (const Error& e) {
        problem(bundle->name, e.what());
      }
    }
  }

  void check_manifest() {
    std::string name = manifest_name(b_.id, r_.storage, r_.named_path());
    if (!sink_.exists(name)) {
      problem(name, "manifest missing");
      return;
    }
    if (!sink_.can_read(name)) return;  // sealed, and no identity here: present is all
    RepositoryRecord m;
    m.storage = r_.storage;
    m.relative_path = r_.relative_path;
    try {
      parse_manifest(read_whole(sink_, name), sink_.describe(name), m);
    } catch (const Error& e) {
      problem(name, e.what());
      return;
    }
    auto key = [](const std::vector<FileDigest>& files) {
      std::vector<std::string> out;
      for (const auto& f : files) out.push_back(f.name + " " + f.sha256 + " " + std::to_string(f.size));
      return out;
    };
    if (key(chain_files(m)) != key(chain_files(r_)) || m.head_oid != r_.head_oid)
      problem(name, "manifest and backup record disagree on the repository's files (truncated or edited manifest?)");
  }

  void deep(const std::string& scratch, int index_threads) {
    // A scratch storage of its own: checks run in parallel, and the same relative path
    // appears in several storages and in every night of a chain.
    std::string root = scratch + "/" + unique_suffix();
    RepositoryRestoreOptions ro;
    ro.index_threads = index_threads;
    ro.verify_objects = true;  // --deep always re-hashes every object
    try {
      make_dirs(root, 0700);
      restore_repository(r_, sink_, Storage{r_.storage, root}, ro);
    } catch (const std::exception& e) {
      problem("", std::string("restore into a scratch repository failed: ") + e.what());
    }
    try {
      remove_tree(root);
    } catch (...) {
    }
  }

  Sink& sink_;
  const BackupRecord& b_;
  const RepositoryRecord& r_;
  const VerifyOptions& o_;
  FileChecks& files_;
  std::vector<VerifyProblem> problems_;
};

// A fresh directory under `dir`, else under $TMPDIR or /tmp.
std::string scratch_root(const std::string& dir) {
  const char* t = std::getenv("TMPDIR");
  std::string base = !dir.empty() ? dir : t && *t ? t : "/tmp";
  return base + "/gitvault-verify-" + unique_suffix();
}

}  // namespace

namespace {

// The problem of a backup that is not complete, in words.
std::string why_not_complete(const BackupRecord& b) {
  if (b.status == BackupStatus::Running) return "backup never finished (its run died or is still running)";
  if (b.status == BackupStatus::Incomplete) {
    std::string what = "backup is incomplete: no part from host";
    for (const auto& p : b.parts)
      if (p.missing()) what += " " + p.host;
    return what + " (expected by the config of the hosts that wrote theirs)";
  }
  return std::string("backup is ") + to_string(b.status) + ": " + std::to_string(b.count(ItemStatus::Failed)) + " of " +
         std::to_string(b.repositories.size()) + " repositories failed";
}

// The records verify checks: those --id names, else the newest (or, with --all, every one).
// A record that cannot be read is a problem of the result; an id with no backup, or a
// directory with none, is Error(NotFound) (nothing to verify, exit 2).
std::vector<BackupRecord> records_to_verify(const VerifyOptions& o, Sink& sink, VerifyResult& result) {
  std::vector<BackupRecord> records;
  BackupCatalog catalog(sink);  // gitvault's backups and gitaly-backup's own
  if (o.at) {
    MomentSelection sel = catalog.at(*o.at, [](const RepositoryRecord&) { return true; });
    std::vector<std::vector<RepositoryRecord>> taken(sel.backups.size());
    for (const auto& c : sel.chosen) taken[c.backup].push_back(sel.repository(c));
    for (std::size_t i = 0; i < sel.backups.size(); ++i) {
      if (taken[i].empty()) continue;
      records.push_back(std::move(sel.backups[i]));
      records.back().repositories = std::move(taken[i]);
    }
    return records;
  }
  if (!o.ids.empty()) {
    for (const auto& id : o.ids) {
      try {
        records.push_back(catalog.read(id));
      } catch (const Error& e) {
        if (e.code() == ErrorCode::NotFound) throw;
        result.problems.push_back({id, "", "", describe_record(sink, id), e.what()});
      }
    }
    return records;
  }
  std::vector<std::string> read_errors;
  if (o.all) {
    records = catalog.read_all(&read_errors);
  } else if (auto newest = catalog.read_newest(&read_errors)) {  // not every record: flat in their number
    records.push_back(std::move(*newest));
  }
  for (const auto& e : read_errors) result.problems.push_back({"?", "", "", "", e});
  if (records.empty() && read_errors.empty()) throw Error(ErrorCode::NotFound, "no backup in " + sink.describe(""));
  return records;
}

// Every repository's earlier steps read from the chain file its entry names; a chain that
// cannot be read is that repository's problem, and it is not checked further.
void read_chains(Sink& sink, std::vector<BackupRecord>& records, VerifyResult& result) {
  ChainReader chains(sink);
  for (auto& b : records) {
    auto& repos = b.repositories;
    for (auto it = repos.begin(); it != repos.end();) {
      try {
        chains.load(*it);
        ++it;
      } catch (const Error& e) {
        result.problems.push_back({b.id, it->storage, it->relative_path, "", e.what()});
        it = repos.erase(it);
      }
    }
  }
}

}  // namespace

namespace {

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// A time budget: whether one more unit may start, given the time spent and the units done.
class TimeBudget {
 public:
  TimeBudget(double seconds, std::chrono::steady_clock::time_point start) : seconds_(seconds), start_(start) {}
  bool may_start() {
    if (seconds_ <= 0) return true;
    std::lock_guard<std::mutex> lock(mu_);
    double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    double average = done_ > 0 ? busy_ / static_cast<double>(done_) : 0;
    return spent + average <= seconds_;
  }
  void done(double unit_seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    busy_ += unit_seconds;
    ++done_;
  }

 private:
  const double seconds_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  double busy_ = 0;      // guarded by mu_
  std::size_t done_ = 0; // guarded by mu_
};

// Every repository of `records` that was backed up, as units of the rotation.
std::vector<RotationUnit> rotation_units(const std::vector<BackupRecord>& records) {
  std::vector<RotationUnit> units;
  for (const auto& b : records)
    for (const auto& r : b.repositories) {
      if (!r.backed_up()) continue;
      units.push_back({&b, &r, distinct_chain_files(r)});
    }
  return units;
}

// Checks `items` through the scheduler; `proven(i)` is called for each that passed deep.
void check_items(const VerifyOptions& o, Sink& sink, const std::vector<Item>& items, VerifyResult& result,
                 const std::function<void(std::size_t)>& proven, TimeBudget& time_budget) {
  RunObserver& observer = o.observer ? *o.observer : silent_observer();
  const int parallel = o.parallel > 0 ? o.parallel : default_parallel();
  const int index_threads = git_threads_per_job(parallel);
  std::string scratch;
  if (o.deep) {
    scratch = scratch_root(o.scratch_dir);
    make_dirs(scratch, 0700);
  }
  observer.started(o.deep ? "verify --deep" : "verify", items.size());
  FileChecks files;
  std::mutex mu;  // guards result
  {
    // The one scheduler of per-repository work (base/scheduler.h): at most `parallel` checks
    // at once, TBB's thread cap lifted for these blocking jobs; no per-storage limit (reads).
    Scheduler scheduler(parallel, 0);
    for (std::size_t i = 0; i < items.size(); ++i)
      scheduler.submit(items[i].repo->storage, [&, i] {
        if (!time_budget.may_start()) {
          std::lock_guard<std::mutex> lock(mu);
          ++result.not_reached;
          return;
        }
        auto t0 = std::chrono::steady_clock::now();
        std::uint64_t bytes = 0;
        std::vector<VerifyProblem> found;
        try {
          RepositoryCheck check(sink, items[i], o, files);
          found = check.run(bytes, scratch, index_threads);
        } catch (const std::exception& e) {
          found.push_back({items[i].backup->id, items[i].repo->storage, items[i].repo->relative_path, "", e.what()});
        }
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        time_budget.done(secs);
        observer.item_done({items[i].repo->storage, items[i].repo->relative_path,
                            found.empty() ? ItemStatus::Ok : ItemStatus::Failed, bytes, secs,
                            found.empty() ? items[i].backup->id : found[0].what});
        std::lock_guard<std::mutex> lock(mu);
        result.bytes += bytes;
        result.problems.insert(result.problems.end(), found.begin(), found.end());
        if (found.empty() && o.deep) proven(i);
      });
    scheduler.done();
  }
  observer.finished();
  if (!scratch.empty()) {
    try {
      remove_tree(scratch);
    } catch (...) {
    }
  }
}

// The proofs of a deep verify, kept in the destination: a rotating verify or one of every
// backup also closes the run (cycle, each backup's last full proof) and drops the proofs of
// files prune removed.
void save_proofs(Sink& sink, Rotation& rotation, bool saw_every_backup, RotationStatus status, VerifyResult& result,
                 bool rotating) {
  if (saw_every_backup) result.rotation = rotation.finish(status, unix_now());
  try {
    std::set<ProvenKey> named;
    if (saw_every_backup) named = rotation.named_files();
    save_proven_files(sink, rotation.state(), saw_every_backup ? &named : nullptr);
  } catch (const std::exception& e) {
    std::string what = std::string("the proofs of this run could not be recorded: ") + e.what();
    // A rotation that cannot remember where it stopped would repeat the same part every night.
    if (rotating) result.problems.push_back({"", "", "", sink.describe(kProvenFilesName), what});
    else result.notes.push_back(what);
  }
}

}  // namespace

VerifyResult run_verify(const VerifyOptions& o_in, Sink& sink) {
  const auto run_start = std::chrono::steady_clock::now();
  VerifyOptions o = o_in;
  const bool rotating = o.budget.any();
  if (rotating) o.deep = o.all = true, o.ids.clear();
  RunObserver& observer = o.observer ? *o.observer : silent_observer();
  RunLocks locks(sink, LockMode::Shared, {}, LockMode::Shared, "verify", "", o.lock_wait);
  for (const auto& n : locks.notes()) observer.note(n);
  VerifyResult result;
  std::vector<BackupRecord> records = records_to_verify(o, sink, result);
  read_chains(sink, records, result);

  ProvenFiles proofs;
  if (o.deep) {
    try {
      proofs = read_proven_files(sink);
    } catch (const Error& e) {
      result.notes.push_back(std::string("the rotation starts afresh: ") + e.what());
    }
  }
  // A run that sees every kept backup (rotating, or --deep --all) closes a cycle's books.
  const bool whole_cycle = rotating || (o.deep && o.all);
  Rotation rotation(whole_cycle ? rotation_units(records) : std::vector<RotationUnit>{}, proofs, unix_now());
  RotationStatus status;
  std::vector<Item> items;
  std::vector<const RotationUnit*> unit_of;  // rotating: items[i]'s unit
  if (rotating) {
    for (std::size_t u : rotation.plan(o.budget, status)) {
      items.push_back({rotation.units()[u].backup, rotation.units()[u].repo});
      unit_of.push_back(&rotation.units()[u]);
    }
  }
  for (const auto& b : records) {
    result.ids.push_back(b.id);
    if (rotating) continue;  // the rotation proves content; completeness is the plain verify's
    if (b.status != BackupStatus::Complete && !o.at)  // --at: older backups stand in for what failed
      result.problems.push_back({b.id, "", "", describe_record(sink, b.id), why_not_complete(b)});
    for (const auto& r : b.repositories) items.push_back({&b, &r});
    if (b.from_gitaly_backup) result.without_checksums += b.repositories.size();
  }
  result.repositories = items.size();

  TimeBudget time_budget(o.budget.seconds, run_start);
  const std::int64_t now = unix_now();
  check_items(o, sink, items, result, [&](std::size_t i) {
    if (rotating) {
      status.proven_this_run += rotation.proven(*unit_of[i], now);
    } else {
      RotationUnit u{items[i].backup, items[i].repo, distinct_chain_files(*items[i].repo)};
      rotation.proven(u, now);
    }
  }, time_budget);
  if (o.deep) save_proofs(sink, rotation, whole_cycle, status, result, rotating);

  result.exit_code = result.problems.empty() ? 0 : 1;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  result.deep = o.deep;
  return result;
}

}  // namespace gitvault
