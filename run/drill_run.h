// `gitvault drill`: a restore drill. A sample of the newest complete backup's repositories
// (or of --id's) is restored, with the same restore as `gitvault restore` on the engine the
// flag routes each to, into a scratch directory — never a live storage — with every object
// re-hashed, then proven afresh (restore/restored_proof.h), timed, and thrown away. What was
// drilled is remembered in the destination (backup/proof_state.h), so that a small sample
// every week reaches every repository: the sample always takes repositories never drilled
// before and the largest ones in rotation, then random ones (docs/proof.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "destination/sink.h"
#include "run/restore_run.h"

namespace gitvault {

struct DrillOptions : RepositoryRunOptions {
  // `storages` are the live storages: the scratch directory may be neither inside one of
  // them nor hold one. `filter` narrows the repositories a sample is drawn from.
  std::size_t sample_count = 0;  // --sample N
  double sample_percent = 0;     // --sample P%
  bool all = false;              // --all
  std::string scratch_dir;       // absolute; a fresh directory is made inside and removed
  int index_threads = 0;
  std::uint64_t seed = 0;        // 0: a random seed
};

struct DrilledRepository {
  std::string storage, relative_path, project_path;
  std::string why;           // "never drilled", "largest in rotation", "random", "all"
  std::uint64_t size = 0;    // bytes of its chain's files in the backup
  std::vector<std::string> problems;  // empty: it came back exactly
  bool ok() const { return problems.empty(); }
};

struct DrillResult {
  std::string id;
  std::string backup_finished_at;
  std::vector<DrilledRepository> repositories;  // the sample, in the order it was chosen
  std::size_t failed = 0;
  std::size_t candidates = 0;          // repositories the backup holds (after the filter)
  std::uint64_t candidate_bytes = 0;
  std::size_t drilled_ever = 0;        // of the candidates, how many a drill has brought back
  std::uint64_t bytes = 0;             // read from the backup by the restore
  double restore_seconds = 0;          // the restore alone (the proof after it not counted)
  double bytes_per_second = 0, repositories_per_second = 0;
  double estimated_full_restore_seconds = 0;  // the whole backup at this drill's rate
  std::size_t via_pipeline = 0, via_legacy = 0;
  std::vector<std::string> problems;  // of the drill as a whole (the worker, the history)
  std::vector<std::string> notes;
  std::int64_t last_success = 0;      // Unix time of the last drill without failure
  double seconds = 0;
  int exit_code = 0;  // 0 every repository came back, 1 some did not (named)
};

// Throws Error(Usage) for a scratch directory inside (or holding) a storage or the backup
// directory, Error(NotFound) when there is no complete backup to drill.
DrillResult run_drill(const DrillOptions& options, Sink& sink);

}  // namespace gitvault
