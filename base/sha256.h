// Incremental SHA-256 (OpenSSL), hex output.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace gitvault {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size);
  // Lowercase hex digest; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_hex(const std::string& data);

}  // namespace gitvault
