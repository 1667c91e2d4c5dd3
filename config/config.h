// The configuration file, gitvault.toml: the storages, where backups go, the flag store and
// the limits. Command-line options override it (cli/).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "git/storage.h"

namespace gitvault {

// gitvault.toml:
//   [[storage]]  name = "default"  path = "/var/opt/gitlab/git-data/repositories"
//   [backup]     path = "/var/opt/gitlab/backups/repositories"
//   [flags]      db = "/var/lib/gitvault/flags.db"
//   [limits]     parallel = 2  parallel_storage = 1
struct Config {
  std::vector<Storage> storages;
  std::string backup_path;
  std::string flags_db;
  std::optional<int> parallel;
  std::optional<int> parallel_storage;
};

// Throws Error(Config) naming the file (and line) on any problem.
Config load_config(const std::string& path);

}  // namespace gitvault
