// Options shared by gitvault's subcommands: storages, backup path, path filters, config.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "gitaly/storage.h"

namespace gitvault {

struct CommonOptions {
  std::string config_file;
  std::vector<std::string> storage_specs;
  std::string backup_path;
  std::string repositories_paths;
  std::string skip_repositories_paths;
  bool json = false;
  std::string wait;

  void add_config_option(CLI::App& cmd);
  void add_storage_options(CLI::App& cmd);  // --config and --storage
  void add_path_option(CLI::App& cmd);
  void add_filter_options(CLI::App& cmd);
  void add_json_option(CLI::App& cmd);
  void add_wait_option(CLI::App& cmd);
  // --config, --path and --json: the commands that read a backup directory only.
  void add_backup_directory_options(CLI::App& cmd);

  // Storages from --storage, else from the config file. Throws Error(Usage/Config).
  std::vector<Storage> storages() const;
  // --path, else [backup] path of the config file. Throws Error(Usage) when neither.
  std::string resolved_backup_path() const;
  PathFilter filter() const;
  // --wait DURATION as milliseconds (0 when not given). Throws Error(Usage).
  std::chrono::milliseconds lock_wait() const;
  const Config& config() const;

 private:
  mutable bool config_loaded_ = false;
  mutable Config config_;
};

}  // namespace gitvault
