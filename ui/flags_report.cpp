#include "ui/flags_report.h"

#include <nlohmann/json.hpp>

#include "ui/json_line.h"

#include "base/encoding.h"

using nlohmann::json;

namespace gitvault {
namespace {

using flags::Definition;
using flags::GateState;

void print_json(std::FILE* out, const json& j) { print_json_line(out, j); }

// The trap GitLab's self-managed admins fall into: a stored state outliving a change of default.
std::string default_changed_warning(const Definition& d, const GateState& s) {
  if (!s.persisted || !s.default_when_written || *s.default_when_written == d.default_enabled) return "";
  return std::string("stored state was set when the default was ") + (*s.default_when_written ? "on" : "off") +
         "; the default is now " + (d.default_enabled ? "on" : "off") +
         " and the stored state still decides (`gitvault feature delete " + d.name + "` to follow the default)";
}

json flag_object(const FlagShown& f, const std::string& store_path) {
  if (!f.definition)
    return {{"name", f.name},
            {"persisted", true},
            {"state", flags::describe_state(f.state)},
            {"warning", "stored in " + store_path + " but has no definition: ignored"}};
  const Definition& d = *f.definition;
  json j = {{"name", d.name},
            {"type", d.type},
            {"default_enabled", d.default_enabled},
            {"description", d.description},
            {"persisted", f.state.persisted},
            {"overrides_default", f.state.persisted},
            {"state", f.state_words},
            {"gates", json::parse(flags::state_json(f.state))}};
  std::string w = default_changed_warning(d, f.state);
  if (!w.empty()) j["warning"] = w;
  return j;
}

}  // namespace

void report_flag_list(std::FILE* out, std::FILE* err, OutputMode mode, const std::vector<FlagShown>& list,
                      const std::string& store_path) {
  if (mode == OutputMode::Json) {
    for (const auto& f : list) print_json(out, flag_object(f, store_path));
    return;
  }
  std::fprintf(out, "%-24s %-12s %-8s %s\n", "NAME", "TYPE", "DEFAULT", "STATE");
  for (const auto& f : list) {
    json j = flag_object(f, store_path);
    std::fprintf(out, "%-24s %-12s %-8s %s%s\n", f.name.c_str(), j.value("type", "?").c_str(),
                 f.definition ? (f.definition->default_enabled ? "on" : "off") : "?", j["state"].get<std::string>().c_str(),
                 f.state.persisted ? "  * stored state overrides the default" : "");
    if (j.contains("warning"))
      std::fprintf(err, "warning: %s: %s\n", f.name.c_str(), j["warning"].get<std::string>().c_str());
  }
}

void report_flag(std::FILE* out, OutputMode mode, const FlagShown& f) {
  json j = flag_object(f, "");
  if (mode == OutputMode::Json) {
    print_json(out, j);
    return;
  }
  const Definition& d = *f.definition;
  const GateState& s = f.state;
  std::fprintf(out, "%s (%s, default %s)\n  %s\n  state: %s\n", d.name.c_str(), d.type.c_str(),
               d.default_enabled ? "on" : "off", d.description.c_str(), f.state_words.c_str());
  if (s.persisted) {
    std::fprintf(out, "  boolean: %s\n", s.boolean ? "true" : "false");
    for (const auto& a : s.actors) std::fprintf(out, "  actor: %s\n", a.c_str());
    if (s.percentage_of_actors)
      std::fprintf(out, "  percentage_of_actors: %s\n", flags::format_percentage(*s.percentage_of_actors).c_str());
    if (s.percentage_of_time)
      std::fprintf(out, "  percentage_of_time: %s\n", flags::format_percentage(*s.percentage_of_time).c_str());
  }
  if (j.contains("warning")) std::fprintf(out, "  warning: %s\n", j["warning"].get<std::string>().c_str());
}

void report_flag_evaluation(std::FILE* out, OutputMode mode, const std::string& name, const flags::Evaluation& e,
                            const std::vector<std::string>& actors) {
  if (mode == OutputMode::Json)
    print_json(out, {{"name", name}, {"enabled", e.enabled}, {"reason", flags::to_string(e.reason)},
                     {"detail", e.detail}, {"actors", actors}});
  else
    std::fprintf(out, "%s (reason: %s; %s)\n", e.enabled ? "on" : "off", flags::to_string(e.reason), e.detail.c_str());
}

void report_flag_log(std::FILE* out, OutputMode mode, const std::vector<flags::Event>& events,
                     const std::string& store_path) {
  for (const auto& e : events) {
    if (mode == OutputMode::Json) {
      print_json(out, {{"id", e.id}, {"time", e.time}, {"key", e.feature}, {"action", e.action}, {"targets", e.targets},
                       {"value", e.value}, {"before", json::parse(e.before)}, {"after", json::parse(e.after)},
                       {"user", e.user}, {"host", e.host}});
      continue;
    }
    std::string targets;
    for (const auto& t : e.targets) targets += (targets.empty() ? " " : ",") + t;
    std::fprintf(out, "%s %s@%s %s %s%s%s\n  before: %s\n  after:  %s\n", e.time.c_str(), e.user.c_str(),
                 e.host.c_str(), e.action.c_str(), e.feature.c_str(), e.value.empty() ? "" : (" " + e.value).c_str(),
                 targets.c_str(), flags::describe_state(flags::parse_state_json(e.before)).c_str(),
                 flags::describe_state(flags::parse_state_json(e.after)).c_str());
  }
  if (events.empty() && mode != OutputMode::Json) std::fprintf(out, "no changes recorded in %s\n", store_path.c_str());
}

void report_flag_change(std::FILE* out, std::FILE* err, OutputMode mode, const flags::Definition& d,
                        const flags::ChangeResult& change, const std::vector<std::string>& targets,
                        const std::string& value) {
  json event = {{"key", d.name}, {"action", change.action}};
  if (!targets.empty()) event["extra.thing"] = targets.size() == 1 ? json(targets[0]) : json(targets);
  if (!value.empty()) event["value"] = value;
  if (mode == OutputMode::Json) {
    event["state"] = json::parse(flags::state_json(change.after));
    print_json(out, event);
  } else {
    std::fprintf(out, "%s: %s\n", d.name.c_str(), flags::describe_state(change.after).c_str());
    std::fprintf(err, "%s\n", to_json_text(event).c_str());  // the audit event, as GitLab's ChatOps prints it
  }
}

}  // namespace gitvault
