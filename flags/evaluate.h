// Flag evaluation, exactly as GitLab on top of Flipper (flags/README.md, "The model in a page"):
//
//   override (GITVAULT_FEATURES)                     -> that value          reason override
//   store unreadable                                 -> off                 reason store_error
//   not persisted                                    -> default_enabled     reason default
//   persisted: any gate open (boolean, actor, % of actors, % of time)  -> on, that gate's reason
//              but an actor with an "<id>:opt_out" entry               -> off, reason opt_out
//   persisted, no gate open                          -> off, reason of the deciding gate
//
// Percentages are held as integer thousandths (0..100000), so "4.9" is exactly 4900 and the
// percentage-of-actors test is exactly `crc32(name + sorted ids) % 100000 < milli`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "flags/definition.h"

namespace gitvault::flags {

struct GateState {
  bool persisted = false;
  bool boolean = false;
  std::set<std::string> actors;  // actor ids; "<id>:opt_out" entries are opt-outs
  std::optional<std::uint32_t> percentage_of_actors;  // thousandths of a percent... see above
  std::optional<std::uint32_t> percentage_of_time;
  std::optional<bool> default_when_written;  // default_enabled when the state was last written
  bool operator==(const GateState&) const = default;
};

enum class Reason { Default, Boolean, Actor, PercentageOfActors, PercentageOfTime, OptOut, Override, StoreError, UnknownFlag,
                    Remembered };
const char* to_string(Reason r);

struct Evaluation {
  bool enabled = false;
  Reason reason = Reason::Default;
  std::string detail;  // e.g. "bucket 4972 < 5000", "actor Project:1"
};

// crc32(flag + concatenation of the sorted actor ids) % 100000.
std::uint32_t actor_bucket(const std::string& flag, std::vector<std::string> actors);

// Parses "25", "4.9", "0.125" into thousandths; throws Error(Usage) outside 0..100 or with
// more than three decimals.
std::uint32_t parse_percentage(const std::string& text);
std::string format_percentage(std::uint32_t milli);

// random_draw returns a uniform value in [0, 100000); it is called only when the
// percentage-of-time gate is set and no other gate is open.
Evaluation evaluate(const Definition& def, const GateState& state, const std::vector<std::string>& actors,
                    const std::function<std::uint32_t()>& random_draw);

std::uint32_t default_random_draw();

// False when evaluate() is off for every set of actors and every draw: not persisted and
// off by default, or persisted with no gate that can open (opt-outs alone open nothing).
bool can_be_enabled(const Definition& def, const GateState& state);

// "Repository:a.git:opt_out" -> true: an actors-gate entry that is an opt-out.
bool is_opt_out_entry(const std::string& actor_entry);

}  // namespace gitvault::flags
