// Reading refs straight from git's files backend: HEAD, loose refs under refs/, packed-refs.
//
// An unchanged repository of a nightly incremental backup costs what reading its refs
// costs, so this is the hot path of a night where little changed. libgit2 opens the
// repository first (realpath, config, a dozen stats) and reads each loose ref by full path;
// here every file is opened relative to one descriptor of the repository directory: about
// three system calls per directory and per loose ref.
//
// The reader only handles the plain case and says so: anything else (a symlink, a file
// that is not a plain ref, a name git would not accept, a lock file, a reftable, an oid
// that is not SHA-1) makes it return nullopt, and read_refs asks libgit2, whose answer
// then decides. Loose refs are read before packed-refs, as git does, so a concurrent
// `git pack-refs` (which writes packed-refs, then deletes the loose files) cannot hide a ref.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <optional>
#include <string>

#include "git/refs.h"

namespace gitvault {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

enum class ReadResult { Ok, Missing, Unusual };

// Reads the file `name` relative to dir_fd without following a symlink. Small files only
// (loose refs, HEAD) unless `any_size`.
ReadResult read_at(int dir_fd, const char* name, std::string& out, bool any_size) {
  Fd fd(::openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!fd.ok()) return errno == ENOENT ? ReadResult::Missing : ReadResult::Unusual;
  out.clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ReadResult::Unusual;  // EISDIR among others
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (!any_size && out.size() > 1024) return ReadResult::Unusual;
    // A short read of a small regular file is its end: spare the second read.
    if (!any_size && static_cast<std::size_t>(n) < sizeof buf) break;
  }
  return ReadResult::Ok;
}

bool is_sha1_hex(const char* p, std::size_t n) {
  if (n != 40) return false;
  for (std::size_t i = 0; i < n; ++i) {
    char c = p[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A ref file's content: "<oid>\n" or "ref: <target>\n". False when it is neither.
bool parse_ref_content(const std::string& text, std::string& oid, std::string& target) {
  oid.clear();
  target.clear();
  if (text.size() == 41 && text[40] == '\n' && is_sha1_hex(text.data(), 40)) {
    oid = text.substr(0, 40);
    return true;
  }
  if (text.size() > 6 && text.compare(0, 5, "ref: ") == 0 && text.back() == '\n') {
    target = text.substr(5, text.size() - 6);
    return target.rfind("refs/", 0) == 0 && target.find('\n') == std::string::npos && is_valid_refname(target);
  }
  return false;
}

bool ends_with(const std::string& s, const char* suffix) {
  std::size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

struct Collected {
  std::map<std::string, std::string> direct;    // name -> oid
  std::map<std::string, std::string> symbolic;  // name -> target
};

// Reads every loose ref under the directory dir_fd, whose ref name prefix is `prefix`
// ("refs/", "refs/heads/", ...). getdents64 straight on the descriptor: opendir would add
// an fstat and an fcntl per directory.
bool read_loose(int dir_fd, const std::string& prefix, Collected& out, int depth) {
  if (depth > 32) return false;
  alignas(8) char buf[8192];
  std::string text, oid, target;
  for (;;) {
    ssize_t got = ::getdents64(dir_fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return false;
    if (got == 0) return true;
    for (ssize_t off = 0; off < got;) {
      auto* e = reinterpret_cast<struct dirent64*>(buf + off);
      off += e->d_reclen;
      const char* n = e->d_name;
      if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st;
        if (::fstatat(dir_fd, n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          if (errno == ENOENT) continue;  // deleted meanwhile
          return false;
        }
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
      }
      std::string name = prefix + n;
      if (type == DT_DIR) {
        Fd sub(::openat(dir_fd, n, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
        if (!sub.ok()) {
          if (errno == ENOENT) continue;  // an empty directory pruned meanwhile
          return false;
        }
        if (!read_loose(sub.get(), name + "/", out, depth + 1)) return false;
        continue;
      }
      if (type != DT_REG) return false;                                       // symlink, fifo, ...
      if (ends_with(name, ".lock") || !is_valid_refname(name)) return false;  // libgit2 decides
      switch (read_at(dir_fd, n, text, false)) {
        case ReadResult::Missing:
          continue;  // packed meanwhile: packed-refs, read after this, has it
        case ReadResult::Unusual:
          return false;
        case ReadResult::Ok:
          break;
      }
      if (!parse_ref_content(text, oid, target)) return false;
      if (!target.empty())
        out.symbolic[name] = target;
      else
        out.direct[name] = oid;
    }
  }
}

// packed-refs: an optional "# pack-refs with: ..." header, "<oid> <name>" lines, and
// "^<oid>" lines peeling the line before. Loose refs win over packed ones.
bool read_packed(int repo_fd, Collected& out) {
  std::string text;
  switch (read_at(repo_fd, "packed-refs", text, true)) {
    case ReadResult::Missing:
      return true;
    case ReadResult::Unusual:
      return false;
    case ReadResult::Ok:
      break;
  }
  std::size_t pos = 0;
  bool first = true, after_ref = false;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) return false;  // no final newline: not what git writes
    const char* line = text.data() + pos;
    std::size_t len = end - pos;
    pos = end + 1;
    if (first && len > 0 && line[0] == '#') {
      first = false;
      continue;
    }
    first = false;
    if (len == 41 && line[0] == '^' && after_ref && is_sha1_hex(line + 1, 40)) {
      after_ref = false;
      continue;
    }
    if (len < 42 || line[40] != ' ' || !is_sha1_hex(line, 40)) return false;
    std::string name(line + 41, len - 41);
    if (name.rfind("refs/", 0) != 0 || !is_valid_refname(name)) return false;
    if (!out.direct.count(name) && !out.symbolic.count(name)) out.direct.emplace(std::move(name), std::string(line, 40));
    after_ref = true;
  }
  return true;
}

}  // namespace

std::optional<RefSnapshot> read_refs_plain_files(const std::string& repo_path) {
  Fd repo(::open(repo_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!repo.ok()) return std::nullopt;
  // A reftable repository keeps a stub refs/heads and its refs elsewhere.
  struct stat st;
  if (::fstatat(repo.get(), "reftable", &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) return std::nullopt;

  Collected c;
  {
    Fd refs(::openat(repo.get(), "refs", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!refs.ok() || !read_loose(refs.get(), "refs/", c, 0)) return std::nullopt;
  }
  if (!read_packed(repo.get(), c)) return std::nullopt;

  RefSnapshot snap;
  snap.refs.reserve(c.direct.size() + c.symbolic.size());
  // Symbolic refs resolve to their target's oid (chains of up to 5, as git allows);
  // a dangling one has no object and is left out, as libgit2's reading does.
  std::map<std::string, std::string> resolved = c.direct;
  for (const auto& [name, first_target] : c.symbolic) {
    std::string target = first_target;
    for (int hop = 0; hop < 5; ++hop) {
      if (auto d = c.direct.find(target); d != c.direct.end()) {
        resolved[name] = d->second;
        break;
      }
      auto s = c.symbolic.find(target);
      if (s == c.symbolic.end()) break;  // dangling
      target = s->second;
    }
  }
  for (auto& [name, oid] : resolved) snap.refs.push_back({oid, name});  // map order = byte order

  std::string head, oid, target;
  if (read_at(repo.get(), "HEAD", head, false) != ReadResult::Ok) return std::nullopt;
  if (!parse_ref_content(head, oid, target)) return std::nullopt;
  if (!target.empty()) {
    snap.head_target = target;
    if (auto r = resolved.find(target); r != resolved.end()) snap.head_oid = r->second;
  } else {
    snap.head_oid = oid;
  }
  return snap;
}

}  // namespace gitvault
