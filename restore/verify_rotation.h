// Rotating deep verification (`verify --deep --budget 20GiB`, `--budget-time 30m`,
// `--subset 1/7`): each run proves, deep, the next part of every file of every kept backup,
// and the destination remembers where the rotation stands (backup/proof_state.h), so a small
// nightly budget reaches every file within a period instead of re-reading everything at once.
//
// A unit is one repository of one backup (its chain's files: the deep proof restores a
// chain). Units go in one stable order — by storage and repository, newest backup first —
// and a unit whose files were all proven in the current cycle is passed over (a repository's
// newest chain proves the earlier steps older backups share). A cycle ends when every file
// of the kept backups is proven in it; the next run starts the next cycle. A bytes budget
// takes units in order until it is spent, passing over a unit whose unproven bytes would
// overshoot it by more than a tenth (a later run takes it; a unit larger than the whole
// budget goes alone when nothing else is left); a time budget starts units in order while the time left allows
// one more of the average unit so far; `--subset N/M` is a bytes budget of N/M of all bytes.
// docs/proof.md.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "backup/record.h"
#include "backup/proof_state.h"

namespace gitvault {

struct VerifyBudget {
  std::uint64_t bytes = 0;  // --budget
  double seconds = 0;       // --budget-time
  int subset_n = 0, subset_m = 0;  // --subset N/M
  bool any() const { return bytes > 0 || seconds > 0 || subset_m > 0; }
};

// "20GiB", "512MiB", "100KiB", "4096" (bytes); Error(Usage) otherwise.
std::uint64_t parse_byte_size(const std::string& text);
// "1/7" -> {1, 7}; Error(Usage) unless 0 < N <= M.
std::pair<int, int> parse_subset(const std::string& text);

struct RotationUnit {
  const BackupRecord* backup;
  const RepositoryRecord* repo;
  std::vector<FileDigest> files;  // its chain's files, each once
};

// What a rotating run did and where the rotation stands, for the report and the metrics.
struct RotationStatus {
  std::int64_t cycle = 1;
  std::uint64_t total_bytes = 0;         // every file of the kept backups, each once
  std::uint64_t proven_in_cycle = 0;     // of those, proven in the current cycle (after this run)
  std::uint64_t planned_bytes = 0;       // what this run set out to prove (bytes budgets)
  std::uint64_t proven_this_run = 0;
  std::size_t units_left = 0;            // units this cycle still has to prove
  bool cycle_completed = false;          // this run finished a cycle
  std::int64_t oldest_unproven_seconds = 0;  // age of the least recently proven byte (never proven: since written)
  std::map<std::string, std::int64_t> backup_proven_at;  // id -> when last fully proven (0: not yet)
};

class Rotation {
 public:
  // `units` in any order (sorted here); `state` as read from the destination.
  Rotation(std::vector<RotationUnit> units, ProvenFiles state, std::int64_t now);
  const std::vector<RotationUnit>& units() const { return units_; }
  // The units this run checks, in order: within a bytes budget, or every one the cycle still
  // needs (a time budget: the caller stops starting them when time runs out). Without a
  // budget (a plain --deep), nothing: the caller checks what it was asked to.
  std::vector<std::size_t> plan(const VerifyBudget& budget, RotationStatus& status);
  // A unit came through the deep proof: its files are proven now. Returns the bytes of those
  // not proven in this cycle before.
  std::uint64_t proven(const RotationUnit& unit, std::int64_t now);
  // Closes the run: the cycle ends when nothing is left; every kept backup's last full proof
  // and the oldest proof's age. `state()` is then what to save.
  RotationStatus finish(RotationStatus status, std::int64_t now);
  const ProvenFiles& state() const { return state_; }
  // Every file of the units (for dropping proofs of files prune removed).
  std::set<ProvenKey> named_files() const;

 private:
  bool proven_in_cycle(const FileDigest& f) const;
  std::vector<RotationUnit> units_;
  ProvenFiles state_;
};

}  // namespace gitvault
