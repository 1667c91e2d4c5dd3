// The primitives sealing uses, each a thin call into a well-kept library: libsodium
// (X25519, ChaCha20-Poly1305, Ed25519, randomness) and OpenSSL (HKDF-SHA256, HMAC-SHA256).
// Nothing here is an algorithm of its own.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace gitvault {

// sodium_init() once per process; Error(Internal) if libsodium cannot start.
void ensure_sodium();

// HKDF-SHA256 (RFC 5869) of `ikm` with `salt` (empty: no salt) and `info`, 32 bytes.
std::array<unsigned char, 32> hkdf_sha256_32(std::string_view ikm, std::string_view salt, std::string_view info);

// HMAC-SHA256 of `data` under `key`, 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace gitvault
