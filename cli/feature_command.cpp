// `gitvault feature list|get|set|delete|log|eval`: GitLab's ChatOps/API verbs for flags,
// with their validation (flags/changes.h); what they show is printed by ui/flags_report.h.
#include <map>
#include <optional>

#include "backup/catalog.h"
#include "backup/record.h"
#include "destination/s3_sink.h"
#include "base/error.h"
#include "base/files.h"
#include "cli/subcommand.h"
#include "config/config.h"
#include "flags/changes.h"
#include "flags/feature_flags.h"
#include "flags/store.h"
#include "git/storage.h"
#include "ui/flags_report.h"
#include "ui/metrics.h"

namespace gitvault {
namespace {

using flags::Definition;
using flags::GateState;

const Definition& require_definition(const std::string& name) {
  const Definition* d = flags::builtin_registry().find(name);
  if (!d) throw Error(ErrorCode::Usage, "unknown feature flag '" + name + "' (see `gitvault feature list`)");
  return *d;
}

// --project/--repository/... : the actors a verb is about.
struct Targets {
  std::string project, repository, storage, user, group, feature_group;

  void add_to(CLI::App& cmd) {
    cmd.add_option("--project", project, "Project paths (comma list): actors Project:<path>");
    cmd.add_option("--repository", repository, "Repository relative paths (comma list): actors Repository:<path>");
    cmd.add_option("--storage", storage, "Storage names (comma list): actors Storage:<name>");
    cmd.add_option("--user", user, "User ids (comma list): actors User:<id>");
    cmd.add_option("--group", group, "Group paths (comma list): actors Group:<path>");
    cmd.add_option("--feature-group", feature_group, "Feature groups (none are registered in gitvault)");
  }

  std::vector<std::string> actors() const {  // "Project:a", "Repository:b", ...
    if (!feature_group.empty())
      throw Error(ErrorCode::Usage,
                  "no feature groups are registered in gitvault; use --project, --repository or --storage");
    std::vector<std::string> out;
    for (const auto& [cls, list] : std::vector<std::pair<std::string, std::string>>{
             {"Project", project}, {"Repository", repository}, {"Storage", storage}, {"User", user}, {"Group", group}})
      for (const auto& item : split_list(list)) out.push_back(cls + ":" + item);
    return out;
  }
};

class FeatureCommand : public Subcommand {
 public:
  explicit FeatureCommand(CLI::App& app) {
    feature_ = app.add_subcommand("feature", "Feature flags: list, get, set, delete, log, eval");
    feature_->require_subcommand(1);
    feature_->add_option("--flags-db", flags_db_, "Flag store (default: $GITVAULT_FLAGS_DB, [flags] db, or per machine)");
    feature_->add_option("--config", config_file_, "gitvault.toml ([flags] db, [backup] path)");
    feature_->add_option("--path", backup_path_,
                         "Backup directory (default: [backup] path): its newest record's flag state is remembered "
                         "for flags the store knows nothing of, as `gitvault backup` does");
    feature_->add_flag("--json", json_, "Machine-readable output");
    feature_->add_option("--metrics-file", metrics_file_,
                         "Prometheus textfile: set, delete and list record the flags' state there (default: [metrics] textfile)");
    auto common = [&](CLI::App* c) {
      c->add_option("--flags-db", flags_db_, "Flag store");
      c->add_flag("--json", json_, "Machine-readable output");
      c->add_option("--metrics-file", metrics_file_, "Prometheus textfile to record the flags' state in");
      c->add_option("--config", config_file_, "gitvault.toml ([flags] db, [backup] path)");
      c->add_option("--path", backup_path_, "Backup directory whose newest record's flag state is remembered");
    };
    list_ = feature_->add_subcommand("list", "Every flag: type, default, stored state, gates");
    common(list_);
    get_ = feature_->add_subcommand("get", "One flag in detail");
    get_->add_option("name", name_, "Flag name")->required();
    common(get_);
    set_ = feature_->add_subcommand("set", "true|false|N (percentage)|opt_out|remove_opt_out, optionally for targets");
    set_->add_option("name", name_, "Flag name")->required();
    set_->add_option("value", value_, "true, false, 0-100, opt_out or remove_opt_out")->required();
    set_->add_flag("--actors", actors_pct_, "The percentage is of actors (stable per repository), not of time");
    set_->add_flag("--random", random_pct_, "The percentage is of time (deprecated: flips on every evaluation)");
    set_targets_.add_to(*set_);
    common(set_);
    delete_ = feature_->add_subcommand("delete", "Remove every stored gate: the flag returns to its default");
    delete_->add_option("name", name_, "Flag name")->required();
    common(delete_);
    log_ = feature_->add_subcommand("log", "Every recorded change (who, when, before, after)");
    log_->add_option("name", log_name_, "Only this flag");
    common(log_);
    eval_ = feature_->add_subcommand("eval", "Is the flag on for these actors, and why");
    eval_->add_option("name", name_, "Flag name")->required();
    eval_targets_.add_to(*eval_);
    common(eval_);
  }

  bool chosen() const override { return feature_->parsed(); }

  int run() override {
    Config config;
    if (!config_file_.empty()) config = load_config(config_file_);
    store_path_ = flags::resolve_store_path(flags_db_, config.flags_db);
    if (backup_path_.empty()) backup_path_ = config.backup_path;
    if (metrics_file_.empty()) metrics_file_ = config.metrics_textfile;
    if (*eval_) return run_eval();
    if (*log_) return run_log();
    if (*list_ || *get_) return run_show();
    int rc = run_change();
    record_flags_in_metrics();
    return rc;
  }

 private:
  OutputMode mode() const { return json_ ? OutputMode::Json : OutputMode::Human; }

  // The flags exactly as a backup run would see them: the same loading, fail-safe and
  // remembered state.
  flags::FeatureFlags load_as_backup_does() {
    flags::FeatureFlags ff(store_path_);
    ff.load();
    if (!backup_path_.empty() && (backup_path_.find("://") != std::string::npos || path_exists(backup_path_))) {
      auto sink = open_sink(backup_path_);
      remember_flags_from_backups(ff, *sink);
    }
    ProgressPrinter err(stderr, OutputMode::Human);
    for (const auto& w : ff.warnings()) err.warning(w);
    return ff;
  }

  int run_eval() {
    require_definition(name_);
    flags::FeatureFlags ff = load_as_backup_does();
    std::vector<std::string> actors = eval_targets_.actors();
    report_flag_evaluation(stdout, mode(), name_, ff.evaluate(name_, actors), actors);
    return 0;
  }

  int run_log() {
    if (!log_name_.empty()) require_definition(log_name_);
    std::vector<flags::Event> events;
    if (path_exists(store_path_)) events = flags::Store::open(store_path_, false)->events(log_name_);
    report_flag_log(stdout, mode(), events, store_path_);
    return 0;
  }

  // list and get. An unreadable store is shown (every flag off) and still exits 1: an error to fix.
  int run_show() {
    flags::FeatureFlags ff = load_as_backup_does();
    std::map<std::string, GateState> states = ff.states();  // the store read once, as backup reads it
    auto shown = [&](const Definition* d, const std::string& name) {
      FlagShown f{d, name, d ? ff.state(name) : states[name], ""};
      if (ff.store_error())
        f.state_words = "off (flag store unreadable: every flag off)";
      else if (const flags::RecordedFlag* r = ff.remembered(name))
        f.state_words = flags::describe_state(f.state) + " (remembered from " + r->recorded_in + ")";
      else
        f.state_words = flags::describe_state(f.state);
      return f;
    };
    if (*get_) {
      const Definition& d = require_definition(name_);
      report_flag(stdout, mode(), shown(&d, d.name));
      return ff.store_error() ? 1 : 0;
    }
    const flags::Registry& registry = flags::builtin_registry();
    std::vector<FlagShown> list;
    for (const auto& d : registry.definitions) list.push_back(shown(&d, d.name));
    for (const auto& [name, s] : states)
      if (!registry.find(name)) list.push_back(shown(nullptr, name));
    report_flag_list(stdout, stderr, mode(), list, store_path_);
    record_flags_in_metrics();
    return ff.store_error() ? 1 : 0;
  }

  // After set, delete and list: gitvault_feature_enabled and _default_enabled as a backup
  // would now read them, so an opt-out shows on the dashboards at once (docs/metrics.md).
  void record_flags_in_metrics() {
    if (metrics_file_.empty()) return;
    try {
      update_metrics_file(metrics_file_, feature_metrics(load_as_backup_does().snapshot()));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gitvault: cannot record the flags in the metrics file %s: %s\n", metrics_file_.c_str(),
                   e.what());
    }
  }

  // set and delete.
  int run_change() {
    const Definition& d = require_definition(name_);
    auto store = flags::Store::open(store_path_, true);
    std::vector<std::string> targets;
    flags::ChangeResult change;
    if (*delete_) {
      change = flags::delete_flag(*store, d);
    } else {
      targets = set_targets_.actors();
      change = flags::set_flag(*store, d, {value_, targets, actors_pct_, random_pct_});
    }
    ProgressPrinter err(stderr, OutputMode::Human);
    for (const auto& w : change.warnings) err.warning(w);
    report_flag_change(stdout, stderr, mode(), d, change, targets, *delete_ ? "" : value_);
    return 0;
  }

  CLI::App* feature_;
  CLI::App *list_, *get_, *set_, *delete_, *log_, *eval_;
  std::string config_file_, flags_db_, backup_path_, store_path_, metrics_file_;
  bool json_ = false;
  std::string name_, value_;
  bool actors_pct_ = false, random_pct_ = false;
  Targets set_targets_, eval_targets_;
  std::string log_name_;
};

}  // namespace

std::unique_ptr<Subcommand> add_feature_command(CLI::App& app) { return std::make_unique<FeatureCommand>(app); }

}  // namespace gitvault
