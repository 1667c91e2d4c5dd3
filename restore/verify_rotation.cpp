#include "restore/verify_rotation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "base/error.h"
#include "base/system.h"

namespace gitvault {

std::uint64_t parse_byte_size(const std::string& text) {
  static const std::pair<const char*, std::uint64_t> units[] = {
      {"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}, {"B", 1}, {"", 1}};
  for (const auto& [suffix, scale] : units) {
    std::string s(suffix);
    if (text.size() <= s.size() || text.compare(text.size() - s.size(), s.size(), s) != 0) continue;
    std::string number = text.substr(0, text.size() - s.size());
    if (number.find_first_not_of("0123456789.") != std::string::npos) break;
    try {
      std::size_t used = 0;
      double v = std::stod(number, &used);
      if (used == number.size() && v > 0) return static_cast<std::uint64_t>(v * static_cast<double>(scale));
    } catch (const std::exception&) {
    }
    break;
  }
  throw Error(ErrorCode::Usage, "not a size: '" + text + "' (bytes, or with KiB, MiB, GiB or TiB: 20GiB)");
}

std::pair<int, int> parse_subset(const std::string& text) {
  auto slash = text.find('/');
  try {
    if (slash != std::string::npos) {
      std::size_t a = 0, b = 0;
      int n = std::stoi(text.substr(0, slash), &a), m = std::stoi(text.substr(slash + 1), &b);
      if (a == slash && b == text.size() - slash - 1 && n > 0 && n <= m) return {n, m};
    }
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::Usage, "--subset takes N/M with 0 < N <= M (1/7: a seventh of every kept file per run), not '" +
                                    text + "'");
}

namespace {

ProvenKey key_of(const FileDigest& f) { return {f.name, f.sha256}; }

}  // namespace

Rotation::Rotation(std::vector<RotationUnit> units, ProvenFiles state, std::int64_t now)
    : units_(std::move(units)), state_(std::move(state)) {
  std::stable_sort(units_.begin(), units_.end(), [](const RotationUnit& a, const RotationUnit& b) {
    // By storage and repository, newest backup first.
    return std::tie(a.repo->storage, a.repo->relative_path, b.backup->id) <
           std::tie(b.repo->storage, b.repo->relative_path, a.backup->id);
  });
  if (state_.cycle_started == 0) state_.cycle_started = now;
}

bool Rotation::proven_in_cycle(const FileDigest& f) const { return state_.proof_of(key_of(f)).cycle >= state_.cycle; }

std::vector<std::size_t> Rotation::plan(const VerifyBudget& budget, RotationStatus& status) {
  std::set<ProvenKey> seen, claimed;
  for (const auto& u : units_)
    for (const auto& f : u.files)
      if (seen.insert(key_of(f)).second) status.total_bytes += f.size;
  std::uint64_t limit = budget.bytes;
  if (budget.subset_m > 0)
    limit = static_cast<std::uint64_t>(
        std::ceil(static_cast<double>(status.total_bytes) * budget.subset_n / budget.subset_m));
  std::vector<std::size_t> chosen;
  std::uint64_t taken = 0;
  std::size_t first_too_big = units_.size();
  for (std::size_t i = 0; i < units_.size(); ++i) {
    std::uint64_t cost = 0;
    bool needed = false;
    for (const auto& f : units_[i].files)
      if (!proven_in_cycle(f) && !claimed.count(key_of(f))) {
        needed = true;
        cost += f.size;
      }
    if (!needed) continue;
    if (limit > 0) {
      if (taken >= limit) break;
      // A unit that would overshoot by more than a tenth waits for a later run (one with
      // room for it; alone, if nothing else is left), and smaller ones fill this run.
      if (taken + cost > limit + limit / 10) {
        if (first_too_big == units_.size()) first_too_big = i;
        continue;
      }
      taken += cost;
    }
    for (const auto& f : units_[i].files) claimed.insert(key_of(f));
    chosen.push_back(i);
  }
  if (chosen.empty() && first_too_big < units_.size()) {  // nothing fits: the first alone
    chosen.push_back(first_too_big);
    for (const auto& f : units_[first_too_big].files)
      if (!proven_in_cycle(f)) taken += f.size;
  }
  status.planned_bytes = taken;
  return chosen;
}

std::uint64_t Rotation::proven(const RotationUnit& unit, std::int64_t now) {
  std::uint64_t fresh = 0;
  for (const auto& f : unit.files) {
    if (!proven_in_cycle(f)) fresh += f.size;
    state_.files[key_of(f)] = {now, state_.cycle};
  }
  return fresh;
}

RotationStatus Rotation::finish(RotationStatus status, std::int64_t now) {
  std::set<ProvenKey> seen;
  std::int64_t oldest = now;
  std::map<std::string, std::int64_t> backup_min;  // id -> the oldest proof among its files (0: one unproven)
  status.units_left = 0;
  status.proven_in_cycle = 0;
  for (const auto& u : units_) {
    bool left = false;
    std::int64_t written = parse_rfc3339(u.backup->finished_at.empty() ? u.backup->started_at : u.backup->finished_at);
    auto it = backup_min.emplace(u.backup->id, now).first;
    for (const auto& f : u.files) {
      Proof p = state_.proof_of(key_of(f));
      it->second = std::min(it->second, p.at);
      if (p.cycle < state_.cycle) left = true;
      oldest = std::min(oldest, p.at > 0 ? p.at : (written > 0 ? written : now));  // the oldest backup naming it
      if (!seen.insert(key_of(f)).second) continue;
      if (p.cycle >= state_.cycle) status.proven_in_cycle += f.size;
    }
    status.units_left += left;
  }
  status.oldest_unproven_seconds = std::max<std::int64_t>(0, now - oldest);
  for (const auto& [id, t] : backup_min) state_.backups[id] = t;
  status.backup_proven_at = backup_min;
  status.cycle = state_.cycle;
  if (status.units_left == 0) {  // every file proven in this cycle: the next run starts the next
    status.cycle_completed = true;
    state_.last_cycle_completed = now;
    ++state_.cycle;
    state_.cycle_started = now;
  }
  return status;
}

std::set<ProvenKey> Rotation::named_files() const {
  std::set<ProvenKey> out;
  for (const auto& u : units_)
    for (const auto& f : u.files) out.insert(key_of(f));
  return out;
}

}  // namespace gitvault
