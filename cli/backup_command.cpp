// `gitvault backup`: run/backup_run.h.
#include "destination/s3_sink.h"
#include "base/error.h"
#include "cli/common_options.h"
#include "cli/subcommand.h"
#include "base/system.h"
#include "run/backup_run.h"
#include "ui/report.h"

namespace gitvault {
namespace {

class BackupCommand : public Subcommand {
 public:
  explicit BackupCommand(CLI::App& app) : cmd_(app.add_subcommand("backup", "Back up every repository of the given storages")) {
    opts_.add_repository_run_options(*cmd_);
    cmd_->add_option("--id", id_, "Backup id (default: UTC time as YYYYMMDDhhmmss)");
    cmd_->add_option("--pack-threads", pack_threads_, "Threads for git pack-objects on the legacy path (default: git's)");
    cmd_->add_flag("--incremental", incremental_,
                   "Pipeline path: write only what changed since the previous backup (legacy path: full)");
    cmd_->add_option("--previous-id", previous_id_, "With --incremental: build on this backup (default: newest complete)");
    cmd_->add_option("--full-every", full_every_,
                     "With --incremental: a full backup instead when the newest full one started longer ago than "
                     "DURATION (7d; default: [backup] full_every)");
    cmd_->add_flag("--independent", independent_,
                   "A full backup that writes every repository again, even one whose earlier full bundle of the same "
                   "refs is in the destination (default: [backup] independent, else that bundle is taken again, not copied)");
    cmd_->add_option("--max-chain", max_chain_,
                     "With --incremental: a repository whose chain has N steps gets a full step, a chain of its own "
                     "(default: [backup] max_chain, else no limit)");
  }

  bool chosen() const override { return cmd_->parsed(); }

  int run() override {
    return opts_.with_metrics("backup", [this](std::vector<MetricFamily>& metrics) { return backup(metrics); });
  }

 private:
  int backup(std::vector<MetricFamily>& metrics) {
    if (!previous_id_.empty() && !incremental_) throw Error(ErrorCode::Usage, "--previous-id needs --incremental");
    ProgressPrinter progress(stderr, opts_.output_mode());
    BackupRunOptions o;
    opts_.fill(o, progress);
    o.id = id_;
    o.pack_threads = pack_threads_ > 0 ? pack_threads_ : opts_.config().pack_threads.value_or(0);
    o.incremental = incremental_;
    o.independent = independent_ || opts_.config().independent;
    o.previous_id = previous_id_;
    const std::string every = !full_every_.empty() ? full_every_ : opts_.config().full_every;
    if (!every.empty()) o.full_every_s = parse_duration(every);
    o.max_chain = max_chain_ > 0 ? max_chain_ : opts_.config().max_chain.value_or(0);
    auto destination = opts_.open_destination(DestinationUse::Backup);
    Sink& sink = *destination;
    BackupRunResult result = run_backup(o, sink);
    report_backup(stdout, opts_.output_mode(), result);
    metrics = backup_metrics(result);
    return result.exit_code;
  }

  CLI::App* cmd_;
  CommonOptions opts_;
  std::string id_, previous_id_, full_every_;
  int max_chain_ = 0;
  int pack_threads_ = 0;
  bool incremental_ = false;
  bool independent_ = false;
};

}  // namespace

std::unique_ptr<Subcommand> add_backup_command(CLI::App& app) { return std::make_unique<BackupCommand>(app); }

}  // namespace gitvault
