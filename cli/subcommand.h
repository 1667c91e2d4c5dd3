// Every gitvault subcommand has one shape: it adds itself and its options to the command
// line, and when it is the one chosen, run() turns the options into a run's options, calls
// the run and hands the result to ui/report.h. One file per subcommand (cli/*_command.cpp).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace gitvault {

class Subcommand {
 public:
  virtual ~Subcommand() = default;
  // True when the command line chose this subcommand.
  virtual bool chosen() const = 0;
  // Returns the exit status (docs/exit-codes.md); throws gitvault::Error when nothing could
  // be attempted (exit 2).
  virtual int run() = 0;
};

std::unique_ptr<Subcommand> add_backup_command(CLI::App& app);
std::unique_ptr<Subcommand> add_restore_command(CLI::App& app);
std::unique_ptr<Subcommand> add_verify_command(CLI::App& app);
std::unique_ptr<Subcommand> add_drill_command(CLI::App& app);
std::unique_ptr<Subcommand> add_backups_command(CLI::App& app);
std::unique_ptr<Subcommand> add_prune_command(CLI::App& app);
std::unique_ptr<Subcommand> add_feature_command(CLI::App& app);
std::unique_ptr<Subcommand> add_config_command(CLI::App& app);
std::unique_ptr<Subcommand> add_seal_key_command(CLI::App& app);

}  // namespace gitvault
