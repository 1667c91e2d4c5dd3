#include "destination/sink.h"

#include <dirent.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <utility>

#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "base/sha256.h"
#include "base/system.h"

namespace gitvault {
namespace {

// An open directory descriptor, closed on destruction.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::vector<std::string> components(const std::string& rel) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < rel.size()) {
    std::size_t slash = rel.find('/', start);
    out.push_back(rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

std::pair<std::string, std::string> split_parent(const std::string& name) {
  std::size_t slash = name.rfind('/');
  if (slash == std::string::npos) return {"", name};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

class LocalWriter : public SinkWriter {
 public:
  // fsync_at_commit false: durable at the run's Sink::sync() (Sink::create_new). With
  // `defer`, commit() hands the written temporary file to it instead of renaming it
  // (Sink::create_replacement).
  using Defer = std::function<void(LocalSink::PendingReplacement)>;
  LocalWriter(Fd dir, std::string leaf, std::string where, bool fsync_at_commit, Defer defer = nullptr)
      : dir_(std::move(dir)), leaf_(std::move(leaf)), where_(std::move(where)), fsync_(fsync_at_commit),
        defer_(std::move(defer)) {
    tmp_ = leaf_ + ".tmp-" + unique_suffix();
    fd_ = ::openat(dir_.get(), tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) throw_errno("create", where_ + ".tmp-*", errno);
  }
  ~LocalWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlinkat(dir_.get(), tmp_.c_str(), 0);
  }
  void write(const void* data, std::size_t size) override { write_all(fd_, data, size, where_); }
  void commit() override {
    if (fsync_ && ::fsync(fd_) != 0) throw_errno("fsync", where_, errno);
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) throw_errno("close", where_, errno);
    if (defer_) {
      defer_({tmp_, leaf_, where_, ""});
      committed_ = true;
      return;
    }
    if (::renameat(dir_.get(), tmp_.c_str(), dir_.get(), leaf_.c_str()) != 0)
      throw_errno("rename into place", where_, errno);
    committed_ = true;  // the directory entry is made durable by Sink::sync()
  }

 private:
  Fd dir_;
  std::string leaf_, where_, tmp_;
  bool fsync_ = true;
  Defer defer_;
  int fd_ = -1;
  bool committed_ = false;
};

class LocalSinkLock : public SinkLock {
 public:
  explicit LocalSinkLock(std::unique_ptr<RunLock> lock) : lock_(std::move(lock)) {}
  const std::vector<LockHolder>& dead_holders() const override { return lock_->dead_holders(); }
  std::vector<std::string> unreadable_holders() const override { return lock_->unreadable_holder_files(); }

 private:
  std::unique_ptr<RunLock> lock_;
};

bool is_temporary_name(const std::string& n) { return n.find(".tmp-") != std::string::npos; }

Error symlink_refused(const std::string& path) {
  return Error(ErrorCode::PathEscape,
               printable(path) + " is a symbolic link inside the backup directory; refusing to follow it");
}

}  // namespace

bool SinkLock::writer_died() const {
  for (const auto& h : dead_holders())
    if (h.mode == LockMode::Exclusive) return true;
  return false;
}

void check_sink_name(const std::string& name) {
  bool clean = !name.empty() && name.front() != '/' && name.back() != '/';
  for (const auto& part : components(name))
    clean = clean && !part.empty() && part != "." && part != ".." && part.find('\0') == std::string::npos;
  if (!clean) throw Error(ErrorCode::PathEscape, "invalid backup file name '" + printable(name) + "'");
}

LocalSink::LocalSink(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

// The directory `rel` ("" = the root) opened beneath the root without following a symbolic
// link in any component: a link planted inside the backup directory can never lead a read,
// a write or a removal elsewhere. -1 (errno ENOENT) when missing and !create.
int LocalSink::open_dir(const std::string& rel, bool create) const {
  Fd fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT && create) {
      make_dirs(root_, 0700);
      fd = Fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
    if (fd.get() < 0) {
      if (errno == ENOENT) return -1;
      throw_errno("open", root_, errno);
    }
  }
  std::string at = root_;
  for (const auto& c : components(rel)) {
    at += "/" + c;
    int next = ::openat(fd.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (::mkdirat(fd.get(), c.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("create directory", at, errno);
      next = ::openat(fd.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      int err = errno;
      struct stat st;
      if ((err == ELOOP || err == ENOTDIR) && ::fstatat(fd.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode))
        throw symlink_refused(at);
      if (err == ENOENT) {
        errno = ENOENT;
        return -1;
      }
      throw_errno("open directory", printable(at), err);
    }
    fd = Fd(next);
  }
  return fd.release();
}

std::unique_ptr<SinkWriter> LocalSink::create(const std::string& name) {
  check_sink_name(name);
  auto [dir, leaf] = split_parent(name);
  return std::make_unique<LocalWriter>(Fd(open_dir(dir, true)), leaf, describe(name), true);
}

std::unique_ptr<SinkWriter> LocalSink::create_new(const std::string& name) {
  check_sink_name(name);
  auto [dir, leaf] = split_parent(name);
  return std::make_unique<LocalWriter>(Fd(open_dir(dir, true)), leaf, describe(name), false);
}

std::unique_ptr<SinkWriter> LocalSink::create_replacement(const std::string& name) {
  check_sink_name(name);
  auto [dir, leaf] = split_parent(name);
  // The writer's directory descriptor is closed with the writer: a pending replacement keeps
  // only names (a worker that held one descriptor per repository until its one sync() ran out
  // of descriptors above ~1,000 repositories).
  return std::make_unique<LocalWriter>(Fd(open_dir(dir, true)), leaf, describe(name), false,
                                       [this, dir = dir](PendingReplacement p) {
                                         p.dir = dir;
                                         std::lock_guard<std::mutex> lock(pending_mu_);
                                         pending_.push_back(std::move(p));
                                       });
}

LocalSink::~LocalSink() {
  for (auto& p : pending_) {
    try {
      Fd d(open_dir(p.dir, false));
      if (d.get() >= 0) ::unlinkat(d.get(), p.tmp.c_str(), 0);
    } catch (...) {
      // a directory that became a link or vanished: the next writer reclaims the file
    }
  }
}

// The file `name`, opened for reading beneath the root without following a symbolic link;
// throws (Error(NotFound) when absent) naming it.
namespace {
std::atomic<bool> g_no_openat2{false};  // an old kernel, or a seccomp filter that refuses it
}  // namespace

int LocalSink::open_in_one_call(const std::string& name, int flags) const {
  if (g_no_openat2.load(std::memory_order_relaxed)) {
    errno = ENOSYS;
    return -1;
  }
  Fd root(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return -1;
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const long fd = ::syscall(SYS_openat2, root.get(), name.c_str(), &how, sizeof how);
  if (fd < 0 && (errno == ENOSYS || errno == EPERM)) g_no_openat2.store(true, std::memory_order_relaxed);
  return static_cast<int>(fd);
}

int LocalSink::open_file(const std::string& name) const {
  check_sink_name(name);
  if (const int fd = open_in_one_call(name, O_RDONLY | O_NOFOLLOW); fd >= 0) return fd;
  auto [dir, leaf] = split_parent(name);
  Fd d(open_dir(dir, false));
  if (d.get() < 0) throw_errno("open", describe(name), ENOENT);
  int fd = ::openat(d.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ELOOP) throw symlink_refused(describe(name));
  if (fd < 0) throw_errno("open", describe(name), errno);
  return fd;
}

std::unique_ptr<ByteReader> LocalSink::open(const std::string& name) {
  return std::make_unique<FileReader>(open_file(name), describe(name));
}

FilePeek LocalSink::peek(const std::string& name, std::size_t head, std::size_t tail) {
  Fd fd(open_file(name));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat", describe(name), errno);
  FilePeek out;
  out.size = static_cast<std::uint64_t>(st.st_size);
  auto read_at = [&](std::uint64_t offset, std::size_t length) {
    std::string buf(length, '\0');
    std::size_t got = 0;
    while (got < length) {
      ssize_t n = ::pread(fd.get(), buf.data() + got, length - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("read", describe(name), errno);
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    buf.resize(got);
    return buf;
  };
  out.head = read_at(0, static_cast<std::size_t>(std::min<std::uint64_t>(head, out.size)));
  const std::uint64_t t = std::min<std::uint64_t>(tail, out.size);
  out.tail = read_at(out.size - t, static_cast<std::size_t>(t));
  return out;
}

bool LocalSink::exists(const std::string& name) {
  check_sink_name(name);
  // O_PATH | O_NOFOLLOW: a symbolic link as the last name is there (as fstatat says below);
  // one on the way is ELOOP, and the walk below says so
  if (const int fd = open_in_one_call(name, O_PATH | O_NOFOLLOW); fd >= 0) {
    ::close(fd);
    return true;
  } else if (errno == ENOENT) {
    return false;
  }
  auto [dir, leaf] = split_parent(name);
  Fd d(open_dir(dir, false));
  if (d.get() < 0) return false;
  struct stat st;
  return ::fstatat(d.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

std::vector<std::string> LocalSink::list(const std::string& prefix) {
  if (!prefix.empty()) check_sink_name(prefix);
  std::vector<std::string> out;
  int fd = open_dir(prefix, false);
  if (fd < 0) return out;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    int err = errno;
    ::close(fd);
    throw_errno("list", describe(prefix), err);
  }
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && !is_temporary_name(n)) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// Calls f(relative name, is_temporary) for every file under dir (an open descriptor, which
// this closes), without following symbolic links (a link is reported as a file).
void walk_files(int dirfd, const std::string& rel, const std::function<void(const std::string&, int, const std::string&)>& f) {
  DIR* d = ::fdopendir(dirfd);
  if (!d) {
    ::close(dirfd);
    return;
  }
  std::vector<std::string> subdirs;
  std::vector<std::string> files;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::fstatat(::dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    (is_dir ? subdirs : files).push_back(n);
  }
  for (const auto& n : files) f(rel.empty() ? n : rel + "/" + n, ::dirfd(d), n);
  for (const auto& n : subdirs) {
    int sub = ::openat(::dirfd(d), n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub >= 0) walk_files(sub, rel.empty() ? n : rel + "/" + n, f);
  }
  ::closedir(d);
}

}  // namespace

std::vector<std::string> LocalSink::list_recursive(const std::string& prefix) {
  std::vector<std::string> out;
  for (auto& f : list_files(prefix, false)) out.push_back(std::move(f.name));
  return out;
}

std::vector<ListedFile> LocalSink::list_recursive_sized(const std::string& prefix) { return list_files(prefix, true); }

std::vector<ListedFile> LocalSink::list_files(const std::string& prefix, bool sized) const {
  if (!prefix.empty()) check_sink_name(prefix);
  std::vector<ListedFile> out;
  int fd = open_dir(prefix, false);
  if (fd < 0) return out;
  walk_files(fd, prefix, [&](const std::string& name, int dirfd, const std::string& leaf) {
    if (is_temporary_name(leaf)) return;
    struct stat st {};
    const bool known = sized && ::fstatat(dirfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    out.push_back({name, known ? static_cast<std::uint64_t>(st.st_size) : 0});
  });
  return out;
}

std::size_t LocalSink::remove_unfinished_writes(const std::function<bool(const std::string&)>&) {
  int fd = open_dir("", false);
  if (fd < 0) return 0;
  std::vector<std::string> removed;
  walk_files(fd, "", [&](const std::string& name, int dirfd, const std::string& leaf) {
    if (is_temporary_name(leaf) && ::unlinkat(dirfd, leaf.c_str(), 0) == 0) removed.push_back(name);
  });
  for (const auto& name : removed) remove_empty_parents(name);  // the directories they were alone in
  return removed.size();
}

void LocalSink::remove(const std::string& name) {
  check_sink_name(name);
  auto [dir, leaf] = split_parent(name);
  Fd d(open_dir(dir, false));
  if (d.get() < 0) return;
  if (::unlinkat(d.get(), leaf.c_str(), 0) != 0 && errno != ENOENT) throw_errno("remove", describe(name), errno);
}

void LocalSink::remove_empty_parents(const std::string& name) {
  check_sink_name(name);
  std::string rel = name;
  for (std::size_t slash = rel.rfind('/'); slash != std::string::npos; slash = rel.rfind('/')) {
    rel.resize(slash);
    auto [dir, leaf] = split_parent(rel);
    Fd d(open_dir(dir, false));
    if (d.get() < 0 || ::unlinkat(d.get(), leaf.c_str(), AT_REMOVEDIR) != 0) break;  // not empty (or gone): stop
  }
}

void LocalSink::sync() {
  Fd fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw_errno("open", root_, errno);
  if (::syncfs(fd.get()) != 0) throw_errno("syncfs", root_, errno);
  std::vector<PendingReplacement> pending;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    pending.swap(pending_);
  }
  if (pending.empty()) return;
  // Their content is durable now: they take their names, in the order they were committed.
  std::string failed;
  int failed_errno = 0;
  for (auto& p : pending) {
    int err = 0;
    try {
      Fd d(open_dir(p.dir, false));
      if (d.get() < 0) err = ENOENT;
      else if (::renameat(d.get(), p.tmp.c_str(), d.get(), p.leaf.c_str()) != 0) {
        err = errno;
        ::unlinkat(d.get(), p.tmp.c_str(), 0);
      }
    } catch (const std::exception&) {
      err = ELOOP;  // the directory became a symbolic link: never followed
    }
    if (err != 0 && failed.empty()) {
      failed = p.where;
      failed_errno = err;
    }
  }
  if (!failed.empty()) throw_errno("rename into place", failed, failed_errno);
  if (::syncfs(fd.get()) != 0) throw_errno("syncfs", root_, errno);
}

std::string LocalSink::describe(const std::string& name) const { return root_ + "/" + name; }

std::string LocalSink::unreachable() {
  struct stat st;
  if (::stat(root_.c_str(), &st) != 0)
    return "the backup directory " + root_ + " is gone (" + std::strerror(errno) + ") since " + utc_now_rfc3339();
  std::lock_guard<std::mutex> lock(identity_mu_);
  if (!identity_) identity_ = std::make_pair(st.st_dev, st.st_ino);
  if (*identity_ != std::make_pair(st.st_dev, st.st_ino))
    return "the backup directory " + root_ + " is another directory than when the run started (unmounted?), noticed at " +
           utc_now_rfc3339();
  return "";
}

std::unique_ptr<SinkLock> LocalSink::lock(const LockHolder& me, std::chrono::milliseconds wait, LockName name) {
  make_dirs(root_, 0700);
  if (name == LockName::Pins) {
    make_dirs(root_ + "/+gitvault", 0700);
    return std::make_unique<LocalSinkLock>(
        RunLock::acquire(root_ + "/+gitvault/pins", "backup directory " + root_ + " (its pins)", me, wait));
  }
  return std::make_unique<LocalSinkLock>(RunLock::acquire(root_ + "/+gitvault", "backup directory " + root_, me, wait));
}

struct HashingWriter::Impl {
  std::unique_ptr<SinkWriter> inner;
  std::string name;
  Sha256 hash;
  std::uint64_t size = 0;
};

HashingWriter::HashingWriter(std::unique_ptr<SinkWriter> inner, std::string name) : impl_(std::make_unique<Impl>()) {
  impl_->inner = std::move(inner);
  impl_->name = std::move(name);
}
HashingWriter::~HashingWriter() = default;

void HashingWriter::write(const void* data, std::size_t size) {
  impl_->inner->write(data, size);
  impl_->hash.update(data, size);
  impl_->size += size;
}

FileDigest HashingWriter::commit() {
  impl_->inner->commit();
  FileDigest d{impl_->name, impl_->hash.hex_digest(), impl_->size};
  d.stored = impl_->inner->stored();
  return d;
}

FileDigest write_whole(Sink& sink, const std::string& name, const std::string& data, FileDurability durability) {
  HashingWriter w(durability == FileDurability::AtRunSync           ? sink.create_new(name)
                  : durability == FileDurability::ReplacedAtRunSync ? sink.create_replacement(name)
                                                                    : sink.create(name),
                  name);
  w.write(data.data(), data.size());
  return w.commit();
}

std::vector<ListedFile> Sink::list_recursive_sized(const std::string& prefix) {
  std::vector<ListedFile> out;
  for (auto& name : list_recursive(prefix)) out.push_back({std::move(name), 0});
  return out;
}

std::vector<std::string> Sink::list_after(const std::string& prefix, const std::string& after) {
  std::vector<std::string> out = list(prefix);
  std::sort(out.begin(), out.end());
  out.erase(out.begin(), std::upper_bound(out.begin(), out.end(), after));
  return out;
}

FilePeek Sink::peek(const std::string& name, std::size_t head, std::size_t tail) {
  FilePeek out;
  std::string all = read_whole(*this, name);
  out.size = all.size();
  out.tail = all.substr(all.size() - std::min(tail, all.size()));
  all.resize(std::min(head, all.size()));
  out.head = std::move(all);
  return out;
}

std::string read_whole(Sink& sink, const std::string& name) {
  auto reader = sink.open(name);
  std::string text;
  char buf[65536];
  while (std::size_t n = reader->read(buf, sizeof buf)) text.append(buf, n);
  return text;
}

std::string digest_mismatch(const FileDigest& recorded, std::uint64_t size, const std::string& sha256) {
  if (!recorded.has_checksum) return "";
  if (size != recorded.size)
    return "size is " + std::to_string(size) + " bytes, the backup recorded " + std::to_string(recorded.size) +
           (size < recorded.size ? " (truncated?)" : "");
  if (sha256 != recorded.sha256) return "SHA-256 mismatch (file was modified or damaged)";
  return "";
}

std::string read_verified(Sink& sink, const FileDigest& digest) {
  std::string data = read_whole(sink, digest.name);
  std::string wrong = digest_mismatch(digest, data.size(), sha256_hex(data));
  if (!wrong.empty()) throw Error(ErrorCode::Corrupt, sink.describe(digest.name) + ": " + wrong);
  return data;
}

FileHash hash_file(Sink& sink, const std::string& name) {
  FileHash out;
  std::unique_ptr<ByteReader> reader;
  try {
    reader = sink.open(name);
  } catch (const Error& e) {
    out.error = e.code() == ErrorCode::NotFound ? "missing" : e.what();
    return out;
  }
  Sha256 hash;
  StreamBuffer buf;
  try {
    while (std::size_t n = reader->read(buf.data(), buf.size())) {
      hash.update(buf.data(), n);
      out.size += n;
    }
  } catch (const Error& e) {
    out.error = e.what();
    return out;
  }
  out.sha256 = hash.hex_digest();
  return out;
}

std::string check_file(Sink& sink, const FileDigest& digest) {
  if (std::optional<std::string> unread = sink.check_unread(digest)) return *unread;
  const FileHash h = hash_file(sink, digest.name);
  return h.error.empty() ? digest_mismatch(digest, h.size, h.sha256) : h.error;
}

}  // namespace gitvault
