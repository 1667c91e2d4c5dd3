#include "seal/bech32.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <vector>

namespace gitvault {
namespace {

constexpr std::string_view kBech32Chars = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

std::uint32_t bech32_polymod(const std::vector<std::uint8_t>& values) {
  static constexpr std::uint32_t kGen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  std::uint32_t chk = 1;
  for (std::uint8_t v : values) {
    std::uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i)
      if ((top >> i) & 1) chk ^= kGen[i];
  }
  return chk;
}

std::vector<std::uint8_t> bech32_hrp_expand(std::string_view hrp) {
  std::vector<std::uint8_t> out;
  for (char c : hrp) out.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) >> 5));
  out.push_back(0);
  for (char c : hrp) out.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) & 31));
  return out;
}

}  // namespace

std::string bech32_encode(std::string_view hrp, const unsigned char* data, std::size_t size) {
  std::vector<std::uint8_t> five;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < size; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 5) five.push_back(static_cast<std::uint8_t>((acc >> (bits -= 5)) & 31));
  }
  if (bits > 0) five.push_back(static_cast<std::uint8_t>((acc << (5 - bits)) & 31));
  std::vector<std::uint8_t> values = bech32_hrp_expand(hrp);
  values.insert(values.end(), five.begin(), five.end());
  values.insert(values.end(), 6, 0);
  std::uint32_t mod = bech32_polymod(values) ^ 1;
  std::string out(hrp);
  out += '1';
  for (std::uint8_t v : five) out += kBech32Chars[v];
  for (int i = 0; i < 6; ++i) out += kBech32Chars[(mod >> (5 * (5 - i))) & 31];
  return out;
}

// The 32 bytes of a Bech32 string with human-readable part `hrp`, or an empty result.
std::string bech32_decode_32(std::string_view text, std::string_view hrp) {
  bool has_lower = std::any_of(text.begin(), text.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  bool has_upper = std::any_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  if (has_lower && has_upper) return {};
  std::string s(text);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t sep = s.rfind('1');
  if (sep == std::string::npos || s.substr(0, sep) != hrp || s.size() - sep - 1 < 6) return {};
  std::vector<std::uint8_t> five;
  for (std::size_t i = sep + 1; i < s.size(); ++i) {
    std::size_t v = kBech32Chars.find(s[i]);
    if (v == std::string_view::npos) return {};
    five.push_back(static_cast<std::uint8_t>(v));
  }
  std::vector<std::uint8_t> values = bech32_hrp_expand(hrp);
  values.insert(values.end(), five.begin(), five.end());
  if (bech32_polymod(values) != 1) return {};
  five.resize(five.size() - 6);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::uint8_t v : five) {
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) out += static_cast<char>((acc >> (bits -= 8)) & 0xff);
  }
  if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0) return {};  // padding must be short and zero
  return out.size() == 32 ? out : std::string{};
}

}  // namespace gitvault
