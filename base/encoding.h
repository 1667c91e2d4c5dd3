// Names as bytes: repository paths, project paths and ref names are whatever the file
// system and git accept (any bytes but '/' and NUL for a path component), not necessarily
// UTF-8. This is the one place that says how such bytes travel through JSON and TOML and
// how they are shown to people (docs/backup-format.md, "Names").
//
// JSON (records, manifests' JSON siblings, worker job and log lines, --json output):
//  - a string member "k" whose bytes are valid UTF-8 is written as it is (control
//    characters as JSON escapes, \u001b, \n, ...);
//  - otherwise "k" holds the bytes with each invalid byte replaced by U+FFFD (for people
//    and for tools that know nothing of this rule) and "k_raw" the exact bytes in base64;
//  - a string element of an array that is not valid UTF-8 becomes {"_raw": "<base64>"}.
// Readers that go through parse_json_text() get the exact bytes back.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace gitvault {

bool is_valid_utf8(std::string_view s);
// Each byte that is not part of a valid UTF-8 sequence replaced by U+FFFD.
std::string lossy_utf8(std::string_view s);

std::string base64_encode(std::string_view bytes);
// Throws Error(Corrupt) for text that is not base64.
std::string base64_decode(std::string_view text);

// Each byte as two lowercase hex digits, and back (nullopt for text that is not an even
// number of hex digits).
std::string hex_lower(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view hex);

// ASCII letters lowered, every other byte as it is (HTTP header names, config keys).
std::string ascii_lower(std::string s);
// Without the spaces, tabs, CRs and LFs at either end.
std::string trim_blanks(std::string_view s);

// For people (terminals, logs): printable UTF-8 as it is; control characters, DEL, bytes
// that are not UTF-8 and backslashes as C escapes (\e, \n, \t, \xe9, \\).
std::string printable(std::string_view s);

// JSON text of j following the rule above. Never throws for any bytes in j's strings.
std::string to_json_text(const nlohmann::json& j, int indent = -1);
// Parses JSON text and restores the exact bytes of "_raw" members. Throws
// nlohmann::json::exception for text that is not JSON, Error(Corrupt) for bad base64.
nlohmann::json parse_json_text(std::string_view text);
// Restores the exact bytes of "_raw" members of an already parsed document, in place.
void restore_raw_strings(nlohmann::json& j);

// An integer read from parsed JSON, checked: Error(Corrupt) naming `what` when j is not an
// integer or does not fit T. (nlohmann's get<T> converts a float such as 1e54, or a number
// past T's range, with undefined behaviour; every reader of a file, line or answer that
// another program or a damaged disk may have written goes through these instead.)
template <typename T>
T json_integer(const nlohmann::json& j, std::string_view what) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  bool fits = false;
  if (j.is_number_unsigned()) fits = std::in_range<T>(j.get<std::uint64_t>());
  else if (j.is_number_integer()) fits = std::in_range<T>(j.get<std::int64_t>());
  if (!fits) {
    std::string found = j.is_number() ? j.dump() : std::string("a ") + j.type_name();
    throw Error(ErrorCode::Corrupt, std::string(what) + ": expected an integer that fits, found " + found);
  }
  return j.is_number_unsigned() ? static_cast<T>(j.get<std::uint64_t>()) : static_cast<T>(j.get<std::int64_t>());
}
// Member `key` of object j as json_integer, or `fallback` when j has no such member.
template <typename T>
T json_integer_or(const nlohmann::json& j, const char* key, T fallback) {
  auto it = j.find(key);
  return it == j.end() ? fallback : json_integer<T>(*it, key);
}

}  // namespace gitvault
