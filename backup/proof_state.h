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

#include "destination/sink.h"

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
// The same from the file's text; `where` names it in the error.
DrillHistory parse_drill_history(const std::string& text, const std::string& where);
// Merges `h` into what is there now and writes the result.
void save_drill_history(Sink& sink, const DrillHistory& h);

// A file of a backup, as proofs know it: its name and its recorded SHA-256 (a file rewritten
// under the same name with other content is not proven by the old proof).
using ProvenKey = std::pair<std::string, std::string>;

// A file's last proof: when, and in which cycle of the rotation (restore/verify_rotation.h; drills: run/drill_run.h).
struct Proof {
  std::int64_t at = 0;
  std::int64_t cycle = 0;
};

struct ProvenFiles {
  std::map<ProvenKey, Proof> files;             // each file's last deep proof
  std::int64_t cycle = 1;                       // the rotation's current cycle (1 first)
  std::int64_t cycle_started = 0;               // when it started (0: no run yet)
  std::int64_t last_cycle_completed = 0;        // when the last whole cycle ended (0: none yet)
  std::map<std::string, std::int64_t> backups;  // backup id -> when it was last fully proven

  Proof proof_of(const ProvenKey& k) const {
    auto it = files.find(k);
    return it == files.end() ? Proof{} : it->second;
  }
};

ProvenFiles read_proven_files(Sink& sink);
ProvenFiles parse_proven_files(const std::string& text, const std::string& where);
// Merges `p` into what is there now (each file's later proof; the later cycle), keeps only
// the files in `still_named` and the backups `p` names when it is given (a rotation that saw
// every kept backup), and writes the result.
void save_proven_files(Sink& sink, const ProvenFiles& p, const std::set<ProvenKey>* still_named);

extern const char* const kDrillHistoryName;
extern const char* const kProvenFilesName;

}  // namespace gitvault
