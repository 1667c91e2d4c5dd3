// `gitvault verify`: is a backup any good, without touching a storage?
//
// Quick (the default), per repository of each backup checked:
//   - the record is readable and says "complete" (a partial or unfinished backup is a problem);
//   - every file of the repository's chain is present with its recorded size and SHA-256;
//   - a manifest-layout repository's manifest parses and names the same files as the record;
//   - the chain is whole: steps numbered 1..N, a full first step with a bundle, every
//     increment's prerequisites among the tips of the step before it, HEAD as recorded.
// Deep (--deep), in addition: the chain is restored into a scratch repository (index-pack of
// every bundle, refs, connectivity, exactly as `gitvault restore` does) and thrown away.
//
// Repositories are checked in parallel (base/scheduler.h), progress reported to the observer;
// one problem per finding, in the result.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "destination/sink.h"
#include "base/run_observer.h"
#include "restore/verify_rotation.h"

namespace gitvault {

struct VerifyOptions {
  std::vector<std::string> ids;  // empty: the newest backup (whatever its status)
  bool all = false;              // every backup in the directory
  bool deep = false;
  int parallel = 0;              // 0: number of CPUs
  std::string scratch_dir;       // deep: where scratch repositories go (default: $TMPDIR or /tmp)
  RunObserver* observer = nullptr;  // progress and notes (nullptr: none)
  std::chrono::milliseconds lock_wait{0};  // docs/locking.md
  // A rotating deep verify (restore/verify_rotation.h): every kept backup, deep, as much as
  // the budget allows, continuing where the last run stopped. Implies deep and all.
  VerifyBudget budget;
  // What `restore --at` this moment would take (BackupCatalog::at): those repositories of
  // those backups, and no others.
  std::optional<std::int64_t> at;
};

struct VerifyProblem {
  std::string backup_id;
  std::string storage;        // "" for a problem of the backup as a whole
  std::string relative_path;
  std::string file;           // the file concerned, when there is one
  std::string what;
};

struct VerifyResult {
  std::vector<std::string> ids;
  std::size_t repositories = 0;
  std::uint64_t bytes = 0;
  std::vector<VerifyProblem> problems;
  // Repositories of gitaly-backup's own backups: no checksums recorded, so a quick verify
  // proves their files present and their chains whole, and only --deep proves their content.
  std::size_t without_checksums = 0;
  int exit_code = 0;  // 0 nothing wrong, 1 problems
  bool deep = false;
  double seconds = 0;
  // A rotating verify: where the rotation stands after this run. A deep verify of every
  // backup (--deep --all) reports it too; it proves a whole cycle at once.
  std::optional<RotationStatus> rotation;
  std::size_t not_reached = 0;  // a time budget: units planned but not started
  std::vector<std::string> notes;
};

// Throws Error(NotFound/Usage) when there is nothing to verify (exit 2).
VerifyResult run_verify(const VerifyOptions& options, Sink& sink);

}  // namespace gitvault
