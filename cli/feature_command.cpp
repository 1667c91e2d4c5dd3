#include "cli/feature_command.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "backup/record.h"
#include "backup/sink.h"
#include "flags/changes.h"
#include "flags/feature_flags.h"
#include "flags/store.h"
#include "gitaly/encoding.h"
#include "gitaly/error.h"
#include "gitaly/files.h"
#include "gitaly/storage.h"

using nlohmann::json;

namespace gitvault {
namespace {

using flags::Definition;
using flags::GateState;

const Definition& require_definition(const std::string& name) {
  const Definition* d = flags::builtin_registry().find(name);
  if (!d) throw Error(ErrorCode::Usage, "unknown feature flag '" + name + "' (see `gitvault feature list`)");
  return *d;
}

// The trap GitLab's self-managed admins fall into: a stored state outliving a change of default.
std::string default_changed_warning(const Definition& d, const GateState& s) {
  if (!s.persisted || !s.default_when_written || *s.default_when_written == d.default_enabled) return "";
  return std::string("stored state was set when the default was ") + (*s.default_when_written ? "on" : "off") +
         "; the default is now " + (d.default_enabled ? "on" : "off") + " and the stored state still decides (`gitvault feature delete " +
         d.name + "` to follow the default)";
}

json flag_object(const Definition& d, const GateState& s) {
  json j = {{"name", d.name},
            {"type", d.type},
            {"default_enabled", d.default_enabled},
            {"description", d.description},
            {"persisted", s.persisted},
            {"overrides_default", s.persisted},
            {"state", flags::describe_state(s)},
            {"gates", json::parse(flags::state_json(s))}};
  std::string w = default_changed_warning(d, s);
  if (!w.empty()) j["warning"] = w;
  return j;
}


void print_json(const json& j) { std::printf("%s\n", to_json_text(j).c_str()); }

}  // namespace

void FeatureCommand::Targets::add_to(CLI::App& cmd) {
  cmd.add_option("--project", project, "Project paths (comma list): actors Project:<path>");
  cmd.add_option("--repository", repository, "Repository relative paths (comma list): actors Repository:<path>");
  cmd.add_option("--storage", storage, "Storage names (comma list): actors Storage:<name>");
  cmd.add_option("--user", user, "User ids (comma list): actors User:<id>");
  cmd.add_option("--group", group, "Group paths (comma list): actors Group:<path>");
  cmd.add_option("--feature-group", feature_group, "Feature groups (none are registered in gitvault)");
}

std::vector<std::string> FeatureCommand::Targets::actors() const {
  if (!feature_group.empty())
    throw Error(ErrorCode::Usage, "no feature groups are registered in gitvault; use --project, --repository or --storage");
  std::vector<std::string> out;
  for (const auto& [cls, list] : std::vector<std::pair<std::string, std::string>>{
           {"Project", project}, {"Repository", repository}, {"Storage", storage}, {"User", user}, {"Group", group}})
    for (const auto& item : split_list(list)) out.push_back(cls + ":" + item);
  return out;
}

FeatureCommand::FeatureCommand(CLI::App& app) {
  feature_ = app.add_subcommand("feature", "Feature flags: list, get, set, delete, log, eval");
  feature_->require_subcommand(1);
  feature_->add_option("--flags-db", flags_db_, "Flag store (default: $GITVAULT_FLAGS_DB, [flags] db, or per machine)");
  feature_->add_option("--config", config_file, "gitvault.toml ([flags] db, [backup] path)");
  feature_->add_option("--path", backup_path_,
                       "Backup directory (default: [backup] path): its newest record's flag state is remembered "
                       "for flags the store knows nothing of, as `gitvault backup` does");
  feature_->add_flag("--json", json_, "Machine-readable output");
  auto common = [&](CLI::App* c) {
    c->add_option("--flags-db", flags_db_, "Flag store");
    c->add_flag("--json", json_, "Machine-readable output");
    c->add_option("--config", config_file, "gitvault.toml ([flags] db, [backup] path)");
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

int FeatureCommand::run(const std::string& config_flags_db, const std::string& config_backup_path) {
  std::string path = flags::resolve_store_path(flags_db_, config_flags_db);
  const flags::Registry& registry = flags::builtin_registry();
  // What a backup run would see: the same loading, fail-safe and remembered state.
  auto load_as_backup_does = [&] {
    flags::FeatureFlags ff(path);
    ff.load();
    std::string backups = backup_path_.empty() ? config_backup_path : backup_path_;
    if (!backups.empty() && path_exists(backups)) {
      LocalSink sink(backups);
      remember_flags_from_backups(ff, sink);
    }
    for (const auto& w : ff.warnings()) std::fprintf(stderr, "warning: %s\n", printable(w).c_str());
    return ff;
  };

  if (*eval_) {
    require_definition(name_);
    flags::FeatureFlags ff = load_as_backup_does();
    std::vector<std::string> actors = eval_targets_.actors();
    flags::Evaluation e = ff.evaluate(name_, actors);
    if (json_)
      print_json({{"name", name_}, {"enabled", e.enabled}, {"reason", flags::to_string(e.reason)}, {"detail", e.detail},
                  {"actors", actors}});
    else
      std::printf("%s (reason: %s; %s)\n", e.enabled ? "on" : "off", flags::to_string(e.reason), e.detail.c_str());
    return 0;
  }

  if (*list_ || *get_ || *log_) {
    std::map<std::string, GateState> states;
    std::vector<flags::Event> events;
    std::optional<flags::FeatureFlags> ff;
    if (*log_) {
      if (path_exists(path)) events = flags::Store::open(path, false)->events(log_name_);
    } else {
      ff.emplace(load_as_backup_does());
      states = ff->states();  // the store read once, as backup reads it
      for (const auto& d : registry.definitions) states[d.name] = ff->state(d.name);
    }
    // The words for a flag's state as evaluation uses it.
    auto state_words = [&](const std::string& name, const GateState& s) {
      if (ff && ff->store_error()) return std::string("off (flag store unreadable: every flag off)");
      if (const flags::RecordedFlag* r = ff ? ff->remembered(name) : nullptr)
        return flags::describe_state(s) + " (remembered from " + r->recorded_in + ")";
      return flags::describe_state(s);
    };
    if (*log_) {
      if (!log_name_.empty()) require_definition(log_name_);
      for (const auto& e : events) {
        if (json_) {
          print_json({{"id", e.id}, {"time", e.time}, {"key", e.feature}, {"action", e.action}, {"targets", e.targets},
                      {"value", e.value}, {"before", json::parse(e.before)}, {"after", json::parse(e.after)},
                      {"user", e.user}, {"host", e.host}});
        } else {
          std::string targets;
          for (const auto& t : e.targets) targets += (targets.empty() ? " " : ",") + t;
          std::printf("%s %s@%s %s %s%s%s\n  before: %s\n  after:  %s\n", e.time.c_str(), e.user.c_str(), e.host.c_str(),
                      e.action.c_str(), e.feature.c_str(), e.value.empty() ? "" : (" " + e.value).c_str(), targets.c_str(),
                      flags::describe_state(flags::parse_state_json(e.before)).c_str(), flags::describe_state(flags::parse_state_json(e.after)).c_str());
        }
      }
      if (events.empty() && !json_) std::printf("no changes recorded in %s\n", path.c_str());
      return 0;
    }
    if (*get_) {
      const Definition& d = require_definition(name_);
      GateState s = states.count(name_) ? states[name_] : GateState{};
      json j = flag_object(d, s);
      j["state"] = state_words(d.name, s);
      if (json_) {
        print_json(j);
      } else {
        std::printf("%s (%s, default %s)\n  %s\n  state: %s\n", d.name.c_str(), d.type.c_str(),
                    d.default_enabled ? "on" : "off", d.description.c_str(), state_words(d.name, s).c_str());
        if (s.persisted) {
          std::printf("  boolean: %s\n", s.boolean ? "true" : "false");
          for (const auto& a : s.actors) std::printf("  actor: %s\n", a.c_str());
          if (s.percentage_of_actors)
            std::printf("  percentage_of_actors: %s\n", flags::format_percentage(*s.percentage_of_actors).c_str());
          if (s.percentage_of_time)
            std::printf("  percentage_of_time: %s\n", flags::format_percentage(*s.percentage_of_time).c_str());
        }
        if (j.contains("warning")) std::printf("  warning: %s\n", j["warning"].get<std::string>().c_str());
      }
      return ff->store_error() ? 1 : 0;  // shown, and still an error to fix
    }
    // list
    json all = json::array();
    for (const auto& d : registry.definitions) {
      all.push_back(flag_object(d, states[d.name]));
      all.back()["state"] = state_words(d.name, states[d.name]);
    }
    for (const auto& [name, s] : states)
      if (!registry.find(name))
        all.push_back({{"name", name}, {"persisted", true}, {"state", flags::describe_state(s)},
                       {"warning", "stored in " + path + " but has no definition: ignored"}});
    if (json_) {
      for (const auto& j : all) print_json(j);
    } else {
      std::printf("%-24s %-12s %-8s %s\n", "NAME", "TYPE", "DEFAULT", "STATE");
      for (const auto& j : all) {
        std::printf("%-24s %-12s %-8s %s%s\n", j["name"].get<std::string>().c_str(), j.value("type", "?").c_str(),
                    j.contains("default_enabled") ? (j["default_enabled"].get<bool>() ? "on" : "off") : "?",
                    j["state"].get<std::string>().c_str(), j["persisted"].get<bool>() ? "  * stored state overrides the default" : "");
        if (j.contains("warning")) std::fprintf(stderr, "warning: %s: %s\n", j["name"].get<std::string>().c_str(),
                                                j["warning"].get<std::string>().c_str());
      }
    }
    return ff->store_error() ? 1 : 0;
  }

  // Writes.
  const Definition& d = require_definition(name_);
  auto store = flags::Store::open(path, true);
  std::vector<std::string> targets;
  flags::ChangeResult change;
  if (*delete_) {
    change = flags::delete_flag(*store, d);
  } else {
    targets = set_targets_.actors();
    change = flags::set_flag(*store, d, {value_, targets, actors_pct_, random_pct_});
  }
  for (const auto& w : change.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  const GateState& after = change.after;
  const std::string& action = change.action;
  json event = {{"key", d.name}, {"action", action}};
  if (!targets.empty()) event["extra.thing"] = targets.size() == 1 ? json(targets[0]) : json(targets);
  if (!value_.empty() && !*delete_) event["value"] = value_;
  if (json_) {
    event["state"] = json::parse(flags::state_json(after));
    print_json(event);
  } else {
    std::printf("%s: %s\n", d.name.c_str(), flags::describe_state(after).c_str());
    std::fprintf(stderr, "%s\n", to_json_text(event).c_str());
  }
  return 0;
}

}  // namespace gitvault
