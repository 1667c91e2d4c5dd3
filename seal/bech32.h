// Bech32 (BIP 173): the text form of age's keys and of gitvault's signing keys — a checksummed
// encoding, so that a key mistyped or cut short in a config is refused, not used.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gitvault {

// `hrp` (lowercase) + "1" + the data in Bech32 with its checksum, lowercase.
std::string bech32_encode(std::string_view hrp, const unsigned char* data, std::size_t size);
// The 32 bytes a Bech32 string with human-readable part `hrp` holds (either case, not
// mixed), or an empty string for anything else (wrong part, bad checksum, other length).
std::string bech32_decode_32(std::string_view text, std::string_view hrp);

}  // namespace gitvault
