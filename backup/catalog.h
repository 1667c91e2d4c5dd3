// Every backup a backup directory holds, whatever wrote it: gitvault's records
// (backup/record.h) and gitaly-backup's own backups (backup/gitaly_backups.h), as one list.
// The commands that read backups — restore, verify, backups, prune — go through here. A
// backup run reads gitvault's records only: its incremental chains build on gitvault's
// backups unless --previous-id names one of gitaly-backup's (docs/gitaly-backups.md).
//
// gitaly-backup's manifests are listed only when needed: reading an id that has a gitvault
// record never lists them.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "backup/gitaly_backups.h"
#include "backup/record.h"
#include "destination/sink.h"

namespace gitvault {

// Reading gitvault's records (backup/record.h is their codec and where they live):

// The header of every readable record; the ids of unreadable ones go to `unreadable`.
std::vector<BackupRecord> read_all_headers(Sink& sink, std::vector<std::string>* unreadable);
// Headers newest first, read back only until `enough(the headers read so far)` says so — a
// night needs the few since the newest complete backup, not a year of them. When some id
// does not name its time (ids chosen with --id need not sort by time), every header is read
// and sorted by start time instead. Unreadable records are passed over.
// Ids of records it could not read on the way go to `unreadable`.
std::vector<BackupRecord> read_newest_headers(Sink& sink,
                                              const std::function<bool(const std::vector<BackupRecord>&)>& enough,
                                              std::vector<std::string>* unreadable = nullptr);
// The moment a backup stands for (Unix seconds): the time its id names when it names one (a UTC
// timestamp YYYYMMDDhhmmss — every default id, the moment its run started — or gitaly's
// <unix seconds>_<date>: started_at_of_id), else when the run started; -1 when neither says. Retention's periods and `restore --at` go by it, so a
// history made with ids that name times (imported, or built quickly in a test) is read as
// those times (docs/retention.md).
std::int64_t backup_time(const std::string& id, const std::string& started_at);
// Newest first by start time (then by id): the one order every list of backups takes.
void sort_newest_first(std::vector<BackupRecord>& records);
// Reads every record, newest first by start time; unreadable ones are reported in `errors`.
std::vector<BackupRecord> read_all_records(Sink& sink, std::vector<std::string>* errors);
// The newest complete backup among headers already read (a run reads them once).
std::optional<std::string> newest_complete_of(const std::vector<BackupRecord>& headers);
const BackupRecord* newest_of(const std::vector<BackupRecord>& headers);
// The backups an incremental run builds on, newest first (docs/backup-format.md, "Chains"):
// every finished backup (complete or partial) from the newest down to the newest complete
// one, or to the newest full one when that is newer (a full backup starts new chains). Each
// repository's step builds on the first of them in which it was backed up, so one broken
// repository in last night's backup does not make tonight a full backup of all of them.
std::vector<std::string> chain_bases_of(const std::vector<BackupRecord>& headers);
// Gives `ff` the flag states the newest backup record says its run used, for flags its
// store knows nothing of (flags/feature_flags.h, remembered state). Warnings go to ff.
void remember_flags_from_backups(flags::FeatureFlags& ff, Sink& sink);
void remember_flags_from_backups(flags::FeatureFlags& ff, Sink& sink, const std::vector<BackupRecord>& headers);

// What a restore at a moment takes (`restore --at`, docs/retention.md): the newest finished
// backup whose moment (backup_time) is at or before it, and, for each repository that backup
// names but did not back up — or, when it is not complete, that an older backup back to the
// newest complete one names — the newest earlier backup that did.
struct MomentSelection {
  std::vector<BackupRecord> backups;  // the records read, newest first; [0] is the backup at the moment
  struct Choice {
    std::size_t backup;      // index into backups
    std::size_t repository;  // index into that record's repositories
  };
  std::vector<Choice> chosen;  // one per repository, in the first record's order, then older ones'
  const RepositoryRecord& repository(const Choice& c) const { return backups[c.backup].repositories[c.repository]; }
};

// A repository a restore at a moment takes from an older backup than the one at the moment.
struct OlderSource {
  std::string storage, relative_path, id;
  std::int64_t moment = 0;  // that backup's moment (Unix seconds)
};
std::vector<OlderSource> older_sources(const MomentSelection& sel);

// Every backup a backup's files need — the backups whose steps its chains hold: its
// header's `needs` and the `needs` of those backups' chain files, each chain file read once
// (docs/backup-format.md, "Incremental chains"). What prune keeps and what a night on a
// locked destination keeps locked.
class NeedsClosure {
 public:
  // `names`: the destination's names as listed (those under +gitvault/chains/ are used).
  NeedsClosure(Sink& sink, const std::vector<std::string>& names);
  // Throws Error naming a chain file that cannot be read; a header without `needs` (an older
  // gitvault's) has its record read.
  std::set<std::string> of(const BackupRecord& header);

 private:
  Sink& sink_;
  ChainReader chains_;
  std::map<std::string, std::vector<std::string>> chain_keys_;  // backup -> the keys of its chain files
};

class BackupCatalog {
 public:
  explicit BackupCatalog(Sink& sink) : sink_(sink) {}

  // Backup `id`: its gitvault record, else gitaly-backup's backup of that id. Throws
  // Error(NotFound) when there is neither, Error(Corrupt) when the record is unreadable.
  BackupRecord read(const std::string& id);
  // The same, without a gitvault record's repositories (gitaly's are read whole).
  BackupRecord read_header(const std::string& id);
  // Every backup, newest first by start time (ids that say no time after the others);
  // unreadable gitvault records are reported in `errors`.
  std::vector<BackupRecord> read_all(std::vector<std::string>* errors);
  // The newest backup whatever its status, read whole (its chains not read: ChainReader), or
  // nullopt when there is none; the errors of records newer than it that cannot be read go to
  // `errors`. Reads headers newest first only until one is readable.
  std::optional<BackupRecord> read_newest(std::vector<std::string>* errors);
  // The newest backup whose status is complete; ids of unreadable records newer than it in
  // `unreadable`. Reads headers newest first only back to it.
  std::optional<std::string> newest_complete(std::vector<std::string>* unreadable);
  // gitaly-backup's backups here (listed on first use).
  const GitalyBackupIndex& gitaly();
  // The backups a restore at `time` (Unix seconds) takes, of the repositories `wanted` accepts
  // (MomentSelection). Records are read newest first and only as far back as a repository
  // needs. Throws Error(NotFound) when no finished backup is that old.
  MomentSelection at(std::int64_t time, const std::function<bool(const RepositoryRecord&)>& wanted);

 private:
  // The gitvault record of `id` as read_gitvault reads it, else gitaly-backup's backup.
  BackupRecord read_either(const std::string& id, BackupRecord (*read_gitvault)(Sink&, const std::string&));
  // gitaly-backup's backup `id`, read from its manifests once per catalog.
  const BackupRecord& gitaly_backup(const std::string& id);
  Sink& sink_;
  std::optional<GitalyBackupIndex> gitaly_;
  std::map<std::string, BackupRecord> gitaly_read_;
};

}  // namespace gitvault
