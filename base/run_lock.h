// Coordination of gitvault runs over one directory (a backup directory, a storage):
// readers share the lock, a writer holds it alone (docs/locking.md).
//
// Locally: flock(2) on "<dir>/lock" decides (a scoped writer is an exclusive one there:
// writers of several hosts into one local directory take turns) (the kernel drops it when a process dies, even
// by kill -9), and each holder leaves a small JSON file "<dir>/holders/<host>-<pid>-<n>.json"
// saying who it is, so that a run that cannot get the lock names the holder, and the next
// run finds out that a holder died (its file stayed, its pid is gone): that is how killed
// runs are noticed and their leftovers reclaimed. An object-storage destination keeps the
// same holder files as lease objects (docs/locking.md).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace gitvault {

enum class LockMode { Shared, Exclusive };

struct LockHolder {
  std::string command;  // "backup", "prune", "restore", "verify", "backups"
  std::string detail;   // e.g. the backup id
  LockMode mode = LockMode::Shared;
  long pid = 0;
  std::string host;
  std::string started_at;
  // An exclusive holder with a scope (one host's part of a backup of several hosts, scope =
  // that host) shares the lock with exclusive holders of other scopes and excludes everyone
  // else: readers, unscoped writers (prune, a backup of one host) and its own scope.
  std::string scope;
  // How long the holder's lease lasts after each renewal (object storage); every reader judges
  // it by this, not by its own setting. 0: no lease (local holders: flock and pid decide).
  int ttl_seconds = 0;
  // "backup 20261123 (pid 4242 on host db1, since 2026-11-23T01:00:00.000Z)"
  std::string describe() const;
  // Whether this holder and `other` may hold the lock at once.
  bool compatible_with(const LockHolder& other) const;
  // A holder for this process, now.
  static LockHolder current(std::string command, std::string detail, LockMode mode);
};

// A holder as JSON text (holder files, lease objects) and back. Unreadable text comes back
// as a holder with pid 0 whose command says so.
std::string holder_to_json_text(const LockHolder& h);
LockHolder holder_from_json_text(const std::string& text, const std::string& where);

class RunLock {
 public:
  // Takes the lock of `dir` (created 0700 when missing) for `me`. `dir` and its holders
  // directory are opened without following a symbolic link (Error(PathEscape) when one is a
  // link), everything in them descriptor-relative. When others hold it in a
  // mode that excludes `me`, waits up to `wait` (polling), then throws Error(Locked) naming
  // `what` and every live holder. `what` names the directory for people ("backup directory
  // /srv/backups").
  static std::unique_ptr<RunLock> acquire(const std::string& dir, const std::string& what, const LockHolder& me,
                                          std::chrono::milliseconds wait);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // Holders whose process died while holding the lock (found once the lock was taken);
  // their holder files are gone now. A shared holder sees only dead readers: a dead
  // writer's file waits for the next writer, which reclaims its leftovers.
  const std::vector<LockHolder>& dead_holders() const { return dead_; }
  // Whether a writer (backup, prune) died while holding it: its leftovers need reclaiming.
  bool writer_died() const;
  // Holder files that could not be read (paths): left alone and reported, never removed.
  const std::vector<std::string>& unreadable_holder_files() const { return unreadable_; }

 private:
  RunLock() = default;
  int fd_ = -1;          // the lock file (flock)
  int dir_fd_ = -1;      // the lock's directory
  int holders_fd_ = -1;  // its holders directory
  std::string holders_dir_;
  std::string holder_name_;
  std::vector<LockHolder> dead_;
  std::vector<std::string> unreadable_;
};

}  // namespace gitvault
