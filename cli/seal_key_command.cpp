// `gitvault seal-key`: this host's signing key for sealed backups (docs/encryption.md,
// "Keys"): created on first use, its public half printed for the other hosts'
// [encryption] trusted_signers and for the restore side's config.
#include <cstdio>

#include "cli/common_options.h"
#include "cli/subcommand.h"
#include "seal/signing.h"

namespace gitvault {
namespace {

class SealKeyCommand : public Subcommand {
 public:
  explicit SealKeyCommand(CLI::App& app)
      : cmd_(app.add_subcommand("seal-key", "Print this host's public signing key for sealed backups (created on first use)")) {
    opts_.add_config_option(*cmd_);
  }

  bool chosen() const override { return cmd_->parsed(); }

  int run() override {
    const SealSettings seal = opts_.config().seal;
    const std::string path = seal.signing_key.empty() ? kDefaultSigningKey : seal.signing_key;
    const SigningKey key = SigningKey::load_or_create(path);
    std::printf("%s\n", key.public_key().text().c_str());
    std::fprintf(stderr, "signing key: %s (list the line above in [encryption] trusted_signers of the hosts "
                         "that restore or verify these backups)\n", path.c_str());
    return 0;
  }

 private:
  CLI::App* cmd_;
  CommonOptions opts_;
};

}  // namespace

std::unique_ptr<Subcommand> add_seal_key_command(CLI::App& app) { return std::make_unique<SealKeyCommand>(app); }

}  // namespace gitvault
