// What restore drills and deep verification have proven, kept in the destination itself
// (docs/proof.md), so that any host running them continues where the last one stopped:
//
//   +gitvault/proof/drills.json   every repository ever drilled and when it last came back,
//                                 the last drill that brought every sampled repository back
//   +gitvault/proof/proven.json   every file a deep verify proved and when, the rotation's
//                                 current cycle, when each backup was last fully proven
//
// Both are small JSON files replaced whole (Sink::create: atomic). Runs that may overlap
// (two verifies, a drill beside a verify) merge before they write: the file is read again
// and each entry keeps the later of the two times, so a run never takes back what another
// proved. Files no kept backup names any more (prune removed them) are dropped on write.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "backup/sink.h"

namespace gitvault {

// A repository as drills know it: (storage, relative path).
using RepositoryKey = std::pair<std::string, std::string>;

struct DrillHistory {
  std::map<RepositoryKey, std::int64_t> drilled;  // when each last came back (Unix seconds)
  std::int64_t last_success = 0;                  // the last drill with no failure (0: none)
  std::int64_t last_run = 0;
};

// Error(Corrupt) naming the file when it is there but unreadable; empty when absent.
DrillHistory read_drill_history(Sink& sink);
// Merges `h` into what is there now and writes the result.
void save_drill_history(Sink& sink, const DrillHistory& h);

// A file of a backup, as proofs know it: its name and its recorded SHA-256 (a file rewritten
// under the same name with other content is not proven by the old proof).
using ProvenKey = std::pair<std::string, std::string>;

struct ProvenFiles {
  std::map<ProvenKey, std::int64_t> files;     // when each file was last proven deep
  std::int64_t cycle_started = 0;              // the rotation's current cycle (0: none yet)
  std::int64_t cycles_completed = 0;
  std::int64_t last_cycle_completed = 0;       // when the last whole cycle ended
  std::map<std::string, std::int64_t> backups;  // backup id -> when it was last fully proven

  std::int64_t proven_at(const ProvenKey& k) const {
    auto it = files.find(k);
    return it == files.end() ? 0 : it->second;
  }
};

ProvenFiles read_proven_files(Sink& sink);
// Merges `p` into what is there now (the later time of each file; the later cycle), keeps
// only the files in `still_named` when it is given, and writes the result.
void save_proven_files(Sink& sink, const ProvenFiles& p, const std::set<ProvenKey>* still_named);

extern const char* const kDrillHistoryName;
extern const char* const kProvenFilesName;

}  // namespace gitvault
