#include "backup/proof_state.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "base/error.h"

namespace gitvault {

const char* const kDrillHistoryName = "+gitvault/proof/drills.json";
const char* const kProvenFilesName = "+gitvault/proof/proven.json";

namespace {

// The file's text, or nullopt when absent.
std::optional<std::string> read_state(Sink& sink, const char* name) {
  if (!sink.exists(name)) return std::nullopt;
  try {
    return read_whole(sink, name);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::NotFound) return std::nullopt;  // removed meanwhile
    throw;
  }
}

// Parses with `parse` the JSON object of format 1 in `text`; any problem is Error(Corrupt)
// naming `where`.
template <typename T>
T parse_state(const std::string& text, const std::string& where, T (*parse)(const nlohmann::json&)) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object() || !j.contains("format") || j["format"] != 1) throw std::runtime_error("not format 1");
    return parse(j);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::Corrupt, where + ": unreadable (" + e.what() +
                                        "); move it aside to start the record of proofs afresh");
  }
}

template <typename K>
void keep_later(std::map<K, std::int64_t>& into, const std::map<K, std::int64_t>& from) {
  for (const auto& [k, t] : from) {
    auto& mine = into[k];
    mine = std::max(mine, t);
  }
}

DrillHistory parse_drills(const nlohmann::json& j) {
  DrillHistory h;
  h.last_success = json_integer_or<std::int64_t>(j, "last_success", 0);
  h.last_run = json_integer_or<std::int64_t>(j, "last_run", 0);
  for (const auto& e : j.at("drilled"))
    h.drilled[{e.at(0).get<std::string>(), e.at(1).get<std::string>()}] = json_integer<std::int64_t>(e.at(2), "drilled");
  return h;
}

ProvenFiles parse_proven(const nlohmann::json& j) {
  ProvenFiles p;
  p.cycle = json_integer_or<std::int64_t>(j, "cycle", 1);
  p.cycle_started = json_integer_or<std::int64_t>(j, "cycle_started", 0);
  p.last_cycle_completed = json_integer_or<std::int64_t>(j, "last_cycle_completed", 0);
  for (const auto& e : j.at("files"))
    p.files[{e.at(0).get<std::string>(), e.at(1).get<std::string>()}] = {json_integer<std::int64_t>(e.at(2), "files"),
                                                                          json_integer<std::int64_t>(e.at(3), "files")};
  for (const auto& [id, t] : j.at("backups").items()) p.backups[id] = json_integer<std::int64_t>(t, "backups");
  return p;
}

}  // namespace

DrillHistory parse_drill_history(const std::string& text, const std::string& where) {
  return parse_state<DrillHistory>(text, where, parse_drills);
}

DrillHistory read_drill_history(Sink& sink) {
  auto text = read_state(sink, kDrillHistoryName);
  return text ? parse_drill_history(*text, sink.describe(kDrillHistoryName)) : DrillHistory{};
}

void save_drill_history(Sink& sink, const DrillHistory& h) {
  DrillHistory merged = read_drill_history(sink);
  keep_later(merged.drilled, h.drilled);
  merged.last_success = std::max(merged.last_success, h.last_success);
  merged.last_run = std::max(merged.last_run, h.last_run);
  nlohmann::json drilled = nlohmann::json::array();
  for (const auto& [k, t] : merged.drilled) drilled.push_back({k.first, k.second, t});
  nlohmann::json j = {{"format", 1},
                      {"last_success", merged.last_success},
                      {"last_run", merged.last_run},
                      {"drilled", std::move(drilled)}};
  write_whole(sink, kDrillHistoryName, j.dump() + "\n");
}

ProvenFiles parse_proven_files(const std::string& text, const std::string& where) {
  return parse_state<ProvenFiles>(text, where, parse_proven);
}

ProvenFiles read_proven_files(Sink& sink) {
  auto text = read_state(sink, kProvenFilesName);
  return text ? parse_proven_files(*text, sink.describe(kProvenFilesName)) : ProvenFiles{};
}

void save_proven_files(Sink& sink, const ProvenFiles& p, const std::set<ProvenKey>* still_named) {
  ProvenFiles merged = read_proven_files(sink);
  for (const auto& [k, proof] : p.files) {
    Proof& mine = merged.files[k];
    if (proof.cycle > mine.cycle || (proof.cycle == mine.cycle && proof.at > mine.at)) mine = proof;
  }
  keep_later(merged.backups, p.backups);
  if (p.cycle > merged.cycle || (p.cycle == merged.cycle && merged.cycle_started == 0)) {  // the later cycle wins
    merged.cycle = p.cycle;
    merged.cycle_started = p.cycle_started;
  }
  merged.last_cycle_completed = std::max(merged.last_cycle_completed, p.last_cycle_completed);
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [k, proof] : merged.files)
    if (!still_named || still_named->count(k)) files.push_back({k.first, k.second, proof.at, proof.cycle});
  nlohmann::json backups = nlohmann::json::object();
  for (const auto& [id, t] : merged.backups)
    if (!still_named || p.backups.count(id)) backups[id] = t;  // a backup prune removed is gone
  nlohmann::json j = {{"format", 1},
                      {"cycle", merged.cycle},
                      {"cycle_started", merged.cycle_started},
                      {"last_cycle_completed", merged.last_cycle_completed},
                      {"files", std::move(files)},
                      {"backups", std::move(backups)}};
  write_whole(sink, kProvenFilesName, j.dump() + "\n");
}

}  // namespace gitvault
