#include "flags/definition.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

namespace gitvault::flags {

// Generated at configure time from definitions/**/*.yml (see CMakeLists.txt).
extern const std::vector<std::pair<std::string, std::string>>& embedded_definitions();

const std::vector<std::string>& allowed_types() {
  static const std::vector<std::string> types = {"gitlab_com_derisk", "wip", "beta", "ops", "experiment",
                                                 "worker", "undefined", "development"};
  return types;
}

bool type_may_default_enable(const std::string& type) {
  return type == "beta" || type == "ops" || type == "development";
}

// GitLab's rule: ^[a-z][a-z0-9]*(_[a-z0-9]+)*$ — lower-case words joined by single underscores.
bool valid_flag_name(const std::string& name) {
  if (name.empty() || name.size() > 100 || name.front() < 'a' || name.front() > 'z' || name.back() == '_')
    return false;
  char previous = 0;
  for (char c : name) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!word && c != '_') return false;
    if (c == '_' && previous == '_') return false;
    previous = c;
  }
  return true;
}

Definition parse_definition(const std::string& text, const std::string& source, std::vector<std::string>& errors) {
  Definition d;
  d.source = source;
  auto err = [&](const std::string& m) { errors.push_back(source + ": " + m); };
  YAML::Node y;
  try {
    y = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    err(std::string("invalid YAML: ") + e.what());
    return d;
  }
  if (!y.IsMap()) {
    err("not a mapping");
    return d;
  }
  auto str = [&](const char* key) {
    return y[key] && y[key].IsScalar() ? y[key].as<std::string>() : std::string();
  };
  d.name = str("name");
  d.type = str("type");
  d.description = str("description");
  d.milestone = str("milestone");
  d.group = str("group");
  d.introduced_by_url = str("introduced_by_url");
  d.rollout_issue_url = str("rollout_issue_url");
  if (d.name.empty())
    err("missing name");
  else if (!valid_flag_name(d.name))
    err("invalid name '" + d.name + "' (lowercase words joined by _)");
  if (d.type.empty())
    err("missing type");
  else if (std::find(allowed_types().begin(), allowed_types().end(), d.type) == allowed_types().end())
    err("invalid type '" + d.type + "'");
  if (!y["default_enabled"] || !y["default_enabled"].IsScalar()) {
    err("missing default_enabled");
  } else {
    std::string v = y["default_enabled"].as<std::string>();
    if (v != "true" && v != "false")
      err("default_enabled must be true or false");
    else
      d.default_enabled = v == "true";
    if (d.default_enabled && !d.type.empty() && !type_may_default_enable(d.type))
      err("type '" + d.type + "' may not be default_enabled: true");
  }
  if (d.description.empty()) err("missing description");
  std::string expected = "definitions/" + d.type + "/" + d.name + ".yml";
  if (!d.name.empty() && !d.type.empty() && source != expected)
    err("file must be " + expected + " (file name = name, folder = type)");
  return d;
}

const Definition* Registry::find(const std::string& name) const {
  for (const auto& d : definitions)
    if (d.name == name) return &d;
  return nullptr;
}

Registry load_registry(const std::vector<std::pair<std::string, std::string>>& sources) {
  Registry r;
  std::set<std::string> seen;
  for (const auto& [source, text] : sources) {
    Definition d = parse_definition(text, source, r.errors);
    if (d.name.empty()) continue;
    if (!seen.insert(d.name).second) {
      r.errors.push_back(source + ": duplicate flag name '" + d.name + "'");
      continue;
    }
    r.definitions.push_back(std::move(d));
  }
  std::sort(r.definitions.begin(), r.definitions.end(),
            [](const Definition& a, const Definition& b) { return a.name < b.name; });
  return r;
}

const Registry& builtin_registry() {
  static const Registry r = load_registry(embedded_definitions());
  return r;
}

}  // namespace gitvault::flags
