// Feature flag definitions: one YAML file per flag, flags/definitions/<type>/<name>.yml,
// with GitLab's fields, built into the binary and validated with GitLab's rules.
#pragma once

#include <string>
#include <vector>

namespace gitvault::flags {

struct Definition {
  std::string name;
  std::string type;
  bool default_enabled = false;
  std::string description;
  std::string milestone;
  std::string group;
  std::string introduced_by_url;
  std::string rollout_issue_url;
  std::string source;  // "definitions/<type>/<name>.yml"
};

// The allowed types, and those that may be default_enabled: true.
const std::vector<std::string>& allowed_types();
bool type_may_default_enable(const std::string& type);
bool valid_flag_name(const std::string& name);

// Parses one definition; `source` is its path relative to flags/ (checked against the name
// and type). Returns the problems found (empty when valid) in `errors`.
Definition parse_definition(const std::string& yaml_text, const std::string& source, std::vector<std::string>& errors);

// Every definition built into the binary, validated; also checks duplicate names.
struct Registry {
  std::vector<Definition> definitions;
  std::vector<std::string> errors;
  const Definition* find(const std::string& name) const;
};
const Registry& builtin_registry();
Registry load_registry(const std::vector<std::pair<std::string, std::string>>& sources_and_texts);

}  // namespace gitvault::flags
