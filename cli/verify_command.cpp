// `gitvault verify`: restore/verify.h.
#include <filesystem>

#include "backup/s3_sink.h"
#include "base/error.h"
#include "cli/common_options.h"
#include "cli/subcommand.h"
#include "restore/verify.h"
#include "ui/report.h"

namespace gitvault {
namespace {

class VerifyCommand : public Subcommand {
 public:
  explicit VerifyCommand(CLI::App& app)
      : cmd_(app.add_subcommand("verify", "Check a backup without a storage: files, checksums, manifests, chains "
                                          "(--deep: also index every chain into a scratch repository)")) {
    opts_.add_backup_directory_options(*cmd_);
    cmd_->add_option("--id", ids_, "Backup id to verify (repeatable; default: the newest backup)");
    cmd_->add_flag("--all", all_, "Verify every backup in the directory");
    cmd_->add_flag("--deep", deep_, "Also restore every repository into a scratch repository and check it");
    cmd_->add_option("--parallel", parallel_, "Repositories checked at once (default: number of CPUs)");
    cmd_->add_option("--scratch", scratch_, "Deep: directory for scratch repositories (default: $TMPDIR or /tmp)");
  }

  bool chosen() const override { return cmd_->parsed(); }

  int run() override {
    return opts_.with_metrics("verify", [this](std::vector<MetricFamily>& metrics) { return verify(metrics); });
  }

 private:
  int verify(std::vector<MetricFamily>& metrics) {
    if (all_ && !ids_.empty()) throw Error(ErrorCode::Usage, "give --id or --all, not both");
    ProgressPrinter progress(stderr, opts_.output_mode());
    VerifyOptions o;
    o.ids = ids_;
    o.all = all_;
    o.deep = deep_;
    o.parallel = parallel_ > 0 ? parallel_ : opts_.config().parallel.value_or(0);
    if (!scratch_.empty())
      o.scratch_dir = std::filesystem::absolute(scratch_).string();
    else if (!opts_.config().verify_scratch.empty())
      o.scratch_dir = opts_.config().verify_scratch;
    o.observer = &progress;
    o.lock_wait = opts_.lock_wait();
    auto destination = open_sink(opts_.resolved_backup_path());
    Sink& sink = *destination;
    VerifyResult result = run_verify(o, sink);
    report_verify(stdout, opts_.output_mode(), result);
    metrics = verify_metrics(result);
    return result.exit_code;
  }

  CLI::App* cmd_;
  CommonOptions opts_;
  std::vector<std::string> ids_;
  bool all_ = false, deep_ = false;
  int parallel_ = 0;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<Subcommand> add_verify_command(CLI::App& app) { return std::make_unique<VerifyCommand>(app); }

}  // namespace gitvault
