// `gitvault prune`: keeping only the backups an admin wants (backup/retention_policy.h)
// without ever breaking one that is kept.
//
// A backup depends on another when a repository's chain (incremental steps) names files the
// other one wrote. Prune works on files, not on backups: it removes the records of the
// backups it does not keep, then every file under their ids (found in a listing: removed
// records are not read) that no kept record names. So a kept increment keeps its chain's
// base files even when the base backup's record goes.
//
// Prune holds the directory's lock exclusively, so no backup runs meanwhile: a record still
// "running" is a dead run's, and files that no record names (killed runs, failed
// repositories) are removed too. The whole plan is checked first (every name clean and
// reached without a symbolic link); one bad name refuses the prune with nothing deleted.
//
// Crash safety: before deleting anything, prune writes its plan (the ids and the files) to
// "+gitvault/prune.json" through the sink. Deleting follows the plan: records first, then
// files, then the plan. A prune that is killed is finished by the next one, which first
// re-reads the plan and deletes only files still named by no remaining record. A plan that
// cannot be finished is set aside as +gitvault/prune-failed-<time>.json and reported.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backup/record.h"
#include "backup/retention_policy.h"
#include "destination/sink.h"

namespace gitvault {

struct PruneOptions {
  // Which backups to keep (backup/retention_policy.h, restic's rules): the bucket rules
  // (last, hourly, …, yearly) count complete backups; `within` keeps any finished backup.
  RetentionPolicy policy;
  bool dry_run = false;
  std::chrono::milliseconds lock_wait{0};      // docs/locking.md
  // Called before each file is removed with how many went before it (tests stop a prune
  // part way here, as a kill would).
  std::function<void(std::size_t)> before_file_removal;
};

struct PrunePlan {
  std::vector<std::string> keep;    // backup ids kept, newest first
  // Why each kept backup stays: the policy's rules ("daily", "within", …) and gitvault's own
  // ("newest complete", "newer than the newest complete").
  std::map<std::string, std::vector<std::string>> reasons;
  std::string policy;               // the policy in words
  std::vector<std::string> remove;  // backup ids whose records go
  std::vector<std::string> files;   // files removed (named by no kept record)
  std::uint64_t bytes = 0;          // their size as recorded
  std::size_t unreferenced = 0;     // of the files, those no record named (killed runs, failed repositories)
  std::size_t unfinished_writes = 0;  // killed runs' unfinished writes removed (multipart uploads, *.tmp-* files)
  OldVersions old_versions;           // a versioned (Object Lock) destination's: removed for good, still locked
  // Backups not kept (removed by this prune or an earlier one) that Object Lock keeps: the
  // date (Unix seconds) the lock ledger says their objects stay locked until.
  std::map<std::string, std::int64_t> locked_until;
  std::int64_t now = 0;             // when the prune began (Unix seconds)
  bool resumed = false;             // an interrupted prune was finished first
  std::vector<std::string> notes;   // what taking the lock and an interrupted plan found
};

// Throws Error(Usage) when the policy is empty. The newest complete backup, and any
// finished backup newer than it (last night's partial one), are always kept.
PrunePlan prune_backups(Sink& sink, const PruneOptions& options);

}  // namespace gitvault
