// What a long run tells the person who started it while it works. Runs (run/, verify in
// restore/, the worker in gitaly/) report through a RunObserver and never print; the UI
// (ui/progress.h) is the observer that prints, tests pass none or their own.
#pragma once

#include <cstdint>
#include <string>

namespace gitvault {

// A repository's outcome, in a run and in a backup record ("ok", "empty", ... are the words
// records, JSON output and progress lines use).
enum class ItemStatus {
  Pending,  // not done yet (a record of a run that is still going, or died)
  Ok,       // done, with data
  Empty,    // done: the repository has no commit
  Failed,   // not done; the error says why
  Skipped,  // gone since discovery: nothing to do
  // Not started: the run stopped before it (the destination stopped answering, or the run
  // lost its lock); the error says why. Like a failure, it keeps the backup from complete.
  NotAttempted,
};
const char* to_string(ItemStatus s);

struct ItemDone {
  std::string storage;
  std::string relative_path;
  ItemStatus status = ItemStatus::Ok;
  std::uint64_t bytes = 0;
  double seconds = 0;
  std::string detail;  // the error when failed, else what was done ("pipeline (flag on)")
};

// A repository a run could not do, and why (a run's result lists them; ui prints them).
struct Failure {
  std::string storage;
  std::string relative_path;
  std::string project_path;
  std::string reason;
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // Before the repositories: verb ("backup", "restore", "verify --deep") and how many.
  virtual void started(const std::string& /*verb*/, std::size_t /*total*/) {}
  // One repository is done. May be called from several threads at once.
  virtual void item_done(const ItemDone& /*item*/) {}
  virtual void finished() {}
  // Something the person should know, that does not fail the run ("note: ...").
  virtual void note(const std::string& /*text*/) {}
  // Something that may be wrong ("warning: ...").
  virtual void warning(const std::string& /*text*/) {}
  // A line a worker wrote that is not one of its JSON log lines.
  virtual void worker_text(const std::string& /*text*/) {}
};

// An observer that drops everything: the default of every run's options.
RunObserver& silent_observer();

}  // namespace gitvault
