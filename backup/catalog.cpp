#include "backup/catalog.h"

#include <algorithm>
#include <ctime>
#include <exception>
#include <map>
#include <optional>
#include <set>

#include "base/error.h"
#include "base/scheduler.h"
#include "base/system.h"

namespace gitvault {

// Reading gitvault's records: every one, their headers, and the choices made from headers.

void sort_newest_first(std::vector<BackupRecord>& records) {
  std::stable_sort(records.begin(), records.end(), [](const BackupRecord& a, const BackupRecord& b) {
    return a.started_at != b.started_at ? a.started_at > b.started_at : a.id > b.id;
  });
}

std::int64_t backup_time(const std::string& id, const std::string& started_at) {
  const std::string named = started_at_of_id(id);  // the id's own time, when it names one
  return parse_rfc3339(!named.empty() ? named : started_at);
}

std::vector<BackupRecord> read_all_records(Sink& sink, std::vector<std::string>* errors) {
  std::vector<BackupRecord> out;
  for (const auto& id : list_backup_ids(sink)) {
    try {
      out.push_back(read_record(sink, id));
    } catch (const Error& e) {
      if (errors) errors->push_back(e.what());
    }
  }
  sort_newest_first(out);
  return out;
}

namespace {

// Headers of `ids` (sorted, every one naming its time) newest first until `enough`; true when
// it was enough.
bool read_back(Sink& sink, const std::vector<std::string>& ids,
               const std::function<bool(const std::vector<BackupRecord>&)>& enough,
               std::vector<std::string>* unreadable, std::vector<BackupRecord>& out) {
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    try {
      out.push_back(read_record_header(sink, *it));
    } catch (const Error&) {
      if (unreadable) unreadable->push_back(*it);
      continue;  // unreadable: not a candidate (verify names it)
    }
    if (enough(out)) return true;
  }
  return false;
}

bool all_name_times(const std::vector<std::string>& ids) {
  return std::all_of(ids.begin(), ids.end(), [](const std::string& id) { return backup_time(id, "") >= 0; });
}

}  // namespace

std::vector<BackupRecord> read_newest_headers(Sink& sink,
                                              const std::function<bool(const std::vector<BackupRecord>&)>& enough,
                                              std::vector<std::string>* unreadable) {
  // The last three days first: a night, a restore or a verify of the newest usually finds what
  // it needs there, and object storage then lists a page of ids instead of a year of them.
  const std::string window = utc_compact_of(static_cast<std::int64_t>(std::time(nullptr)) - 3 * 86400);
  const std::vector<std::string> recent = list_backup_ids_after(sink, window);
  const bool recent_read = !recent.empty() && all_name_times(recent);
  std::vector<std::string> unreadable_recent;
  std::vector<BackupRecord> out;
  if (recent_read && read_back(sink, recent, enough, &unreadable_recent, out)) {
    if (unreadable) unreadable->insert(unreadable->end(), unreadable_recent.begin(), unreadable_recent.end());
    return out;
  }
  std::vector<std::string> ids = list_backup_ids(sink);  // sorted: by time when every id names one
  if (!all_name_times(ids)) {
    out = read_all_headers(sink, unreadable);
    sort_newest_first(out);
    return out;
  }
  if (recent_read) {  // those headers are read already: go on below them
    if (unreadable) unreadable->insert(unreadable->end(), unreadable_recent.begin(), unreadable_recent.end());
    ids.erase(std::lower_bound(ids.begin(), ids.end(), window), ids.end());
  } else {
    out.clear();
  }
  read_back(sink, ids, enough, unreadable, out);
  return out;
}

std::vector<BackupRecord> read_all_headers(Sink& sink, std::vector<std::string>* unreadable) {
  const std::vector<std::string> ids = list_backup_ids(sink);
  // Several at once: on object storage each header is a request (3,000 in a month of
  // 15-minute backups), and parsing them keeps every core busy. The order stays the ids'.
  std::vector<std::optional<BackupRecord>> read(ids.size());
  std::vector<std::exception_ptr> failed(ids.size());  // anything but an unreadable record: thrown here
  {
    Scheduler scheduler(8, 0);
    constexpr std::size_t kBatch = 32;
    for (std::size_t start = 0; start < ids.size(); start += kBatch)
      scheduler.submit("", [&, start] {
        for (std::size_t i = start; i < std::min(ids.size(), start + kBatch); ++i) try {
            read[i] = read_record_header(sink, ids[i]);
          } catch (const Error&) {
          } catch (...) {
            failed[i] = std::current_exception();
          }
      });
    scheduler.done();
  }
  for (const auto& f : failed)
    if (f) std::rethrow_exception(f);
  std::vector<BackupRecord> out;
  out.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (read[i])
      out.push_back(std::move(*read[i]));
    else if (unreadable)
      unreadable->push_back(ids[i]);
  }
  return out;
}

std::optional<std::string> newest_complete_of(const std::vector<BackupRecord>& headers) {
  // Newest by start time (ids chosen with --id need not sort by time).
  const BackupRecord* best = nullptr;
  for (const auto& r : headers)
    if (r.status == BackupStatus::Complete && (!best || r.started_at >= best->started_at)) best = &r;
  if (!best) return std::nullopt;
  return best->id;
}

std::vector<std::string> chain_bases_of(const std::vector<BackupRecord>& headers) {
  std::vector<const BackupRecord*> finished;
  for (const auto& r : headers)
    if (r.status == BackupStatus::Complete || r.status == BackupStatus::Partial ||
        r.status == BackupStatus::Incomplete)
      finished.push_back(&r);
  // Newest first by start time (ids chosen with --id need not sort by time).
  std::stable_sort(finished.begin(), finished.end(),
                   [](const BackupRecord* a, const BackupRecord* b) { return a->started_at > b->started_at; });
  std::vector<std::string> out;
  for (const BackupRecord* r : finished) {
    out.push_back(r->id);
    if (r->status == BackupStatus::Complete || !r->incremental) break;
  }
  return out;
}

const BackupRecord* newest_of(const std::vector<BackupRecord>& headers) {
  const BackupRecord* best = nullptr;
  for (const auto& r : headers)
    if (!best || r.started_at >= best->started_at) best = &r;
  return best;
}

void remember_flags_from_backups(flags::FeatureFlags& ff, Sink& sink) {
  // The newest readable header is all it takes (a restore of one repository among 3,000
  // backups read every header for it).
  remember_flags_from_backups(
      ff, sink, read_newest_headers(sink, [](const std::vector<BackupRecord>& read) { return !read.empty(); }, nullptr));
}

void remember_flags_from_backups(flags::FeatureFlags& ff, Sink& sink, const std::vector<BackupRecord>& headers) {
  const BackupRecord* newest = newest_of(headers);
  if (!newest) return;
  for (auto f : newest->flags) {
    f.recorded_in = "backup " + newest->id + " (" + describe_record(sink, newest->id) + ")";
    ff.remember(f);
  }
}

const GitalyBackupIndex& BackupCatalog::gitaly() {
  if (!gitaly_) {
    std::vector<std::string> ids = list_backup_ids(sink_);
    gitaly_ = index_gitaly_backups(sink_, std::set<std::string>(ids.begin(), ids.end()));
  }
  return *gitaly_;
}

const BackupRecord& BackupCatalog::gitaly_backup(const std::string& id) {
  auto it = gitaly_read_.find(id);
  if (it == gitaly_read_.end()) it = gitaly_read_.emplace(id, read_gitaly_backup(sink_, gitaly(), id)).first;
  return it->second;
}

BackupRecord BackupCatalog::read_either(const std::string& id, BackupRecord (*read_gitvault)(Sink&, const std::string&)) {
  try {
    return read_gitvault(sink_, id);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::NotFound || !gitaly().ids.count(id)) throw;
  }
  return gitaly_backup(id);
}

BackupRecord BackupCatalog::read(const std::string& id) { return read_either(id, read_record); }

BackupRecord BackupCatalog::read_header(const std::string& id) { return read_either(id, read_record_header); }

std::vector<BackupRecord> BackupCatalog::read_all(std::vector<std::string>* errors) {
  std::vector<BackupRecord> out = read_all_records(sink_, errors);
  for (const auto& id : gitaly().ids) out.push_back(gitaly_backup(id));
  sort_newest_first(out);
  return out;
}

std::optional<BackupRecord> BackupCatalog::read_newest(std::vector<std::string>* errors) {
  std::vector<std::string> unreadable;
  std::vector<BackupRecord> headers =
      read_newest_headers(sink_, [](const std::vector<BackupRecord>& read) { return !read.empty(); }, &unreadable);
  for (const auto& id : unreadable) {
    try {
      read_record(sink_, id);
    } catch (const Error& e) {
      if (errors) errors->push_back(e.what());
    }
  }
  std::optional<std::string> best;
  std::string best_started;
  if (!headers.empty()) best = headers.front().id, best_started = headers.front().started_at;
  for (const auto& id : gitaly().ids)
    if (!best || started_at_of_id(id) > best_started) best = id, best_started = started_at_of_id(id);
  if (!best) return std::nullopt;
  return read(*best);
}

std::optional<std::string> BackupCatalog::newest_complete(std::vector<std::string>* unreadable) {
  // Newest first, only back to the newest complete one: flat in the number of backups.
  std::vector<BackupRecord> headers = read_newest_headers(
      sink_, [](const std::vector<BackupRecord>& read) { return newest_complete_of(read).has_value(); }, unreadable);
  std::optional<std::string> best = newest_complete_of(headers);
  std::string best_started;
  for (const auto& h : headers)
    if (best && h.id == *best) best_started = h.started_at;
  // gitaly-backup's backups, newest first, each read (all its manifests) only while it could
  // still be newer than the best so far: the first complete one ends the search.
  std::vector<std::pair<std::string, std::string>> foreign;  // (start, id)
  for (const auto& id : gitaly().ids) foreign.push_back({started_at_of_id(id), id});
  std::sort(foreign.rbegin(), foreign.rend());
  for (const auto& [started, id] : foreign) {
    if (best && started < best_started) break;
    if (gitaly_backup(id).status == BackupStatus::Complete) return id;
  }
  return best;
}

std::vector<OlderSource> older_sources(const MomentSelection& sel) {
  std::vector<OlderSource> out;
  for (const auto& c : sel.chosen)
    if (c.backup != 0) {
      const BackupRecord& b = sel.backups[c.backup];
      const RepositoryRecord& r = b.repositories[c.repository];
      out.push_back({r.storage, r.relative_path, b.id, backup_time(b.id, b.started_at)});
    }
  return out;
}

MomentSelection BackupCatalog::at(std::int64_t time, const std::function<bool(const RepositoryRecord&)>& wanted) {
  // Candidates by moment, newest first. Ids that name their time are chosen from the
  // listing alone (no record read); others by their headers.
  std::vector<std::pair<std::int64_t, std::string>> candidates;
  std::int64_t oldest = -1;
  auto consider = [&](std::int64_t t, const std::string& id) {
    if (t < 0) return;
    if (oldest < 0 || t < oldest) oldest = t;
    if (t <= time) candidates.push_back({t, id});
  };
  std::vector<std::string> ids = list_backup_ids(sink_);
  for (const auto& id : ids) {
    std::int64_t t = backup_time(id, "");
    if (t >= 0) {
      consider(t, id);
      continue;
    }
    try {
      BackupRecord h = read_record_header(sink_, id);
      consider(backup_time(h.id, h.started_at), h.id);
    } catch (const Error&) {
    }
  }
  for (const auto& id : gitaly().ids) consider(backup_time(id, ""), id);
  std::sort(candidates.rbegin(), candidates.rend());
  if (candidates.empty())
    throw Error(ErrorCode::NotFound, "no finished backup in " + sink_.describe("") + " at or before " +
                                         format_rfc3339(time) +
                                         (oldest >= 0 ? " (the oldest is of " + format_rfc3339(oldest) + ")" : ""));
  MomentSelection sel;
  std::map<std::string, std::size_t> where;  // repository -> index in sel.chosen
  std::set<std::string> pending;             // repositories not backed up in the backups read so far
  bool universe_closed = false;              // the records read reach a complete backup
  for (const auto& [t, id] : candidates) {
    if (universe_closed && pending.empty()) break;
    BackupRecord b = read(id);
    if (b.status == BackupStatus::Running) continue;  // a run that died, or is running now
    sel.backups.push_back(std::move(b));
    const std::size_t bi = sel.backups.size() - 1;
    const BackupRecord& rec = sel.backups[bi];
    for (std::size_t ri = 0; ri < rec.repositories.size(); ++ri) {
      const RepositoryRecord& r = rec.repositories[ri];
      if (!wanted(r)) continue;
      const std::string key = r.storage + '\n' + r.relative_path;
      auto it = where.find(key);
      if (it == where.end()) {
        if (universe_closed) continue;  // not in the backups that say what there was at the moment
        where[key] = sel.chosen.size();
        sel.chosen.push_back({bi, ri});
        if (!r.backed_up()) pending.insert(key);
      } else if (pending.count(key) && r.backed_up()) {
        sel.chosen[it->second] = {bi, ri};
        pending.erase(key);
      }
    }
    if (rec.status == BackupStatus::Complete) universe_closed = true;
  }
  if (sel.backups.empty())
    throw Error(ErrorCode::NotFound, "no finished backup in " + sink_.describe("") + " at or before " + format_rfc3339(time));
  return sel;
}

NeedsClosure::NeedsClosure(Sink& sink, const std::vector<std::string>& names) : sink_(sink), chains_(sink) {
  for (const auto& n : names)
    if (is_chain_file_name(n)) {
      const std::string key = chain_key_of_file(n);
      chain_keys_[chain_key_backup(key)].push_back(key);
    }
}

std::set<std::string> NeedsClosure::of(const BackupRecord& header) {
  std::vector<std::string> direct =
      header.summary ? header.summary->needs : summarize(read_record(sink_, header.id)).needs;  // older: read
  std::set<std::string> out(direct.begin(), direct.end());
  for (const auto& id : direct)
    for (const auto& key : chain_keys_[id]) {
      const std::vector<std::string> needs = chains_.needs_of(key);  // each file read once
      out.insert(needs.begin(), needs.end());
    }
  return out;
}

}  // namespace gitvault
