// `gitvault prune`: run/prune_run.h (prune_backups).
#include "run/prune_run.h"
#include "base/system.h"
#include "destination/s3_sink.h"
#include "base/error.h"
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
    const std::pair<const char*, const char*> rules[] = {
        {"--keep-last", "Keep the N newest complete backups"},
        {"--keep-hourly", "For the last N hours with a backup, keep the newest complete backup of each (-1: every hour)"},
        {"--keep-daily", "For the last N days with a backup, keep the newest of each (-1: every day)"},
        {"--keep-weekly", "For the last N ISO weeks with a backup, keep the newest of each (-1: every week)"},
        {"--keep-monthly", "For the last N months with a backup, keep the newest of each (-1: every month)"},
        {"--keep-yearly", "For the last N years with a backup, keep the newest of each (-1: every year)"}};
    for (std::size_t i = 0; i < 6; ++i) cmd_->add_option(rules[i].first, counts_[i], rules[i].second);
    cmd_->add_option("--keep-within", keep_within_,
                     "Keep every backup started within DURATION (30d, 36h, 2w) of the newest backup");
    cmd_->add_flag("--dry-run", dry_run_, "Print what would be removed; remove nothing");
  }

  bool chosen() const override { return cmd_->parsed(); }

  int run() override {
    return opts_.with_metrics("prune", [this](std::vector<MetricFamily>& metrics) { return prune(metrics); });
  }

 private:
  int prune(std::vector<MetricFamily>& metrics) {
    PruneOptions o;
    o.policy = policy();
    o.dry_run = dry_run_;
    o.lock_wait = opts_.lock_wait();
    auto destination = opts_.open_destination(DestinationUse::ReadHeaders);
    Sink& sink = *destination;
    PrunePlan plan = prune_backups(sink, o);
    ProgressPrinter progress(stderr, opts_.output_mode());
    for (const auto& n : plan.notes) progress.note(n);
    report_prune(stdout, opts_.output_mode(), plan, o.dry_run);
    if (!o.dry_run) metrics = prune_metrics(plan);
    return 0;
  }

  // The command line's policy when it gives any rule, else the config's ([retention]).
  RetentionPolicy policy() const {
    RetentionPolicy p;
    int* fields[] = {&p.last, &p.hourly, &p.daily, &p.weekly, &p.monthly, &p.yearly};
    const char* names[] = {"--keep-last", "--keep-hourly", "--keep-daily", "--keep-weekly", "--keep-monthly", "--keep-yearly"};
    bool given = !keep_within_.empty();
    for (std::size_t i = 0; i < 6; ++i)
      if (cmd_->count(names[i])) {
        if (counts_[i] == 0 || counts_[i] < -1)
          throw Error(ErrorCode::Usage, std::string(names[i]) + " takes a count of at least 1, or -1 for every period");
        *fields[i] = counts_[i];
        given = true;
      }
    if (!keep_within_.empty()) p.within_s = parse_duration(keep_within_);
    if (given) return p;
    const Config& c = opts_.config();
    const std::optional<int>* from[] = {&c.keep_last, &c.keep_hourly, &c.keep_daily, &c.keep_weekly, &c.keep_monthly,
                                        &c.keep_yearly};
    for (std::size_t i = 0; i < 6; ++i)
      if (*from[i]) *fields[i] = **from[i];
    if (!c.keep_within.empty()) p.within_s = parse_duration(c.keep_within);
    return p;
  }

  CLI::App* cmd_;
  CommonOptions opts_;
  int counts_[6] = {0, 0, 0, 0, 0, 0};
  std::string keep_within_;
  bool dry_run_ = false;
};

}  // namespace

std::unique_ptr<Subcommand> add_prune_command(CLI::App& app) { return std::make_unique<PruneCommand>(app); }

}  // namespace gitvault
