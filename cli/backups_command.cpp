// `gitvault backups`: run/backups_run.h (list_backups).
#include "backup/catalog.h"
#include "run/backups_run.h"
#include "backup/run_locks.h"
#include "destination/s3_sink.h"
#include "cli/common_options.h"
#include "cli/subcommand.h"
#include "ui/report.h"

namespace gitvault {
namespace {

class BackupsCommand : public Subcommand {
 public:
  explicit BackupsCommand(CLI::App& app)
      : cmd_(app.add_subcommand("backups", "List the backups in a backup directory, newest first")) {
    opts_.add_backup_directory_options(*cmd_);
    opts_.add_as_of_option(*cmd_);
    cmd_->add_option("--at", at_,
                     "Say what `restore --at TIME` would take: the backup at the moment, and the repositories older "
                     "backups bring because it did not back them up");
  }

  bool chosen() const override { return cmd_->parsed(); }

  int run() override {
    return opts_.with_metrics("backups", [this](std::vector<MetricFamily>& metrics) { return list(metrics); });
  }

 private:
  int list(std::vector<MetricFamily>& metrics) {
    ProgressPrinter progress(stderr, opts_.output_mode());
    auto destination = opts_.open_destination(DestinationUse::ReadHeaders);
    report_reading_as_of(stderr, *destination);
    Sink& sink = *destination;
    if (!at_.empty()) {
      const std::int64_t at = parse_moment(at_);
      RunLocks locks(sink, LockMode::Shared, {}, LockMode::Shared, "backups", "", opts_.lock_wait());
      BackupCatalog catalog(sink);
      MomentSelection sel = catalog.at(at, [](const RepositoryRecord&) { return true; });
      report_moment(stdout, opts_.output_mode(), at, sel);
      return 0;
    }
    std::vector<std::string> errors;
    auto list = list_backups(sink, &errors, opts_.lock_wait());
    for (const auto& e : errors) progress.warning(e);
    report_backups(stdout, opts_.output_mode(), list, sink.describe(""));
    metrics = backups_metrics(list);
    return errors.empty() ? 0 : 1;
  }

  CLI::App* cmd_;
  CommonOptions opts_;
  std::string at_;
};

}  // namespace

std::unique_ptr<Subcommand> add_backups_command(CLI::App& app) { return std::make_unique<BackupsCommand>(app); }

}  // namespace gitvault
