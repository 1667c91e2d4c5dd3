// Object Lock over chains (docs/object-storage.md, "Object Lock"): on a destination that
// locks what it writes, every object a backup needs — its chains' earlier steps, a fork's
// pool steps — stays locked at least as long as the backup itself, so no kept backup ever
// depends on an object that can be deleted.
//
// The ledger: an empty object "+gitvault/locks/<id>.<until>" says every object backup <id>
// wrote is locked until <until> (Unix seconds) or later. Each backup writes its own when it
// finishes; a backup that needs an earlier one whose ledger date falls short of its own lock
// extends all of that backup's objects — to twice its lock from its start, so that the next
// extension of the same backup is a lock's length away — and writes a new entry. A night
// thus costs one listing of the ledger, and one request per object of a backup it extends,
// only when it extends one; nothing per repository.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backup/record.h"
#include "destination/sink.h"

namespace gitvault {

// The ledger: for each backup, the latest date its objects are known to be locked until.
std::map<std::string, std::int64_t> read_lock_ledger(Sink& sink);
// A ledger entry ("+gitvault/locks/<id>.<until>"): the backup it is about and the date
// (Unix seconds). Prune keeps the entries of backups it removed until that date passes, so it
// can say until when they stay locked, then removes them.
struct LockMark {
  std::string backup;
  std::int64_t until = 0;
};
// nullopt for any name that is not a ledger entry.
std::optional<LockMark> lock_mark_of(const std::string& name);

// Every object backup `b` wrote itself (not the earlier steps it names): its steps' files,
// manifests, chain files and record files. `names`: the destination's listing of
// +gitvault/chains/ (for its chain files).
std::vector<std::string> files_written_by(Sink& sink, const BackupRecord& b, const std::vector<std::string>& chain_names);

struct LockExtension {
  std::vector<std::string> backups;  // whose objects were extended
  std::size_t objects = 0;           // how many objects
};

// At the end of backup `night` on a destination with sink.lock_for() > 0: every backup it
// needs (NeedsClosure) whose ledger date is before `night_start + lock_for` has all its
// objects extended to `night_start + 2 * lock_for`; then `night`'s own ledger entry is
// written. Throws Error naming the object or record when an extension fails: the night must
// not be called complete then. Nothing at all on a destination that does not lock.
LockExtension keep_needs_locked(Sink& sink, const BackupRecord& night, std::int64_t night_start);

}  // namespace gitvault
