#include "flags/evaluate.h"

#include <zlib.h>

#include <algorithm>
#include <random>

#include "base/error.h"

namespace gitvault::flags {

const char* to_string(Reason r) {
  switch (r) {
    case Reason::Default: return "default";
    case Reason::Boolean: return "boolean";
    case Reason::Actor: return "actor";
    case Reason::PercentageOfActors: return "percentage_of_actors";
    case Reason::PercentageOfTime: return "percentage_of_time";
    case Reason::OptOut: return "opt_out";
    case Reason::Override: return "override";
    case Reason::StoreError: return "store_error";
    case Reason::UnknownFlag: return "unknown_flag";
    case Reason::Remembered: return "remembered";
  }
  return "unknown";
}

std::uint32_t actor_bucket(const std::string& flag, std::vector<std::string> actors) {
  std::sort(actors.begin(), actors.end());
  std::string id = flag;
  for (const auto& a : actors) id += a;
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(id.data()), static_cast<uInt>(id.size()));
  return static_cast<std::uint32_t>(crc % 100000);
}

std::uint32_t parse_percentage(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::Usage, "invalid percentage '" + text + "': " + why);
  };
  std::size_t dot = text.find('.');
  std::string whole = text.substr(0, dot), frac = dot == std::string::npos ? "" : text.substr(dot + 1);
  auto digits = [](const std::string& s) { return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }); };
  if (whole.empty() || !digits(whole) || !digits(frac) || (dot != std::string::npos && frac.empty()))
    throw bad("not a number from 0 to 100");
  if (frac.size() > 3) throw bad("at most three decimals");
  if (whole.size() > 3) throw bad("must be from 0 to 100");
  while (frac.size() < 3) frac += '0';
  std::uint32_t milli = static_cast<std::uint32_t>(std::stoul(whole)) * 1000 + static_cast<std::uint32_t>(std::stoul(frac));
  if (milli > 100000) throw bad("must be from 0 to 100");
  return milli;
}

std::string format_percentage(std::uint32_t milli) {
  std::string s = std::to_string(milli / 1000);
  std::uint32_t f = milli % 1000;
  if (f) {
    std::string fs = std::to_string(f);
    fs = std::string(3 - fs.size(), '0') + fs;
    while (fs.back() == '0') fs.pop_back();
    s += "." + fs;
  }
  return s;
}

std::uint32_t default_random_draw() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return std::uniform_int_distribution<std::uint32_t>(0, 99999)(rng);
}

bool is_opt_out_entry(const std::string& a) {
  static const std::string kSuffix = ":opt_out";
  return a.size() > kSuffix.size() && a.compare(a.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

bool can_be_enabled(const Definition& def, const GateState& s) {
  if (!s.persisted) return def.default_enabled;
  bool some_actor = std::any_of(s.actors.begin(), s.actors.end(), [](const std::string& a) { return !is_opt_out_entry(a); });
  return s.boolean || some_actor || s.percentage_of_actors.value_or(0) > 0 || s.percentage_of_time.value_or(0) > 0;
}

Evaluation evaluate(const Definition& def, const GateState& s, const std::vector<std::string>& actors,
                    const std::function<std::uint32_t()>& random_draw) {
  if (!s.persisted)
    return {def.default_enabled, Reason::Default, std::string("default_enabled: ") + (def.default_enabled ? "true" : "false")};

  Evaluation on{false, Reason::Boolean, "disabled"};
  bool is_on = false;
  if (s.boolean) {
    is_on = true;
    on = {true, Reason::Boolean, "enabled for everyone"};
  }
  if (!is_on) {
    for (const auto& a : actors)
      if (s.actors.count(a)) {
        is_on = true;
        on = {true, Reason::Actor, "actor " + a};
        break;
      }
  }
  if (!is_on && s.percentage_of_actors && !actors.empty()) {
    std::uint32_t pct = *s.percentage_of_actors, bucket = actor_bucket(def.name, actors);
    bool open = pct >= 100000 || (pct > 0 && bucket < pct);
    on = {open, Reason::PercentageOfActors,
          "bucket " + std::to_string(bucket) + (open ? " < " : " >= ") + std::to_string(pct) + " (" +
              format_percentage(pct) + "% of actors)"};
    is_on = open;
  }
  if (!is_on && s.percentage_of_actors && actors.empty())
    on = {false, Reason::PercentageOfActors, "no actor given to place in a bucket"};
  if (!is_on && s.percentage_of_time && *s.percentage_of_time > 0) {
    std::uint32_t draw = *s.percentage_of_time >= 100000 ? 0 : random_draw();
    bool open = draw < *s.percentage_of_time;
    on = {open, Reason::PercentageOfTime, format_percentage(*s.percentage_of_time) + "% of the time"};
    is_on = open;
  }
  if (!is_on && on.reason == Reason::Boolean && !s.actors.empty()) on = {false, Reason::Actor, "no listed actor"};
  if (is_on) {
    for (const auto& a : actors)
      if (s.actors.count(a + ":opt_out")) return {false, Reason::OptOut, "opt-out for " + a};
  }
  return on;
}

}  // namespace gitvault::flags
