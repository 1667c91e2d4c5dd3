#include "base/run_lock.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "base/system.h"

namespace gitvault {
namespace {

const char* mode_name(LockMode m) { return m == LockMode::Exclusive ? "exclusive" : "shared"; }

struct HolderFile {
  std::string path;
  LockHolder holder;
};

// Every holder file in dir/holders; unreadable ones (a holder killed while writing it)
// come back with pid 0.
std::vector<HolderFile> read_holders(const std::string& dir) {
  std::vector<HolderFile> out;
  std::string hdir = dir + "/holders";
  DIR* d = ::opendir(hdir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() < 6 || n.compare(n.size() - 5, 5, ".json") != 0) continue;  // not "*.json.new"
    HolderFile hf{hdir + "/" + n, {}};
    try {
      hf.holder = holder_from_json_text(read_file(hf.path), "holder file " + n);
    } catch (const std::exception&) {
      hf.holder.command = "(unreadable holder file " + n + ")";
    }
    out.push_back(std::move(hf));
  }
  ::closedir(d);
  return out;
}

bool alive(const LockHolder& h) {
  if (h.host != host_name()) return true;  // another machine's process: cannot tell, assume alive
  return process_alive(h.pid);
}

}  // namespace

std::string holder_to_json_text(const LockHolder& h) {
  nlohmann::json j = {{"command", h.command}, {"detail", h.detail}, {"mode", mode_name(h.mode)},
                      {"pid", h.pid},         {"host", h.host},     {"started_at", h.started_at}};
  if (!h.scope.empty()) j["scope"] = h.scope;
  return to_json_text(j) + "\n";
}

LockHolder holder_from_json_text(const std::string& text, const std::string& where) {
  LockHolder h;
  try {
    auto j = parse_json_text(text);
    h.command = j.value("command", "");
    h.detail = j.value("detail", "");
    h.mode = j.value("mode", "") == "exclusive" ? LockMode::Exclusive : LockMode::Shared;
    h.pid = j.value("pid", 0L);
    h.host = j.value("host", "");
    h.started_at = j.value("started_at", "");
    h.scope = j.value("scope", "");
  } catch (const std::exception&) {
    h = LockHolder{};
    h.command = "(unreadable " + where + ")";
  }
  return h;
}

std::string LockHolder::describe() const {
  std::string s = command + (detail.empty() ? "" : " " + detail);
  return s + " (pid " + std::to_string(pid) + " on host " + host + ", since " + started_at + ", " + mode_name(mode) +
         (scope.empty() ? "" : " for host " + scope) + ")";
}

bool LockHolder::compatible_with(const LockHolder& other) const {
  if (mode == LockMode::Shared && other.mode == LockMode::Shared) return true;
  return mode == LockMode::Exclusive && other.mode == LockMode::Exclusive && !scope.empty() && !other.scope.empty() &&
         scope != other.scope;
}

LockHolder LockHolder::current(std::string command, std::string detail, LockMode mode) {
  LockHolder h;
  h.command = std::move(command);
  h.detail = std::move(detail);
  h.mode = mode;
  h.pid = static_cast<long>(::getpid());
  h.host = host_name();
  h.started_at = utc_now_rfc3339();
  return h;
}

std::unique_ptr<RunLock> RunLock::acquire(const std::string& dir, const std::string& what, const LockHolder& me,
                                          std::chrono::milliseconds wait) {
  make_dirs(dir + "/holders", 0700);
  std::unique_ptr<RunLock> lock(new RunLock());
  std::string lock_path = dir + "/lock";
  lock->fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lock->fd_ < 0) throw_errno("open lock file", lock_path, errno);
  const int op = (me.mode == LockMode::Exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(lock->fd_, op) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) throw_errno("lock", lock_path, errno);
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string who;
      for (const auto& hf : read_holders(dir)) {
        if (hf.holder.pid != 0 && !alive(hf.holder)) continue;
        if (me.mode == LockMode::Shared && hf.holder.mode != LockMode::Exclusive) continue;
        who += (who.empty() ? "" : "; ") + hf.holder.describe();
      }
      if (who.empty()) who = "another process that has not said who it is yet";
      throw Error(ErrorCode::Locked, what + " is in use by " + who + " — " + me.command +
                                         " needs it " + mode_name(me.mode) +
                                         (wait.count() > 0 ? "; gave up waiting" : "; try again later or use --wait DURATION"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Holder files whose process is gone belong to runs that died holding the lock. Holding
  // it exclusively, every other holder is gone. Holding it shared, dead readers' files are
  // cleared, but a dead writer's file is left for the next writer: it tells that writer to
  // reclaim what the dead one left half-written.
  for (const auto& hf : read_holders(dir)) {
    bool dead = me.mode == LockMode::Exclusive ||
                (hf.holder.mode == LockMode::Shared && (hf.holder.pid == 0 || !alive(hf.holder)));
    if (!dead) continue;
    if (::unlink(hf.path.c_str()) == 0 || errno == ENOENT) lock->dead_.push_back(hf.holder);
  }
  lock->holder_file_ = dir + "/holders/" + me.host + "-" + std::to_string(me.pid) + "-" + unique_suffix() + ".json";
  // Written whole under a temporary name and renamed (never seen half-written); no fsync:
  // after a crash its pid is gone anyway, and a run is not slowed by it.
  std::string tmp = lock->holder_file_ + ".new";
  write_file(tmp, holder_to_json_text(me), 0600);
  if (::rename(tmp.c_str(), lock->holder_file_.c_str()) != 0) throw_errno("rename", lock->holder_file_, errno);
  return lock;
}

RunLock::~RunLock() {
  if (!holder_file_.empty()) ::unlink(holder_file_.c_str());
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

bool RunLock::writer_died() const {
  return std::any_of(dead_.begin(), dead_.end(), [](const LockHolder& h) { return h.mode == LockMode::Exclusive; });
}

}  // namespace gitvault
