// A source of bytes read in chunks: a local file now, an object-storage download later.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

namespace gitvault {

class ByteReader {
 public:
  virtual ~ByteReader() = default;
  // Reads up to size bytes; returns 0 at the end. Throws Error naming the source on failure.
  virtual std::size_t read(void* buf, std::size_t size) = 0;
  // What to call this source in messages (a path).
  virtual const std::string& name() const = 0;
};

// Bytes held in memory, read like a file (small files, tests).
class StringReader : public ByteReader {
 public:
  StringReader(std::string bytes, std::string name) : bytes_(std::move(bytes)), name_(std::move(name)) {}
  std::size_t read(void* buf, std::size_t size) override {
    std::size_t n = std::min(size, bytes_.size() - at_);
    std::memcpy(buf, bytes_.data() + at_, n);
    at_ += n;
    return n;
  }
  const std::string& name() const override { return name_; }

 private:
  std::string bytes_;
  std::string name_;
  std::size_t at_ = 0;
};

}  // namespace gitvault
