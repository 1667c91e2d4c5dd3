// `gitvault feature list|get|set|delete|log|eval`: GitLab's ChatOps/API verbs for flags,
// with their validation. Every verb takes --json.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace gitvault {

class FeatureCommand {
 public:
  // Adds the `feature` subcommand and its verbs to app.
  explicit FeatureCommand(CLI::App& app);
  bool selected() const { return feature_->parsed(); }
  // Runs the chosen verb; returns the exit status. Throws gitvault::Error for refusals.
  int run(const std::string& config_flags_db, const std::string& config_backup_path);
  std::string config_file;

 private:
  struct Targets {
    std::string project, repository, storage, user, group, feature_group;
    void add_to(CLI::App& cmd);
    std::vector<std::string> actors() const;  // "Project:a", "Repository:b", ...
  };
  CLI::App* feature_;
  CLI::App *list_, *get_, *set_, *delete_, *log_, *eval_;
  std::string flags_db_;
  std::string backup_path_;
  bool json_ = false;
  std::string name_, value_;
  bool actors_pct_ = false, random_pct_ = false;
  Targets set_targets_, eval_targets_;
  std::string log_name_;
};

}  // namespace gitvault
