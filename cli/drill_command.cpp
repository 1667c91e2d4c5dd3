// `gitvault drill`: run/drill_run.h.
#include <filesystem>

#include "destination/s3_sink.h"
#include "base/error.h"
#include "cli/common_options.h"
#include "cli/subcommand.h"
#include "run/drill_run.h"
#include "ui/report.h"

namespace gitvault {
namespace {

// "--sample 20" or "--sample 5%".
void parse_sample(const std::string& text, DrillOptions& o) {
  try {
    std::size_t used = 0;
    if (!text.empty() && text.back() == '%') {
      o.sample_percent = std::stod(text.substr(0, text.size() - 1), &used);
      if (used + 1 == text.size() && o.sample_percent > 0 && o.sample_percent <= 100) return;
    } else {
      long n = std::stol(text, &used);
      o.sample_count = static_cast<std::size_t>(n);
      if (used == text.size() && n > 0) return;
    }
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::Usage, "--sample takes a count of repositories (20) or a share of them (5%), not '" + text + "'");
}

class DrillCommand : public Subcommand {
 public:
  explicit DrillCommand(CLI::App& app)
      : cmd_(app.add_subcommand("drill", "Restore a sample of the newest complete backup into scratch space, prove "
                                         "every repository came back exactly, time it and remove it")) {
    opts_.add_repository_run_options(*cmd_);
    opts_.add_identity_options(*cmd_);
    cmd_->add_option("--id", id_, "Backup to drill (default: the newest complete backup)");
    cmd_->add_option("--sample", sample_, "Repositories to drill: a count (20) or a share (5%); default 5%");
    cmd_->add_flag("--all", all_, "Drill every repository of the backup");
    cmd_->add_option("--scratch", scratch_,
                     "Directory the drill restores into (a fresh directory inside it, removed after; default: "
                     "drill-scratch beside the flag store, e.g. /var/lib/gitvault/drill-scratch); never inside a storage");
    cmd_->add_option("--index-threads", index_threads_, "Threads for git index-pack (default: git's)");
    cmd_->add_option("--seed", seed_, "Seed of the random part of the sample (default: random)");
  }

  bool chosen() const override { return cmd_->parsed(); }

  int run() override {
    return opts_.with_metrics("drill", [this](std::vector<MetricFamily>& metrics) { return drill(metrics); });
  }

 private:
  int drill(std::vector<MetricFamily>& metrics) {
    if (all_ && !sample_.empty()) throw Error(ErrorCode::Usage, "give --sample or --all, not both");
    ProgressPrinter progress(stderr, opts_.output_mode());
    DrillOptions o;
    opts_.fill_reading(o, progress);
    o.storages = live_storages();
    o.id = id_;
    o.all = all_;
    parse_sample(sample_.empty() ? "5%" : sample_, o);
    o.index_threads = index_threads_ > 0 ? index_threads_ : opts_.config().index_threads.value_or(0);
    o.seed = seed_;
    namespace fs = std::filesystem;
    o.scratch_dir = !scratch_.empty() ? fs::absolute(scratch_).string()
                                      : (fs::absolute(opts_.flags_store()).parent_path() / "drill-scratch").string();
    auto destination = opts_.open_destination(DestinationUse::ReadContent);
    DrillResult result = run_drill(o, *destination);
    report_drill(stdout, opts_.output_mode(), result);
    metrics = drill_metrics(result);
    return result.exit_code;
  }

  // Every storage the command line or the config names, whichever host holds it: the
  // scratch directory may overlap none of them.
  std::vector<Storage> live_storages() const {
    std::vector<Storage> out;
    for (const auto& s : opts_.storage_specs) out.push_back(parse_storage_spec(s));
    if (!opts_.config_file.empty())
      for (const auto& s : opts_.config().storages) out.push_back(s);
    return out;
  }

  CLI::App* cmd_;
  CommonOptions opts_;
  std::string id_, sample_, scratch_;
  bool all_ = false;
  int index_threads_ = 0;
  std::uint64_t seed_ = 0;
};

}  // namespace

std::unique_ptr<Subcommand> add_drill_command(CLI::App& app) { return std::make_unique<DrillCommand>(app); }

}  // namespace gitvault
