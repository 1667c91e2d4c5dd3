// The locks one gitvault run holds (docs/locking.md):
//
//   command            backup directory   each storage it touches
//   backup             exclusive          shared (it reads them)
//   prune              exclusive          -
//   restore            shared             exclusive (it swaps repositories in)
//   verify, backups    shared             -
//   drill              - (pins: shared)   -
//   prune              (pins: exclusive)
//
// The pins (LockName::Pins) let a reader run beside a backup: a drill holds them shared and
// no directory lock, so backups come and go meanwhile, and prune — the one run that removes
// what a reader reads — holds them exclusive after the directory's lock.
//
// They are always taken in one order, storages (sorted by path) and then the backup
// directory, so that two runs waiting with --wait can never wait on each other. A writer
// that finds that another writer died holding the directory's lock removes what that run
// left half-written (temporary files) and says so in notes().
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "destination/sink.h"
#include "base/run_lock.h"
#include "git/storage.h"

namespace gitvault {

class RunLocks {
 public:
  // `scope`: with an exclusive sink_mode, the host whose part of a backup of several hosts
  // this run writes (LockHolder::scope); writers of other hosts may run meanwhile.
  RunLocks(Sink& sink, LockMode sink_mode, const std::vector<Storage>& storages, LockMode storage_mode,
           const std::string& command, const std::string& detail, std::chrono::milliseconds wait,
           const std::string& scope = "");
  ~RunLocks();
  RunLocks(const RunLocks&) = delete;
  RunLocks& operator=(const RunLocks&) = delete;

  // What taking the locks found and did, one sentence each, for the run's log.
  const std::vector<std::string>& notes() const { return notes_; }
  // Why the destination's lock was lost (SinkLock::lost), empty while it is held.
  std::string lost() const { return sink_lock_ ? sink_lock_->lost() : ""; }
  // Prune: also keeps out the readers that run beside backups (the pins, exclusive).
  void exclude_pinned_readers(Sink& sink, const std::string& command, std::chrono::milliseconds wait);

 private:
  void note_unreadable(const std::string& where);
  std::vector<std::unique_ptr<RunLock>> storage_locks_;
  std::unique_ptr<SinkLock> sink_lock_;
  std::unique_ptr<SinkLock> pins_;
  std::vector<std::string> notes_;
};

// A reader that runs beside backups (a restore drill): the pins, shared; only prune waits
// for it, and it for prune.
class ReaderPin {
 public:
  ReaderPin(Sink& sink, const std::string& command, const std::string& detail, std::chrono::milliseconds wait);
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  std::unique_ptr<SinkLock> lock_;
  std::vector<std::string> notes_;
};

// "30s", "10m", "2h", "1d" -> milliseconds, for --wait; throws Error(Usage).
std::chrono::milliseconds parse_wait(const std::string& text);

}  // namespace gitvault
