// A source of bytes read in chunks: a local file now, an object-storage download later.
#pragma once

#include <cstddef>
#include <string>

namespace gitvault {

class ByteReader {
 public:
  virtual ~ByteReader() = default;
  // Reads up to size bytes; returns 0 at the end. Throws Error naming the source on failure.
  virtual std::size_t read(void* buf, std::size_t size) = 0;
  // What to call this source in messages (a path).
  virtual const std::string& name() const = 0;
};

}  // namespace gitvault
