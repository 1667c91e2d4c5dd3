#include "backup/sink.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "gitaly/error.h"
#include "gitaly/files.h"
#include "gitaly/sha256.h"

namespace gitvault {
namespace {

class LocalWriter : public SinkWriter {
 public:
  LocalWriter(std::string path) : path_(std::move(path)) {
    dir_ = std::filesystem::path(path_).parent_path().string();
    make_dirs(dir_, 0700);
    tmp_ = path_ + ".tmp-" + unique_suffix();
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) throw_errno("create", tmp_, errno);
  }
  ~LocalWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  void write(const void* data, std::size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::write(fd_, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("write", path_, errno);
      p += n;
      size -= static_cast<std::size_t>(n);
    }
  }
  void commit() override {
    if (::fsync(fd_) != 0) throw_errno("fsync", path_, errno);
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) throw_errno("close", path_, errno);
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) throw_errno("rename into place", path_, errno);
    committed_ = true;  // the directory entry is made durable by Sink::sync()
  }

 private:
  std::string path_, dir_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void check_sink_name(const std::string& name) {
  if (name.empty() || name[0] == '/') throw Error(ErrorCode::PathEscape, "invalid backup file name '" + name + "'");
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t slash = name.find('/', start);
    std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..")
      throw Error(ErrorCode::PathEscape, "invalid backup file name '" + name + "'");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
}

LocalSink::LocalSink(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string LocalSink::path_of(const std::string& name) const {
  check_sink_name(name);
  return root_ + "/" + name;
}

std::unique_ptr<SinkWriter> LocalSink::create(const std::string& name) {
  return std::make_unique<LocalWriter>(path_of(name));
}

std::unique_ptr<ByteReader> LocalSink::open(const std::string& name) {
  return std::make_unique<FileReader>(path_of(name));
}

bool LocalSink::exists(const std::string& name) { return path_exists(path_of(name)); }

std::vector<std::string> LocalSink::list(const std::string& prefix) {
  std::string dir = prefix.empty() ? root_ : path_of(prefix);
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    throw_errno("list", dir, errno);
  }
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && n.find(".tmp-") == std::string::npos) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

void LocalSink::remove(const std::string& name) {
  std::string p = path_of(name);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("remove", p, errno);
}

void LocalSink::remove_empty_parents(const std::string& name) {
  check_sink_name(name);
  std::string rel = name;
  for (std::size_t slash = rel.rfind('/'); slash != std::string::npos; slash = rel.rfind('/')) {
    rel.resize(slash);
    if (::rmdir((root_ + "/" + rel).c_str()) != 0) break;  // not empty (or gone): stop
  }
}

void LocalSink::sync() {
  int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("open", root_, errno);
  int rc = ::syncfs(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw_errno("syncfs", root_, err);
}

std::string LocalSink::describe(const std::string& name) const { return root_ + "/" + name; }

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
  return {impl_->name, impl_->hash.hex_digest(), impl_->size};
}

FileDigest write_whole(Sink& sink, const std::string& name, const std::string& data) {
  HashingWriter w(sink.create(name), name);
  w.write(data.data(), data.size());
  return w.commit();
}

std::string read_whole(Sink& sink, const std::string& name) {
  auto reader = sink.open(name);
  std::string text;
  char buf[65536];
  while (std::size_t n = reader->read(buf, sizeof buf)) text.append(buf, n);
  return text;
}

std::string digest_mismatch(const FileDigest& recorded, std::uint64_t size, const std::string& sha256) {
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

std::string check_file(Sink& sink, const FileDigest& digest) {
  std::unique_ptr<ByteReader> reader;
  try {
    reader = sink.open(digest.name);
  } catch (const Error& e) {
    return e.code() == ErrorCode::NotFound ? "missing" : e.what();
  }
  Sha256 hash;
  std::uint64_t size = 0;
  std::vector<char> buf(1 << 20);
  try {
    while (std::size_t n = reader->read(buf.data(), buf.size())) {
      hash.update(buf.data(), n);
      size += n;
    }
  } catch (const Error& e) {
    return e.what();
  }
  return digest_mismatch(digest, size, hash.hex_digest());
}

}  // namespace gitvault
