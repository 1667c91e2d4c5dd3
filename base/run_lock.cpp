#include "base/run_lock.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
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
  std::string name;  // in dir/holders
  LockHolder holder;
  bool readable = true;
};

// A directory beneath `parent` (a descriptor; AT_FDCWD with an absolute path), created 0700
// when missing, opened without following a symbolic link: whoever owns the directory a lock
// lives in (a storage belongs to the git user) cannot lead the lock's reads and removals
// elsewhere — a `holders` link to the backup records once had every record removed.
int open_lock_dir(int parent, const std::string& name, const std::string& where) {
  int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("create directory", where, errno);
    fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
    throw Error(ErrorCode::Config,  // nothing is attempted: exit 2
                printable(where) + " is not a directory (a symbolic link?); refusing to use it for a lock");
  if (fd < 0) throw_errno("open directory", where, errno);
  return fd;
}

// A small file beneath a directory descriptor, never through a symbolic link.
std::string read_file_at(int dir, const std::string& name, const std::string& where) {
  int fd = ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw_errno("open", where, errno);
  FileReader reader(fd, where);
  std::string text;
  char buf[4096];
  while (std::size_t n = reader.read(buf, sizeof buf)) {
    text.append(buf, n);
    if (text.size() > 65536) throw Error(ErrorCode::Corrupt, where + " is too large for a holder file");
  }
  return text;
}

// Every holder file in the holders directory (a descriptor). One that cannot be read or
// parsed is returned with readable = false: it is reported, never taken for a dead holder.
std::vector<HolderFile> read_holders(int holders, const std::string& hdir) {
  std::vector<HolderFile> out;
  int fd = ::dup(holders);
  if (fd < 0) return out;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return out;
  }
  ::rewinddir(d);
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() < 6 || n.compare(n.size() - 5, 5, ".json") != 0) continue;  // not "*.json.new"
    HolderFile hf{n, {}, true};
    try {
      hf.holder = holder_from_json_text(read_file_at(holders, n, hdir + "/" + n), "holder file " + n);
      hf.readable = hf.holder.pid != 0;
    } catch (const std::exception&) {
      hf.readable = false;
    }
    if (!hf.readable) hf.holder.command = "(unreadable holder file " + printable(hdir + "/" + n) + ")";
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
  if (h.ttl_seconds > 0) j["ttl_seconds"] = h.ttl_seconds;
  return to_json_text(j) + "\n";
}

LockHolder holder_from_json_text(const std::string& text, const std::string& where) {
  LockHolder h;
  try {
    auto j = parse_json_text(text);
    h.command = j.value("command", "");
    h.detail = j.value("detail", "");
    h.mode = j.value("mode", "") == "exclusive" ? LockMode::Exclusive : LockMode::Shared;
    h.pid = json_integer_or<long>(j, "pid", 0);
    h.host = j.value("host", "");
    h.started_at = j.value("started_at", "");
    h.scope = j.value("scope", "");
    h.ttl_seconds = json_integer_or<int>(j, "ttl_seconds", 0);
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
  std::unique_ptr<RunLock> lock(new RunLock());
  {
    // The lock's directory itself is opened without following a link too; its parent (the
    // storage, the backup directory) is the configured path.
    std::string parent = dir.substr(0, dir.rfind('/'));
    make_dirs(parent.empty() ? "/" : parent, 0700);
    int pfd = ::open(parent.empty() ? "/" : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) throw_errno("open directory", parent, errno);
    try {
      lock->dir_fd_ = open_lock_dir(pfd, dir.substr(dir.rfind('/') + 1), dir);
    } catch (...) {
      ::close(pfd);
      throw;
    }
    ::close(pfd);
  }
  lock->holders_dir_ = dir + "/holders";
  lock->holders_fd_ = open_lock_dir(lock->dir_fd_, "holders", lock->holders_dir_);
  std::string lock_path = dir + "/lock";
  lock->fd_ = ::openat(lock->dir_fd_, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lock->fd_ < 0) throw_errno("open lock file", lock_path, errno);
  const int op = (me.mode == LockMode::Exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(lock->fd_, op) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) throw_errno("lock", lock_path, errno);
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string who;
      for (const auto& hf : read_holders(lock->holders_fd_, lock->holders_dir_)) {
        if (hf.readable && !alive(hf.holder)) continue;
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
  // reclaim what the dead one left half-written. A file that cannot be read is never taken
  // for a dead holder: it is reported and left where it is.
  for (const auto& hf : read_holders(lock->holders_fd_, lock->holders_dir_)) {
    if (!hf.readable) {
      lock->unreadable_.push_back(lock->holders_dir_ + "/" + hf.name);
      continue;
    }
    bool dead = me.mode == LockMode::Exclusive || (hf.holder.mode == LockMode::Shared && !alive(hf.holder));
    if (!dead) continue;
    if (::unlinkat(lock->holders_fd_, hf.name.c_str(), 0) == 0 || errno == ENOENT) lock->dead_.push_back(hf.holder);
  }
  lock->holder_name_ = me.host + "-" + std::to_string(me.pid) + "-" + unique_suffix() + ".json";
  // Written whole under a temporary name and renamed (never seen half-written); no fsync:
  // after a crash its pid is gone anyway, and a run is not slowed by it.
  const std::string tmp = lock->holder_name_ + ".new";
  const std::string where = lock->holders_dir_ + "/" + lock->holder_name_;
  int hfd = ::openat(lock->holders_fd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (hfd < 0) throw_errno("create", where, errno);
  const std::string text = holder_to_json_text(me);
  try {
    write_all(hfd, text.data(), text.size(), where);
  } catch (...) {
    ::close(hfd);
    ::unlinkat(lock->holders_fd_, tmp.c_str(), 0);
    throw;
  }
  ::close(hfd);
  if (::renameat(lock->holders_fd_, tmp.c_str(), lock->holders_fd_, lock->holder_name_.c_str()) != 0)
    throw_errno("rename", where, errno);
  return lock;
}

RunLock::~RunLock() {
  if (!holder_name_.empty() && holders_fd_ >= 0) ::unlinkat(holders_fd_, holder_name_.c_str(), 0);
  if (holders_fd_ >= 0) ::close(holders_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

bool RunLock::writer_died() const {
  return std::any_of(dead_.begin(), dead_.end(), [](const LockHolder& h) { return h.mode == LockMode::Exclusive; });
}

}  // namespace gitvault
