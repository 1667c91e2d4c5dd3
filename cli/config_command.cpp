// `gitvault config check`: config/config.h (check_config).
#include "base/error.h"
#include "cli/common_options.h"
#include "cli/subcommand.h"
#include "config/config.h"
#include "destination/sealed_sink.h"
#include "ui/report.h"

namespace gitvault {
namespace {

class ConfigCommand : public Subcommand {
 public:
  explicit ConfigCommand(CLI::App& app) : cmd_(app.add_subcommand("config", "Check a gitvault.toml")) {
    check_ = cmd_->add_subcommand("check", "Report unknown keys, wrong types and bad values with their line numbers");
    check_->add_option("--config", file_, "The file to check (default: /etc/gitvault/gitvault.toml)");
    check_->add_flag("--json", json_, "Machine-readable output");
    cmd_->require_subcommand(1);
  }

  bool chosen() const override { return cmd_->parsed(); }

  int run() override {
    std::vector<ConfigProblem> problems = check_config(file_);
    if (problems.empty()) check_sealing(problems);
    report_config_check(stdout, json_ ? OutputMode::Json : OutputMode::Human, file_, problems);
    return problems.empty() ? 0 : 1;
  }

 private:
  // [encryption]'s keys read as a run would read them: recipients and trusted signers parsed,
  // the files they name read (an identity file must be 0600). Nothing is created.
  void check_sealing(std::vector<ConfigProblem>& problems) const {
    try {
      const Config cfg = load_config(file_);
      if (cfg.seal.enabled()) sealing_keys_for(cfg.seal, "", /*writing=*/false);
    } catch (const Error& e) {
      problems.push_back({0, e.what()});
    }
  }

  CLI::App* cmd_;
  CLI::App* check_;
  std::string file_ = "/etc/gitvault/gitvault.toml";
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Subcommand> add_config_command(CLI::App& app) { return std::make_unique<ConfigCommand>(app); }

}  // namespace gitvault
