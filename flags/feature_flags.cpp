#include "flags/feature_flags.h"

#include <algorithm>

#include <cstdlib>
#include <filesystem>

#include "flags/store.h"
#include "base/error.h"
#include "base/files.h"

namespace gitvault::flags {

std::map<std::string, bool> parse_overrides(const std::string& text, const Registry& registry) {
  std::map<std::string, bool> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? text.size() : comma + 1;
    if (item.empty()) continue;
    std::size_t eq = item.find('=');
    std::string name = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (eq == std::string::npos || name.empty())
      throw Error(ErrorCode::Usage, "GITVAULT_FEATURES: '" + item + "' is not NAME=true|false");
    if (!registry.find(name)) throw Error(ErrorCode::Usage, "GITVAULT_FEATURES: unknown flag '" + name + "'");
    if (value == "true" || value == "on" || value == "1")
      out[name] = true;
    else if (value == "false" || value == "off" || value == "0")
      out[name] = false;
    else
      throw Error(ErrorCode::Usage, "GITVAULT_FEATURES: value for " + name + " must be true or false, got '" + value + "'");
  }
  return out;
}

std::vector<std::string> repository_actors(const std::string& storage, const std::string& relative_path,
                                           const std::string& project_path) {
  std::vector<std::string> a = {"Repository:" + relative_path};
  if (!project_path.empty()) a.push_back("Project:" + project_path);
  a.push_back("Storage:" + storage);
  return a;
}

std::string resolve_store_path(const std::string& option, const std::string& config_value) {
  if (!option.empty()) return option;
  if (const char* env = std::getenv("GITVAULT_FLAGS_DB"); env && *env) return env;
  if (!config_value.empty()) return config_value;
  return default_store_path();
}

FeatureFlags::FeatureFlags(std::string store_path, const Registry& registry)
    : store_path_(std::move(store_path)), registry_(registry) {}

void FeatureFlags::load() {
  if (const char* env = std::getenv("GITVAULT_FEATURES"); env && *env) overrides_ = parse_overrides(env, registry_);
  states_.clear();
  store_error_.reset();
  last_change_.clear();
  std::string dir = std::filesystem::path(store_path_).parent_path().string();
  if (!path_exists(store_path_) && !dir.empty() && !path_exists(dir)) return;  // never set up: defaults
  if (!path_exists(store_path_)) {
    // A directory made for the store (StateDirectory=, a package) but no store yet: create it,
    // so that this run, `feature list` and `feature eval` all read the same (empty) store.
    try {
      Store::open(store_path_, true);
    } catch (const std::exception& e) {
      warnings_.push_back("cannot create the flag store: " + std::string(e.what()) + "; flag defaults apply");
      return;
    }
  }
  try {
    auto store = Store::open(store_path_, false);
    states_ = store->read_all();
    for (auto& e : store->events("")) last_change_[e.feature] = std::move(e);
  } catch (const std::exception& e) {
    store_error_ = e.what();
    warnings_.push_back(std::string(e.what()) + "; every feature flag evaluates to off until this is fixed");
  }
  for (const auto& [name, state] : states_)
    if (!registry_.find(name))
      warnings_.push_back("flag '" + name + "' is set in " + store_path_ + " but has no definition; ignored");
}

Evaluation FeatureFlags::evaluate(const std::string& name, const std::vector<std::string>& actors) const {
  const Definition* def = registry_.find(name);
  if (!def) {
    const char* strict = std::getenv("GITVAULT_STRICT_FLAGS");
    if (strict && std::string(strict) == "1")
      throw Error(ErrorCode::Internal, "The feature flag YAML definition for '" + name + "' does not exist");
    return {false, Reason::UnknownFlag, "no definition for '" + name + "'"};
  }
  if (auto it = overrides_.find(name); it != overrides_.end())
    return {it->second, Reason::Override, "GITVAULT_FEATURES"};
  if (store_error_) return {false, Reason::StoreError, *store_error_};
  Evaluation ev = flags::evaluate(*def, state(name), actors, default_random_draw);
  if (const RecordedFlag* r = remembered(name)) {
    ev.reason = Reason::Remembered;
    ev.detail += " (set " + r->changed_at + " by " + r->changed_by + "@" + r->changed_on_host + ", as recorded in " +
                 r->recorded_in + ")";
  }
  return ev;
}

GateState FeatureFlags::state(const std::string& name) const {
  auto it = states_.find(name);
  return it == states_.end() ? GateState{} : it->second;
}

const RecordedFlag* FeatureFlags::remembered(const std::string& name) const {
  auto it = remembered_.find(name);
  return it == remembered_.end() ? nullptr : &it->second;
}

std::vector<RecordedFlag> FeatureFlags::snapshot() const {
  std::vector<RecordedFlag> out;
  for (const auto& d : registry_.definitions) {
    if (const RecordedFlag* r = remembered(d.name)) {
      RecordedFlag copy = *r;
      copy.recorded_in.clear();
      out.push_back(copy);
      continue;
    }
    RecordedFlag r;
    r.name = d.name;
    r.state = state(d.name);
    if (auto it = last_change_.find(d.name); it != last_change_.end()) {
      r.changed_at = it->second.time;
      r.changed_by = it->second.user;
      r.changed_on_host = it->second.host;
      r.action = it->second.action;
    }
    out.push_back(std::move(r));
  }
  return out;
}

bool FeatureFlags::remember(const RecordedFlag& recorded) {
  if (!registry_.find(recorded.name) || !recorded.state.persisted) return false;
  if (store_error_ || overrides_.count(recorded.name)) return false;  // off already / the override decides
  if (states_.count(recorded.name) || last_change_.count(recorded.name)) return false;  // the store knows it
  remembered_[recorded.name] = recorded;
  states_[recorded.name] = recorded.state;
  warnings_.push_back("the flag store " + store_path_ + " knows nothing of " + recorded.name + " (new or emptied), but " +
                      recorded.recorded_in + " ran with it set to '" + describe_state(recorded.state) + "' (" +
                      (recorded.action.empty() ? "changed" : recorded.action) + " " + recorded.changed_at + " by " +
                      recorded.changed_by + "@" + recorded.changed_on_host + "): keeping that until an operator runs "
                      "`gitvault feature set " + recorded.name + " ...` or `gitvault feature delete " + recorded.name + "`");
  return true;
}

bool FeatureFlags::may_be_enabled(const std::string& name) const {
  const Definition* def = registry_.find(name);
  if (!def) return false;
  if (auto it = overrides_.find(name); it != overrides_.end()) return it->second;
  if (store_error_) return false;
  return can_be_enabled(*def, state(name));  // remembered states included
}

}  // namespace gitvault::flags
