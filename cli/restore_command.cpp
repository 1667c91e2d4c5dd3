// `gitvault restore`: run/restore_run.h.
#include "destination/s3_sink.h"
#include "base/error.h"
#include "cli/common_options.h"
#include "cli/subcommand.h"
#include "run/restore_run.h"
#include "ui/report.h"

namespace gitvault {
namespace {

class RestoreCommand : public Subcommand {
 public:
  explicit RestoreCommand(CLI::App& app)
      : cmd_(app.add_subcommand("restore", "Restore repositories from a backup, verified, without "
                                           "touching a repository whose backup is bad")) {
    opts_.add_repository_run_options(*cmd_);
    opts_.add_as_of_option(*cmd_);
    opts_.add_identity_options(*cmd_);
    cmd_->add_option("--id", id_, "Backup id (default: the newest complete backup)");
    cmd_->add_option("--at", at_,
                     "Restore as of TIME (2026-12-04T14:00:00Z, local 2026-12-04 14:00, or 2h ago): each repository from "
                     "the newest backup at or before it that backed it up");
    cmd_->add_option("--index-threads", index_threads_, "Threads for git index-pack (default: git's)");
    cmd_->add_flag("--verify-objects", verify_objects_,
                   "Re-hash every object (git index-pack) even where the backup kept the pack's index; "
                   "docs/restore.md says what each mode proves");
  }

  bool chosen() const override { return cmd_->parsed(); }

  int run() override {
    return opts_.with_metrics("restore", [this](std::vector<MetricFamily>& metrics) { return restore(metrics); });
  }

 private:
  int restore(std::vector<MetricFamily>& metrics) {
    ProgressPrinter progress(stderr, opts_.output_mode());
    RestoreRunOptions o;
    opts_.fill(o, progress);
    o.id = id_;
    if (!at_.empty()) {
      if (!id_.empty()) throw Error(ErrorCode::Usage, "give --id or --at, not both");
      o.at = parse_moment(at_);
    }
    o.index_threads = index_threads_ > 0 ? index_threads_ : opts_.config().index_threads.value_or(0);
    o.verify_objects = verify_objects_;
    auto destination = opts_.open_destination(DestinationUse::ReadContent, o.id);
    Sink& sink = *destination;
    report_reading_as_of(stderr, sink);
    RestoreRunResult result = run_restore(o, sink);
    report_restore(stdout, opts_.output_mode(), result);
    metrics = restore_metrics(result);
    return result.exit_code;
  }

  CLI::App* cmd_;
  CommonOptions opts_;
  std::string id_, at_;
  int index_threads_ = 0;
  bool verify_objects_ = false;
};

}  // namespace

std::unique_ptr<Subcommand> add_restore_command(CLI::App& app) { return std::make_unique<RestoreCommand>(app); }

}  // namespace gitvault
