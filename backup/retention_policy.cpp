#include "backup/retention_policy.h"

#include <ctime>

namespace gitvault {
namespace {

std::tm local(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  return tm;
}

std::string count_word(int n, const char* what) {
  return (n < 0 ? std::string("all") : std::to_string(n)) + " " + what;
}

}  // namespace

std::int64_t hour_key(std::int64_t t) {
  std::tm tm = local(t);
  return (tm.tm_year + 1900) * 1000000LL + (tm.tm_mon + 1) * 10000LL + tm.tm_mday * 100LL + tm.tm_hour;
}

std::int64_t day_key(std::int64_t t) {
  std::tm tm = local(t);
  return (tm.tm_year + 1900) * 10000LL + (tm.tm_mon + 1) * 100LL + tm.tm_mday;
}

std::int64_t week_key(std::int64_t t) {
  std::tm tm = local(t);
  char buf[16];
  std::strftime(buf, sizeof buf, "%G%V", &tm);  // ISO 8601 week-based year and week
  return std::stoll(buf);
}

std::int64_t month_key(std::int64_t t) {
  std::tm tm = local(t);
  return (tm.tm_year + 1900) * 100LL + (tm.tm_mon + 1);
}

std::int64_t year_key(std::int64_t t) { return local(t).tm_year + 1900; }

std::string RetentionPolicy::describe() const {
  std::vector<std::string> parts;
  const std::pair<int, const char*> rules[] = {{last, "last"},       {hourly, "hourly"},   {daily, "daily"},
                                               {weekly, "weekly"},   {monthly, "monthly"}, {yearly, "yearly"}};
  for (const auto& [n, what] : rules)
    if (n != 0) parts.push_back(count_word(n, what));
  if (within_s) parts.push_back("every backup within " + std::to_string(*within_s) + " s of the newest");
  std::string out = "keep";
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? " " : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  return out;
}

std::vector<std::vector<std::string>> apply_retention_policy(const std::vector<PolicyBackup>& list,
                                                             const RetentionPolicy& p, std::int64_t now) {
  std::vector<std::vector<std::string>> reasons(list.size());
  if (list.empty()) return reasons;
  struct Rule {
    int count;
    std::int64_t (*key)(std::int64_t);
    const char* name;
    std::optional<std::int64_t> last_kept;
  };
  Rule rules[] = {{p.last, nullptr, "last", {}},          {p.hourly, hour_key, "hourly", {}},
                  {p.daily, day_key, "daily", {}},        {p.weekly, week_key, "weekly", {}},
                  {p.monthly, month_key, "monthly", {}},  {p.yearly, year_key, "yearly", {}}};
  std::int64_t newest = 0;  // the newest backup's time, not in the future
  for (const auto& b : list)
    if (b.time > newest && b.time <= now) newest = b.time;
  for (std::size_t nr = 0; nr < list.size(); ++nr) {
    const std::int64_t t = list[nr].time;
    if (p.within_s && t > newest - *p.within_s) reasons[nr].push_back("within");
    for (Rule& r : rules) {
      if (r.count == 0) continue;
      std::int64_t key = r.key ? r.key(t) : static_cast<std::int64_t>(nr);
      if (key != r.last_kept || nr + 1 == list.size()) {  // a new period, or the oldest while counts remain
        reasons[nr].push_back(r.name);
        r.last_kept = key;
        if (r.count > 0) --r.count;
      }
    }
  }
  return reasons;
}

}  // namespace gitvault
