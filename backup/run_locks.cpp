#include "backup/run_locks.h"

#include <algorithm>
#include <cerrno>

#include "backup/layout.h"
#include "base/encoding.h"
#include "base/error.h"
#include "base/system.h"

namespace gitvault {

RunLocks::RunLocks(Sink& sink, LockMode sink_mode, const std::vector<Storage>& storages, LockMode storage_mode,
                   const std::string& command, const std::string& detail, std::chrono::milliseconds wait,
                   const std::string& scope) {
  std::vector<const Storage*> ordered;
  for (const auto& s : storages) ordered.push_back(&s);
  std::sort(ordered.begin(), ordered.end(), [](const Storage* a, const Storage* b) { return a->path < b->path; });
  const LockHolder me_on_storage = LockHolder::current(command, detail, storage_mode);
  for (const Storage* s : ordered) {
    try {
      auto lock = RunLock::acquire(s->path + "/+gitvault", "storage '" + s->name + "' (" + s->path + ")",
                                   me_on_storage, wait);
      for (const auto& dead : lock->dead_holders())
        notes_.push_back("took over the lock of storage '" + s->name + "' from " + dead.describe() +
                         ", which is no longer running");
      for (const auto& f : lock->unreadable_holder_files()) note_unreadable(f);
      storage_locks_.push_back(std::move(lock));
    } catch (const Error& e) {
      // A backup may read a storage it cannot write to: it runs unlocked there, and says so.
      if (e.code() == ErrorCode::Locked || storage_mode == LockMode::Exclusive) throw;
      notes_.push_back("cannot lock storage '" + s->name + "' (" + e.what() +
                       "): a restore into it during this run would not be noticed");
    }
  }
  LockHolder me = LockHolder::current(command, detail, sink_mode);
  me.scope = scope;
  sink_lock_ = sink.lock(me, wait);
  for (const auto& dead : sink_lock_->dead_holders())
    notes_.push_back("took over the lock of " + sink.describe("") + " from " + dead.describe() +
                     ", which is no longer running");
  for (const auto& f : sink_lock_->unreadable_holders()) note_unreadable(f);
  if (sink_mode == LockMode::Exclusive && sink_lock_->writer_died() && !scope.empty()) {
    // Other hosts' writers may be running: what the dead run left is not told apart from
    // theirs here. Prune, alone in the directory, removes every unfinished write.
    notes_.push_back("what the run that died left half-written stays until the next `gitvault prune` removes it");
  } else if (sink_mode == LockMode::Exclusive && sink_lock_->writer_died()) {
    std::size_t n = sink.remove_unfinished_writes(has_gitvault_file_ending);
    notes_.push_back("removed " + std::to_string(n) + " temporary file" + (n == 1 ? "" : "s") +
                     " left by the run that died");
  }
}

RunLocks::~RunLocks() = default;

void RunLocks::exclude_pinned_readers(Sink& sink, const std::string& command, std::chrono::milliseconds wait) {
  pins_ = sink.lock(LockHolder::current(command, "", LockMode::Exclusive), wait, LockName::Pins);
}

ReaderPin::ReaderPin(Sink& sink, const std::string& command, const std::string& detail, std::chrono::milliseconds wait)
    : lock_(sink.lock(LockHolder::current(command, detail, LockMode::Shared), wait, LockName::Pins)) {
  for (const auto& dead : lock_->dead_holders())
    notes_.push_back("took over the pins of " + sink.describe("") + " from " + dead.describe() +
                     ", which is no longer running");
}

void RunLocks::note_unreadable(const std::string& where) {
  notes_.push_back("the lock holder file " + printable(where) +
                   " cannot be read; left alone (remove it by hand once no run is using it)");
}

std::chrono::milliseconds parse_wait(const std::string& text) {
  return std::chrono::milliseconds(parse_duration(text) * 1000);
}

}  // namespace gitvault
