// `gitvault backups` and `gitvault prune`: what is in a backup directory, and keeping only
// the backups an admin wants without ever breaking one that is kept.
//
// A backup depends on another when a repository's chain (incremental steps) names files the
// other one wrote. Prune works on files, not on backups: it removes the records of the
// backups it does not keep, then every file those records name that no kept record names.
// So a kept increment keeps its chain's base files even when the base backup's record goes.
//
// Crash safety: before deleting anything, prune writes its plan (the ids and the files) to
// "+gitvault/prune.json" through the sink. Deleting follows the plan: records first, then
// files, then the plan. A prune that is killed is finished by the next one, which first
// re-reads the plan and deletes only files still named by no remaining record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backup/record.h"
#include "backup/sink.h"

namespace gitvault {

struct BackupSummary {
  std::string id;
  std::string status;
  std::string started_at;
  std::string finished_at;
  std::size_t repositories = 0;
  std::size_t failed = 0;
  std::size_t pipeline = 0, legacy = 0;                 // paths used
  std::size_t full = 0, incremental = 0, unchanged = 0;  // step kinds
  std::uint64_t bytes = 0;                              // written by this backup
  std::vector<std::string> needs;  // other backups whose files its chains name
  std::vector<std::string> needs_pruned;  // of those, the ones whose record is gone (files kept)
  bool standalone() const { return needs.empty(); }
};

// Every backup, newest first; unreadable records are reported in `errors`.
std::vector<BackupSummary> list_backups(Sink& sink, std::vector<std::string>* errors);

// "30d", "36h", "2w", "90m", "45s" -> seconds; throws Error(Usage) otherwise.
std::int64_t parse_duration(const std::string& text);

struct PruneOptions {
  std::optional<int> keep_last;                // the N newest complete backups
  std::optional<std::int64_t> keep_within_s;  // every backup started within this many seconds
  bool dry_run = false;
};

struct PrunePlan {
  std::vector<std::string> keep;    // backup ids kept, newest first
  std::vector<std::string> remove;  // backup ids whose records go
  std::vector<std::string> files;   // files removed (named by no kept record)
  std::uint64_t bytes = 0;          // their size as recorded
  bool resumed = false;             // an interrupted prune was finished first
};

// Throws Error(Usage) when neither keep option is given. The newest complete backup, and any
// unfinished backup newer than it (it may be running), are always kept.
PrunePlan prune_backups(Sink& sink, const PruneOptions& options);

}  // namespace gitvault
