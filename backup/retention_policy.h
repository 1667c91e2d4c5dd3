// Which backups a retention policy keeps, by restic's documented rules (`restic forget`),
// so that admins who know them are not surprised (docs/retention.md):
//
//   --keep-last N      the N newest backups
//   --keep-hourly N    for the last N hours that have a backup, the newest backup of each hour
//   --keep-daily N     … of each day
//   --keep-weekly N    … of each ISO 8601 week (Monday to Sunday)
//   --keep-monthly N   … of each month
//   --keep-yearly N    … of each year
//   --keep-within D    every backup made within D of the newest backup (not of now)
//
// Backups are taken newest first; a rule keeps a backup when its period (hour, day, …)
// differs from that of the last backup the same rule kept, and counts it; while a rule still
// has a count left, the oldest backup is kept too (it lengthens the history kept). N = -1:
// every period. Periods are in local time (the TZ environment variable, else the system's
// zone). A backup's time is when it started.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gitvault {

struct RetentionPolicy {
  int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;  // 0: rule off; -1: unlimited
  std::optional<std::int64_t> within_s;
  bool empty() const { return !last && !hourly && !daily && !weekly && !monthly && !yearly && !within_s; }
  // "keep 7 daily, 4 weekly and every backup within 2d of the newest"
  std::string describe() const;
};

struct PolicyBackup {
  std::string id;
  std::int64_t time = 0;  // Unix seconds
};

// For each backup (in the order given, which must be newest first), the rules that keep it
// ("last", "hourly", "daily", "weekly", "monthly", "yearly", "within 2d"); empty: the
// policy does not keep it. `now` bounds the newest time `within` counts from (a backup
// dated in the future is not the newest).
std::vector<std::vector<std::string>> apply_retention_policy(const std::vector<PolicyBackup>& newest_first,
                                                             const RetentionPolicy& policy, std::int64_t now);

// The period keys in local time: YYYYMMDDHH, YYYYMMDD, ISO year*100+week, YYYYMM, YYYY.
std::int64_t hour_key(std::int64_t t);
std::int64_t day_key(std::int64_t t);
std::int64_t week_key(std::int64_t t);
std::int64_t month_key(std::int64_t t);
std::int64_t year_key(std::int64_t t);

}  // namespace gitvault
