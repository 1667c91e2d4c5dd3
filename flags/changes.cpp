#include "flags/changes.h"

#include "base/error.h"

namespace gitvault::flags {

ChangeResult delete_flag(Store& store, const Definition& d) {
  ChangeResult r;
  r.action = "delete";
  r.after = store.change(d.name, r.action, {}, "", d.default_enabled, nullptr, true);
  return r;
}

ChangeResult set_flag(Store& store, const Definition& d, const SetRequest& req) {
  ChangeResult r;
  const std::string& v = req.value;
  const std::vector<std::string>& targets = req.targets;
  // A change for some actors of a default-on flag that was never stored starts from the
  // default (on for everyone), so that opting one repository out does not switch the flag
  // off for all the others (flags/README.md: the one deliberate difference from GitLab).
  auto from_default = [&](GateState& s) {
    if (!s.persisted && d.default_enabled) s.boolean = true;
  };
  if (v == "true" || v == "100") {
    r.action = "enable";
    r.after = store.change(d.name, r.action, targets, v, d.default_enabled, [&](GateState& s) {
      if (targets.empty()) {
        s = GateState{};
        s.boolean = true;
        return;
      }
      from_default(s);
      for (const auto& t : targets) {
        if (s.actors.count(t + ":opt_out"))
          throw Error(ErrorCode::Usage, "refused: " + t + " has an opt-out for " + d.name + "; remove it first (`set " +
                                            d.name + " remove_opt_out`)");
        s.actors.insert(t);
      }
    });
  } else if (v == "false" || v == "0") {
    r.action = "disable";
    r.after = store.change(d.name, r.action, targets, v, d.default_enabled, [&](GateState& s) {
      if (targets.empty()) {
        s = GateState{};
        return;
      }
      from_default(s);
      for (const auto& t : targets) s.actors.erase(t);
    });
  } else if (v == "opt_out" || v == "remove_opt_out") {
    if (targets.empty()) throw Error(ErrorCode::Usage, "refused: " + v + " needs a target (--repository, --project, ...)");
    r.action = v;
    r.after = store.change(d.name, r.action, targets, v, d.default_enabled, [&](GateState& s) {
      from_default(s);
      for (const auto& t : targets) {
        if (is_opt_out_entry(t)) throw Error(ErrorCode::Usage, "refused: invalid target " + t);
        if (v == "opt_out")
          s.actors.insert(t + ":opt_out");
        else
          s.actors.erase(t + ":opt_out");
      }
    });
  } else {
    std::uint32_t pct = parse_percentage(v);  // refuses non-numbers and values outside 0..100
    if (!targets.empty()) throw Error(ErrorCode::Usage, "refused: a percentage cannot be combined with targets");
    if (req.percentage_of_actors && req.percentage_of_time)
      throw Error(ErrorCode::Usage, "refused: --actors and --random together");
    if (req.percentage_of_time)
      r.warnings.push_back("--random (percentage of time) is deprecated: it flips on every evaluation");
    r.action = req.percentage_of_actors ? "enable_percentage_of_actors" : "enable_percentage_of_time";
    r.after = store.change(d.name, r.action, {}, v, d.default_enabled, [&](GateState& s) {
      if (s.boolean)
        throw Error(ErrorCode::Usage, "refused: " + d.name + " is fully enabled; a percentage would change nothing "
                                      "(disable it first: `set " + d.name + " false`)");
      auto& gate = req.percentage_of_actors ? s.percentage_of_actors : s.percentage_of_time;
      if (pct == 0)
        gate.reset();
      else
        gate = pct;
    });
  }
  return r;
}

}  // namespace gitvault::flags
