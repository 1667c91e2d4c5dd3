#include "run/prune_run.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>

#include "backup/catalog.h"
#include "backup/destination_open.h"
#include "backup/proof_state.h"
#include "backup/gitaly_backups.h"
#include "backup/layout.h"
#include "backup/object_locks.h"
#include "backup/manifest.h"
#include "backup/run_locks.h"
#include "base/encoding.h"
#include "base/error.h"

using nlohmann::json;

namespace gitvault {
namespace {

const char* const kPlanName = "+gitvault/prune.json";

// Every name the backup's repositories need: their chains' files and their manifests.
void names_needed_by(const BackupRecord& b, std::set<std::string>& out) {
  for (const auto& r : b.repositories) {
    for (const auto& f : chain_files(r)) out.insert(f.name);
    if (has_own_manifest(r))
      out.insert(manifest_name(b.id, r.storage, r.named_path()));
    if (!r.chain_in.empty()) out.insert(chain_file_name(r.chain_in));  // its own, and those it names
  }
}

// The backups a file belongs to: a chain file's backup, or the ids its name carries
// (docs/retention.md, "Cost": every name a backup writes carries its id).
std::vector<std::string> backups_of_file(const std::string& name) {
  if (is_chain_file_name(name)) return {chain_key_backup(chain_key_of_file(name))};
  return backup_ids_in_name(name);
}

Error unreadable_record(const std::string& what) {
  return Error(ErrorCode::Corrupt, "cannot prune while a backup record is unreadable (what it needs is unknown): " + what);
}

// Every record's header, newest first; throws when any record cannot be read. Prune reads
// the records themselves one at a time (record_of): held all at once, three records of
// 20,000 repositories took 260 MiB.
std::vector<BackupRecord> readable_headers_or_throw(Sink& sink) {
  std::vector<std::string> unreadable;
  auto headers = read_all_headers(sink, &unreadable);
  for (const auto& id : unreadable) {
    try {
      read_record(sink, id);
    } catch (const Error& e) {
      throw unreadable_record(e.what());
    }
    throw unreadable_record(describe_record(sink, id));
  }
  sort_newest_first(headers);
  return headers;
}

BackupRecord record_of(Sink& sink, ChainReader& chains, const std::string& id) {
  try {
    BackupRecord b = read_record(sink, id);
    chains.load(b);  // what its chains need (each chain file read once per prune)
    return b;
  } catch (const Error& e) {
    throw unreadable_record(e.what());
  }
}

// For each repository, the backups (newest first) whose manifest of it is still there and
// whose record stays: what its +latest.toml becomes when the file it names went.
using ManifestsOf = std::map<std::pair<std::string, std::string>, std::vector<std::string>>;

ManifestsOf remaining_manifests(Sink& sink, const std::vector<std::string>& remaining_newest_first) {
  std::map<std::string, std::size_t> rank;  // 0 for the newest remaining backup (ids need not sort by time)
  for (const auto& id : remaining_newest_first) rank.emplace(id, rank.size());
  ManifestsOf out;
  for (const auto& n : sink.list_recursive("manifests")) {
    const auto repo = repository_of_manifest_name(n);
    if (!repo || repository_of_latest_manifest_name(n) || !n.ends_with(".toml")) continue;
    std::string id = n.substr(n.rfind('/') + 1);
    id.resize(id.size() - 5);
    if (rank.count(id)) out[*repo].push_back(std::move(id));
  }
  for (auto& [repo, list] : out)
    std::sort(list.begin(), list.end(), [&rank](const std::string& a, const std::string& b) { return rank[a] < rank[b]; });
  return out;
}

// After files were removed, a repository's +latest.toml may name some of them: it then
// becomes a copy of the newest remaining manifest of the repository, or goes.
void repair_latest(Sink& sink, const std::set<std::pair<std::string, std::string>>& repos, const ManifestsOf& remaining) {
  for (const auto& repo : repos) {
    const std::string& storage = repo.first;
    const std::string& rel = repo.second;
    std::string latest = latest_manifest_name(storage, rel);
    if (!sink.exists(latest)) continue;
    bool intact = true;
    try {
      RepositoryRecord m;
      parse_manifest(read_whole(sink, latest), sink.describe(latest), m);
      for (const auto& f : chain_files(m)) intact = intact && sink.exists(f.name);
    } catch (const Error&) {
      intact = false;
    }
    if (intact) continue;
    std::optional<std::string> replacement;
    if (auto it = remaining.find(repo); it != remaining.end()) {
      for (const auto& id : it->second) {  // newest first
        std::string name = manifest_name(id, storage, rel);
        if (!sink.exists(name)) continue;
        replacement = read_whole(sink, name);
        break;
      }
    }
    if (replacement)
      write_whole(sink, latest, *replacement);  // replaced atomically, never absent in between
    else
      sink.remove(latest);
  }
}

bool any_in(const std::set<std::string>& a, const std::set<std::string>& b) {
  return std::any_of(a.begin(), a.end(), [&b](const std::string& x) { return b.count(x) > 0; });
}

// The backups (of `headers`) whose files may be among those of the backups `affected`: a
// record whose needs — its chains' backups, through the chain files — reach one of them
// (docs/retention.md, "Cost": prune reads these records, not every kept one).
std::set<std::string> records_needing(Sink& sink, const std::vector<BackupRecord>& headers,
                                      const std::set<std::string>& affected, const std::vector<std::string>& all_names) {
  NeedsClosure closure(sink, all_names);
  std::set<std::string> out;
  for (const auto& h : headers) {
    try {
      if (affected.count(h.id) || any_in(closure.of(h), affected)) out.insert(h.id);
    } catch (const Error& e) {
      throw unreadable_record(e.what());
    }
  }
  return out;
}

// Every name the records `ids` need, each read whole, one at a time.
std::set<std::string> names_needed_by_records(Sink& sink, const std::set<std::string>& ids) {
  std::set<std::string> needed;
  ChainReader chains(sink);
  for (const auto& id : ids) names_needed_by(record_of(sink, chains, id), needed);
  return needed;
}

// An interrupted plan's: what the records left after its removals need of its files.
std::set<std::string> needed_after(Sink& sink, const std::vector<std::string>& removed,
                                   const std::vector<std::string>& files) {
  std::set<std::string> affected(removed.begin(), removed.end());
  for (const auto& f : files)
    for (auto& id : backups_of_file(f)) affected.insert(std::move(id));
  return names_needed_by_records(sink, records_needing(sink, readable_headers_or_throw(sink), affected,
                                                       sink.list_recursive("")));
}

// What a prune knows of the backups that stay once it has made its plan: what their records
// need, and their ids newest first. An interrupted plan's are found again from the destination.
struct Remaining {
  std::set<std::string> needed;
  std::vector<std::string> newest_first;
};

// Every name a plan would delete must be a clean name reached without a symbolic link
// (sink.exists refuses to look through one), or nothing at all is deleted. Names this prune
// found in its own listing were reached that way (the listing never looks through a link):
// `listed` spares them the second walk; an interrupted plan's names are walked again.
void validate_names(Sink& sink, const std::vector<std::string>& ids, const std::vector<std::string>& files,
                    bool listed) {
  for (const auto& id : ids)
    if (!valid_backup_id(id)) throw Error(ErrorCode::Corrupt, "invalid backup id '" + printable(id) + "'");
  for (const auto& f : files) {
    if (is_gitvault_own_file(f) && !is_chain_file_name(f) && !is_redacted_record_name(f) && !lock_mark_of(f))
      throw Error(ErrorCode::Corrupt, "'" + printable(f) + "' is gitvault's own file");
    check_sink_name(f);
    if (!listed) sink.exists(f);  // throws for a path through a symbolic link
  }
}

// The repositories whose +latest.toml exists, for repair after files went.
std::set<std::pair<std::string, std::string>> repositories_with_latest(const std::vector<std::string>& names) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& n : names)
    if (auto repo = repository_of_latest_manifest_name(n)) out.insert(*repo);
  return out;
}

// Carries out a plan: records, then files no remaining record needs, then the plan itself.
// `fault` stops it part way as a killed process would (tests, through PruneOptions).
// `planned`: what this prune's plan found of the backups that stay; none for an interrupted
// plan (found again once its records are gone).
void execute_plan(Sink& sink, const std::vector<std::string>& ids, const std::vector<std::string>& files,
                  const Remaining* planned, const std::function<void(std::size_t)>& before_file_removal) {
  if (!planned) validate_names(sink, ids, files, false);  // a plan made by this prune was checked as made
  for (const auto& id : ids) {
    std::vector<std::string> record = record_files(sink, id);  // one, or the parts of several hosts
    if (sealed_layer(sink))  // a sealed destination's clear copies go with their records
      for (std::size_t i = 0, n = record.size(); i < n; ++i) record.push_back(redacted_record_name(record[i]));
    sink.remove_many(record);
    for (const auto& f : record) sink.remove_empty_parents(f);
  }
  const std::set<std::string> needed = planned ? planned->needed : needed_after(sink, ids, files);
  // Files go in batches (one request per thousand files in object storage). The fault seam
  // still sees every file: a fault at file N leaves exactly the N before it removed.
  std::size_t removed = 0;
  bool any_data = false;
  std::vector<std::string> batch;
  auto flush = [&] {
    sink.remove_many(batch);
    for (const auto& f : batch) sink.remove_empty_parents(f);
    batch.clear();
  };
  for (const auto& f : files) {
    if (needed.count(f)) continue;
    if (before_file_removal) {
      try {
        before_file_removal(removed);
      } catch (...) {
        flush();
        throw;
      }
    }
    ++removed;
    batch.push_back(f);
    any_data = true;
    if (batch.size() == 1000) flush();
  }
  flush();
  std::set<std::pair<std::string, std::string>> touched;  // repositories whose +latest may name a removed file
  for (const auto& f : files)
    if (auto repo = repository_of_manifest_name(f)) touched.insert(*repo);
  if (any_data) {
    auto latest = repositories_with_latest(sink.list_recursive("manifests"));
    touched.insert(latest.begin(), latest.end());
  }
  if (!touched.empty()) {
    std::vector<std::string> newest_first;
    if (planned) {
      newest_first = planned->newest_first;
    } else {
      for (const auto& h : readable_headers_or_throw(sink)) newest_first.push_back(h.id);
    }
    repair_latest(sink, touched, remaining_manifests(sink, newest_first));
  }
  sink.sync();
  sink.remove(kPlanName);
}

}  // namespace

namespace {

// An interrupted prune is finished first; a plan that cannot be finished is set aside (and
// reported), never replayed for ever.
void finish_interrupted_prune(Sink& sink, const PruneOptions& o, PrunePlan& plan) {
  if (o.dry_run || !sink.exists(kPlanName)) return;
  try {
    json j = parse_json_text(read_whole(sink, kPlanName));
    execute_plan(sink, j.at("remove").get<std::vector<std::string>>(), j.at("files").get<std::vector<std::string>>(),
                 nullptr, o.before_file_removal);
    plan.resumed = true;
  } catch (const std::exception& e) {
    std::string aside = "+gitvault/prune-failed-" + utc_now_compact() + ".json";
    write_whole(sink, aside, read_whole(sink, kPlanName));
    sink.remove(kPlanName);
    plan.notes.push_back("the plan of an interrupted prune could not be finished (" + std::string(e.what()) +
                         "); set aside as " + sink.describe(aside));
  }
}

// Why each backup stays (records newest first): the policy's rules over complete backups
// (`within` over every finished one), the newest complete backup always, and finished ones
// newer than it (last night's partial one). A backup with no reason goes.
std::map<std::string, std::vector<std::string>> backups_to_keep(const std::vector<BackupRecord>& records,
                                                                const PruneOptions& o) {
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  std::map<std::string, std::vector<std::string>> keep;
  std::vector<PolicyBackup> complete;
  RetentionPolicy buckets = o.policy;
  buckets.within_s.reset();
  std::int64_t newest_finished = 0;
  for (const auto& b : records) {
    std::int64_t t = backup_time(b.id, b.started_at);
    if (b.status == BackupStatus::Complete) complete.push_back({b.id, t});
    if (b.status != BackupStatus::Running && t > newest_finished && t <= now) newest_finished = t;
  }
  std::stable_sort(complete.begin(), complete.end(),
                   [](const PolicyBackup& a, const PolicyBackup& b) { return a.time > b.time; });  // newest first
  std::vector<std::vector<std::string>> why = apply_retention_policy(complete, buckets, now);
  for (std::size_t i = 0; i < complete.size(); ++i)
    for (const auto& r : why[i]) keep[complete[i].id].push_back(r);
  std::string newest_complete_started;
  for (const auto& b : records)  // the newest complete run (records newest first by start)
    if (b.status == BackupStatus::Complete) {
      newest_complete_started = b.started_at;
      keep[b.id].insert(keep[b.id].begin(), "newest complete");
      break;
    }
  for (const auto& b : records) {
    // (A record still "running" belongs to a run that died: the lock says none is running.)
    if (b.status == BackupStatus::Running) continue;
    std::int64_t t = backup_time(b.id, b.started_at);
    if (o.policy.within_s && t >= 0 && t > newest_finished - *o.policy.within_s) keep[b.id].push_back("within");
    if (b.started_at > newest_complete_started || complete.empty())
      keep[b.id].push_back("newer than the newest complete");
  }
  return keep;
}

// What a plan reads (docs/retention.md, "Cost"): no removed record — their files are found
// by name in the listing — and a kept one only when it may name a file of a removed backup or
// of one whose record is gone. Flat in the number of backups: a month of 15-minute backups
// costs its headers, not 3,000 records.
struct Readings {
  std::set<std::string> kept, removed, read_kept;
};

Readings records_to_read(Sink& sink, const std::vector<BackupRecord>& headers, const std::set<std::string>& keep,
                         const std::vector<std::string>& all_names) {
  Readings out;
  std::vector<BackupRecord> kept_headers;
  for (const auto& h : headers) {
    (keep.count(h.id) ? out.kept : out.removed).insert(h.id);
    if (keep.count(h.id)) kept_headers.push_back(h);
  }
  std::set<std::string> affected = out.removed;
  for (const auto& f : all_names)
    for (const auto& id : backups_of_file(f))
      if (!out.kept.count(id) && !out.removed.count(id)) affected.insert(id);  // a record gone (or never written)
  out.read_kept = records_needing(sink, kept_headers, affected, all_names);
  return out;
}

// The files that go: those under no kept backup's name that no record read names — a removed
// backup's (found by name: its record is not read), a killed run's, a chain file no kept
// record names. Objects gitvault's layout cannot have written are left alone (a shared
// bucket); gitaly-backup's are never removed.
void sweep_files(const std::vector<std::string>& all_names, const std::vector<BackupRecord>& records,
                 const Readings& reading, const std::set<std::string>& needed, const GitalyFiles& gitaly,
                 PrunePlan& plan) {
  std::set<std::string> storages, ids = reading.kept, finished_removed;
  ids.insert(reading.removed.begin(), reading.removed.end());
  for (const auto& b : records) {
    storages.insert(b.storages.begin(), b.storages.end());
    if (reading.removed.count(b.id) && b.status != BackupStatus::Running) finished_removed.insert(b.id);
  }
  std::size_t foreign = 0;
  std::set<std::string> needed_ids;  // backups some of whose files stay
  for (const auto& n : needed)
    for (auto& id : backup_ids_in_name(n)) needed_ids.insert(std::move(id));
  for (const auto& f : all_names) {
    if (needed.count(f) || gitaly.contains(f) || repository_of_latest_manifest_name(f)) continue;
    if (const auto mark = lock_mark_of(f)) {
      // the lock ledger's entry of a backup not kept: until its date passes it says how long
      // the removed backup's versions stay locked; then it goes, once none of its files stays
      if (reading.kept.count(mark->backup)) continue;
      if (mark->until > plan.now) {
        auto& until = plan.locked_until[mark->backup];
        until = std::max(until, mark->until);
      } else if (!needed_ids.count(mark->backup)) {
        plan.files.push_back(f);
      }
      continue;
    }
    if (is_redacted_record_name(f)) {  // a clear copy whose record is gone (a removed one's goes with it)
      const std::string id = backup_of_redacted(f);
      if (!reading.kept.count(id) && !reading.removed.count(id)) plan.files.push_back(f);
      continue;
    }
    if (!is_chain_file_name(f) && is_gitvault_own_file(f)) continue;
    const auto under = backups_of_file(f);
    if (std::any_of(under.begin(), under.end(), [&](const std::string& id) { return reading.kept.count(id) > 0; }))
      continue;  // a kept backup's (read or not), its chain file too
    if (!could_be_gitvaults(f, storages, ids)) {
      ++foreign;  // another tool's, in a shared prefix or bucket: never gitvault's to remove
      continue;
    }
    plan.files.push_back(f);
    // a finished backup's that goes; anything else — a killed run's (its record never
    // finished), a failed repository's — is what no backup named
    if (std::none_of(under.begin(), under.end(), [&](const std::string& id) { return finished_removed.count(id) > 0; }))
      ++plan.unreferenced;
  }
  if (foreign > 0)
    plan.notes.push_back(std::to_string(foreign) + " object" + (foreign == 1 ? "" : "s") +
                         " that gitvault's layout cannot have written left alone");
}

// Which records go, and which files with them: those under a removed backup's name or no
// record's, unless a kept record names them. The whole plan is checked before anything goes:
// one bad name in any record read refuses it. Returns what it found of the kept backups.
Remaining plan_removals(Sink& sink, const std::vector<BackupRecord>& records, const std::set<std::string>& keep,
                        PrunePlan& plan) {
  // What gitaly-backup wrote is never removed: its backups have no gitvault record, and
  // a gitvault chain may start from one of them (docs/gitaly-backups.md).
  std::set<std::string> gitvault_ids;
  for (const auto& b : records) gitvault_ids.insert(b.id);
  std::vector<std::string> all_names;
  std::map<std::string, std::uint64_t> sizes;
  for (auto& f : sink.list_recursive_sized("")) {
    sizes[f.name] = f.size;
    all_names.push_back(std::move(f.name));
  }
  const GitalyBackupIndex gitaly_index = index_gitaly_backups(sink, gitvault_ids);
  const GitalyFiles gitaly(gitaly_index, all_names);
  if (!gitaly_index.ids.empty())
    plan.notes.push_back(std::to_string(gitaly_index.ids.size()) +
                         " backups written by gitaly-backup are left alone (gitvault never removes them)");
  const Readings reading = records_to_read(sink, records, keep, all_names);
  for (const auto& h : records) (reading.kept.count(h.id) ? plan.keep : plan.remove).push_back(h.id);
  Remaining remaining{names_needed_by_records(sink, reading.read_kept), plan.keep};
  const std::set<std::string>& needed = remaining.needed;
  sweep_files(all_names, records, reading, needed, gitaly, plan);
  for (const auto& f : plan.files) plan.bytes += sizes[f];
  try {
    for (const auto& f : needed) check_sink_name(f);
    validate_names(sink, plan.remove, plan.files, true);
  } catch (const Error& e) {
    throw Error(ErrorCode::Corrupt, std::string("prune refused, nothing removed: ") + e.what());
  }
  return remaining;
}

}  // namespace

PrunePlan prune_backups(Sink& sink, const PruneOptions& o) {
  if (o.policy.empty())
    throw Error(ErrorCode::Usage,
                "prune needs a policy: --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, "
                "--keep-yearly (a count, or -1 for every period) and/or --keep-within DURATION, or [retention] in the config");
  for (int n : {o.policy.last, o.policy.hourly, o.policy.daily, o.policy.weekly, o.policy.monthly, o.policy.yearly})
    if (n < -1) throw Error(ErrorCode::Usage, "a --keep-* count is a number of backups or periods, or -1 for all");
  PrunePlan plan;
  plan.now = std::time(nullptr);
  // Alone in the directory: no backup is running, so every "running" record is a dead run's
  // and every file no record names is a leftover.
  RunLocks locks(sink, o.dry_run ? LockMode::Shared : LockMode::Exclusive, {}, LockMode::Shared, "prune", "",
                 o.lock_wait);
  if (!o.dry_run) locks.exclude_pinned_readers(sink, "prune", o.lock_wait);  // drills read beside backups
  plan.notes = locks.notes();
  finish_interrupted_prune(sink, o, plan);
  // Alone as a writer: what killed runs left unfinished (multipart uploads) can go.
  if (!o.dry_run) plan.unfinished_writes = sink.remove_unfinished_writes(has_gitvault_file_ending);

  auto records = readable_headers_or_throw(sink);  // newest first, headers only
  plan.reasons = backups_to_keep(records, o);
  plan.policy = o.policy.describe();
  std::set<std::string> keep;
  for (const auto& [id, why] : plan.reasons) keep.insert(id);
  const Remaining remaining = plan_removals(sink, records, keep, plan);
  if (!o.dry_run && !(plan.remove.empty() && plan.files.empty())) {
    write_whole(sink, kPlanName, to_json_text(json{{"remove", plan.remove}, {"files", plan.files}}, 1) + "\n");
    sink.sync();
    execute_plan(sink, plan.remove, plan.files, &remaining, o.before_file_removal);
  }
  // On a versioned (Object Lock) destination what this prune and earlier ones removed left
  // its versions behind: those whose locks have ended go now (docs/object-storage.md).
  plan.old_versions = sink.remove_old_versions(
      [](const std::string& name) { return is_gitvault_own_file(name) || has_gitvault_file_ending(name); }, o.dry_run);
  return plan;
}

}  // namespace gitvault
