// Small, careful file-system helpers. Every failure throws Error naming the path.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/byte_reader.h"

namespace gitvault {

// mkdir -p; directories that are created get `mode` (0700 for backup directories).
void make_dirs(const std::string& path, mode_t mode);

// Writes data to path through a temporary file in the same directory: write, fsync, rename,
// fsync the directory. Readers see the old content or the new, never a mix. Without
// `durable`, no fsync: still never a mix, but a crash may leave the old content (for copies
// that can be lost, such as a sealed destination's shadow: docs/encryption.md).
void write_file_atomic(const std::string& path, const std::string& data, mode_t mode, bool durable = true);

// Writes data to path (created or truncated), no fsync.
void write_file(const std::string& path, const std::string& data, mode_t mode);

// Writes all of data to fd, through interruptions and short writes; errors name `where`.
void write_all(int fd, const void* data, std::size_t size, const std::string& where);

// syncfs(2) of the file system holding path.
void sync_filesystem(const std::string& path);

// Reads a whole (small) file.
std::string read_file(const std::string& path);

void fsync_directory(const std::string& dir);

// Removes a file or a directory tree without following symlinks; missing is fine.
void remove_tree(const std::string& path);

bool path_exists(const std::string& path);        // lstat succeeds
bool is_directory_nofollow(const std::string& path);

// A name unlikely to collide: "<pid>-<counter>-<random>".
std::string unique_suffix();

// Opens a file for reading in chunks.
// A buffer for streaming file contents through: left uninitialised (a std::vector<char> of
// 1 MiB is zeroed on every construction; a restore of 1,000 repositories made 5,000 of them).
class StreamBuffer {
 public:
  explicit StreamBuffer(std::size_t size = std::size_t{1} << 20)
      : data_(std::make_unique_for_overwrite<char[]>(size)), size_(size) {}
  char* data() { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_;
};

class FileReader : public ByteReader {
 public:
  explicit FileReader(const std::string& path);
  // Takes ownership of an open descriptor; `path` names it in messages.
  FileReader(int fd, const std::string& path);
  ~FileReader() override;
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  // Reads up to size bytes; 0 at end of file.
  std::size_t read(void* buf, std::size_t size) override;
  std::uint64_t size() const { return size_; }
  const std::string& name() const override { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace gitvault
