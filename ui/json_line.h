// Every JSON object gitvault prints (--json: summaries on stdout, progress on stderr) goes
// out through here, one per line, carrying "schema": the version of docs/json.md it follows.
#pragma once

#include <cstdio>

#include <nlohmann/json.hpp>

namespace gitvault {

// Within a version fields are only added; a field removed or changed in meaning is a new one.
constexpr int kJsonSchemaVersion = 1;

void print_json_line(std::FILE* out, nlohmann::json j);

}  // namespace gitvault
