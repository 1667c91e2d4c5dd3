// `gitvault verify`, `gitvault backups` and `gitvault prune`: the commands that look at a
// backup directory without touching a storage.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/common_options.h"

namespace gitvault {

class BackupsCommands {
 public:
  explicit BackupsCommands(CLI::App& app);
  bool selected() const { return verify_->parsed() || backups_->parsed() || prune_->parsed(); }
  // Returns the exit status; throws gitvault::Error for usage and configuration errors.
  int run();

 private:
  int run_verify_command();
  int run_backups_command();
  int run_prune_command();

  CLI::App *verify_, *backups_, *prune_;
  CommonOptions verify_opts_, backups_opts_, prune_opts_;
  std::vector<std::string> verify_ids_;
  bool verify_all_ = false, verify_deep_ = false;
  int verify_parallel_ = 0;
  std::string verify_scratch_;
  int keep_last_ = 0;
  std::string keep_within_;
  bool dry_run_ = false;
};

}  // namespace gitvault
