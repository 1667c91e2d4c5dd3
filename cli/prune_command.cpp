// `gitvault prune`: backup/retention.h (prune_backups).
#include "backup/retention.h"
#include "backup/s3_sink.h"
#include "cli/common_options.h"
#include "cli/subcommand.h"
#include "ui/report.h"

namespace gitvault {
namespace {

class PruneCommand : public Subcommand {
 public:
  explicit PruneCommand(CLI::App& app)
      : cmd_(app.add_subcommand("prune", "Remove old backups, keeping every file a kept backup needs")) {
    opts_.add_backup_directory_options(*cmd_);
    cmd_->add_option("--keep-last", keep_last_, "Keep the N newest complete backups");
    cmd_->add_option("--keep-within", keep_within_, "Keep every backup started within DURATION (30d, 36h, 2w)");
    cmd_->add_flag("--dry-run", dry_run_, "Print what would be removed; remove nothing");
  }

  bool chosen() const override { return cmd_->parsed(); }

  int run() override {
    return opts_.with_metrics("prune", [this](std::vector<MetricFamily>& metrics) { return prune(metrics); });
  }

 private:
  int prune(std::vector<MetricFamily>& metrics) {
    PruneOptions o;
    // The command line's retention, else the config's ([prune] keep_last, keep_within).
    const bool given = cmd_->count("--keep-last") || !keep_within_.empty();
    if (cmd_->count("--keep-last")) o.keep_last = keep_last_;
    if (!keep_within_.empty()) o.keep_within_s = parse_duration(keep_within_);
    if (!given && opts_.config().keep_last) o.keep_last = opts_.config().keep_last;
    if (!given && !opts_.config().keep_within.empty()) o.keep_within_s = parse_duration(opts_.config().keep_within);
    o.dry_run = dry_run_;
    o.lock_wait = opts_.lock_wait();
    auto destination = open_sink(opts_.resolved_backup_path());
    Sink& sink = *destination;
    PrunePlan plan = prune_backups(sink, o);
    ProgressPrinter progress(stderr, opts_.output_mode());
    for (const auto& n : plan.notes) progress.note(n);
    report_prune(stdout, opts_.output_mode(), plan, o.dry_run);
    if (!o.dry_run) metrics = prune_metrics(plan);
    return 0;
  }

  CLI::App* cmd_;
  CommonOptions opts_;
  int keep_last_ = 0;
  std::string keep_within_;
  bool dry_run_ = false;
};

}  // namespace

std::unique_ptr<Subcommand> add_prune_command(CLI::App& app) { return std::make_unique<PruneCommand>(app); }

}  // namespace gitvault
