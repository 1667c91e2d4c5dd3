#include "cli/gitvault_cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <vector>

#include "base/encoding.h"
#include "base/error.h"
#include "cli/subcommand.h"

namespace gitvault {

int gitvault_main(int argc, char** argv) {
  CLI::App app{"gitvault: verified backups of a git-data tree of bare repositories"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("gitvault ") + GITVAULT_VERSION);
  std::vector<std::unique_ptr<Subcommand>> commands;
  for (auto add : {add_backup_command, add_restore_command, add_verify_command, add_drill_command, add_backups_command,
                   add_prune_command, add_feature_command, add_config_command, add_seal_key_command})
    commands.push_back(add(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  // No exception leaves a subcommand: refusals exit 2 (nothing attempted), anything else 1.
  try {
    for (const auto& c : commands)
      if (c->chosen()) return c->run();
  } catch (const Error& e) {
    std::fprintf(stderr, "gitvault: %s\n", printable(e.what()).c_str());
    return exit_code_for(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gitvault: %s\n", printable(e.what()).c_str());
    return 1;
  }
  return 2;
}

}  // namespace gitvault
