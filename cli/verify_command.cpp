// `gitvault verify`: restore/verify.h.
#include <filesystem>
#include <tuple>

#include "destination/s3_sink.h"
#include "base/system.h"
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
    opts_.add_as_of_option(*cmd_);
    opts_.add_identity_options(*cmd_);
    cmd_->add_option("--id", ids_, "Backup id to verify (repeatable; default: the newest backup)");
    cmd_->add_flag("--all", all_, "Verify every backup in the directory");
    cmd_->add_flag("--deep", deep_, "Also restore every repository into a scratch repository and check it");
    cmd_->add_option("--parallel", parallel_, "Repositories checked at once (default: number of CPUs)");
    cmd_->add_option("--scratch", scratch_, "Deep: directory for scratch repositories (default: $TMPDIR or /tmp)");
    cmd_->add_option("--budget", budget_,
                     "Rotating deep verify: prove about this many bytes (20GiB) of every kept backup's files, "
                     "continuing where the last run stopped (docs/proof.md)");
    cmd_->add_option("--budget-time", budget_time_, "Rotating deep verify: start no more work after this long (30m, 2h)");
    cmd_->add_option("--at", at_, "Verify what `restore --at TIME` would take (each repository from the backup it comes from)");
    cmd_->add_option("--subset", subset_, "Rotating deep verify: N/M of all kept bytes per run (1/7: all within 7 runs)");
  }

  bool chosen() const override { return cmd_->parsed(); }

  int run() override {
    return opts_.with_metrics("verify", [this](std::vector<MetricFamily>& metrics) { return verify(metrics); });
  }

 private:
  int verify(std::vector<MetricFamily>& metrics) {
    if (all_ && !ids_.empty()) throw Error(ErrorCode::Usage, "give --id or --all, not both");
    int budgets = !budget_.empty() + !budget_time_.empty() + !subset_.empty();
    if (budgets > 1) throw Error(ErrorCode::Usage, "give one of --budget, --budget-time and --subset");
    if (!at_.empty() && (all_ || !ids_.empty() || budgets > 0))
      throw Error(ErrorCode::Usage, "--at chooses the backups itself: no --id, --all or budget with it");
    if (budgets > 0 && !ids_.empty())
      throw Error(ErrorCode::Usage, "a rotating verify (--budget, --budget-time, --subset) covers every kept backup: no --id");
    ProgressPrinter progress(stderr, opts_.output_mode());
    VerifyOptions o;
    o.ids = ids_;
    o.all = all_;
    o.deep = deep_;
    if (!at_.empty()) o.at = parse_moment(at_);
    if (!budget_.empty()) o.budget.bytes = parse_byte_size(budget_);
    if (!budget_time_.empty()) o.budget.seconds = static_cast<double>(parse_duration(budget_time_));
    if (!subset_.empty()) std::tie(o.budget.subset_n, o.budget.subset_m) = parse_subset(subset_);
    o.parallel = parallel_ > 0 ? parallel_ : opts_.config().parallel.value_or(0);
    if (!scratch_.empty())
      o.scratch_dir = std::filesystem::absolute(scratch_).string();
    else if (!opts_.config().verify_scratch.empty())
      o.scratch_dir = opts_.config().verify_scratch;
    o.observer = &progress;
    o.lock_wait = opts_.lock_wait();
    auto destination = opts_.open_destination(deep_ || !budget_.empty() || !budget_time_.empty() || !subset_.empty() ? DestinationUse::ReadContent : DestinationUse::ReadHeaders,
                                                    ids_.empty() ? "" : ids_.front());
    report_reading_as_of(stderr, *destination);
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
  std::string scratch_, budget_, budget_time_, subset_, at_;
};

}  // namespace

std::unique_ptr<Subcommand> add_verify_command(CLI::App& app) { return std::make_unique<VerifyCommand>(app); }

}  // namespace gitvault
