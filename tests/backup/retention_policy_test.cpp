// Calendar retention against restic's documented rules (`restic forget`, "Removing snapshots
// according to a policy"): each case is a list of backup times, newest first, a policy, and
// what restic's rules keep and why. Periods are local time: the cases set TZ.
#include "backup/retention_policy.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <map>

#include "base/system.h"

namespace gitvault {
namespace {

class RetentionPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override { zone("UTC"); }
  void TearDown() override { zone("UTC"); }
  static void zone(const char* tz) {
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  // Times as "YYYY-MM-DDTHH:MM:SSZ", newest first; returns "time: reasons" of each kept one.
  static std::map<std::string, std::string> apply(const std::vector<std::string>& times, const RetentionPolicy& p,
                                                  const std::string& now = "2030-01-01T00:00:00Z") {
    std::vector<PolicyBackup> list;
    for (const auto& t : times) list.push_back({t, parse_rfc3339(t)});
    auto reasons = apply_retention_policy(list, p, parse_rfc3339(now));
    std::map<std::string, std::string> kept;
    for (std::size_t i = 0; i < list.size(); ++i) {
      std::string why;
      for (const auto& r : reasons[i]) why += (why.empty() ? "" : ",") + r;
      if (!why.empty()) kept[list[i].id] = why;
    }
    return kept;
  }
};

TEST_F(RetentionPolicyTest, KeepLastKeepsTheNNewest) {
  RetentionPolicy p;
  p.last = 2;
  auto kept = apply({"2026-12-04T03:00:00Z", "2026-12-04T02:00:00Z", "2026-12-04T01:00:00Z"}, p);
  EXPECT_EQ(kept, (std::map<std::string, std::string>{{"2026-12-04T03:00:00Z", "last"}, {"2026-12-04T02:00:00Z", "last"}}));
}

TEST_F(RetentionPolicyTest, KeepDailyKeepsTheNewestOfEachOfTheLastNDaysThatHaveOne) {
  RetentionPolicy p;
  p.daily = 2;
  // Three days, the middle one with two backups: the newest of each of the last two days.
  auto kept = apply({"2026-12-04T09:00:00Z", "2026-12-02T23:00:00Z", "2026-12-02T08:00:00Z", "2026-12-01T12:00:00Z"}, p);
  EXPECT_EQ(kept, (std::map<std::string, std::string>{{"2026-12-04T09:00:00Z", "daily"},
                                                      {"2026-12-02T23:00:00Z", "daily"}}));
}

TEST_F(RetentionPolicyTest, WhileCountsRemainTheOldestBackupIsKeptToo) {
  RetentionPolicy p;
  p.daily = 5;  // only two days have backups: restic keeps the oldest backup as well
  auto kept = apply({"2026-12-04T09:00:00Z", "2026-12-03T20:00:00Z", "2026-12-03T08:00:00Z"}, p);
  EXPECT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept["2026-12-03T08:00:00Z"], "daily");
}

TEST_F(RetentionPolicyTest, KeepHourlyCountsHoursWithABackupNotClockHours) {
  RetentionPolicy p;
  p.hourly = 2;
  auto kept = apply({"2026-12-04T10:50:00Z", "2026-12-04T10:10:00Z", "2026-12-04T06:30:00Z", "2026-12-04T05:59:00Z"}, p);
  EXPECT_EQ(kept, (std::map<std::string, std::string>{{"2026-12-04T10:50:00Z", "hourly"},
                                                      {"2026-12-04T06:30:00Z", "hourly"}}));
}

TEST_F(RetentionPolicyTest, WeeksAreIsoWeeksFromMondayAcrossTheYearsEnd) {
  RetentionPolicy p;
  p.weekly = 2;
  // Fri 2027-01-01 and Thu 2026-12-31 share ISO week 2026-W53; Sun 2026-12-27 is W52,
  // Mon 2026-12-21 W52 too.
  auto kept = apply({"2027-01-01T12:00:00Z", "2026-12-31T12:00:00Z", "2026-12-27T12:00:00Z", "2026-12-21T12:00:00Z"}, p);
  EXPECT_EQ(kept, (std::map<std::string, std::string>{{"2027-01-01T12:00:00Z", "weekly"},
                                                      {"2026-12-27T12:00:00Z", "weekly"}}));
  EXPECT_EQ(week_key(parse_rfc3339("2027-01-01T12:00:00Z")), 202653);
  EXPECT_EQ(week_key(parse_rfc3339("2026-11-30T00:00:00Z")), 202649);  // a Monday starts W49
  EXPECT_EQ(week_key(parse_rfc3339("2026-11-29T23:59:59Z")), 202648);  // the Sunday before ends W48
}

TEST_F(RetentionPolicyTest, MonthsAndDaysAreLocalTime) {
  RetentionPolicy p;
  p.monthly = 1;
  // 02:30 UTC on April 1st is 22:30 on March 31st in New York.
  const std::vector<std::string> times = {"2026-04-01T02:30:00Z", "2026-03-31T12:00:00Z"};
  EXPECT_EQ(apply(times, p).size(), 1u) << "UTC: April's backup, and March's is beyond the count";
  zone("America/New_York");
  EXPECT_EQ(month_key(parse_rfc3339("2026-04-01T02:30:00Z")), 202603);
  auto kept = apply(times, p);
  EXPECT_EQ(kept, (std::map<std::string, std::string>{{"2026-04-01T02:30:00Z", "monthly"}}))
      << "New York: both are March's; the newer is kept";
}

TEST_F(RetentionPolicyTest, UnlimitedYearlyKeepsTheNewestOfEveryYear) {
  RetentionPolicy p;
  p.yearly = -1;
  auto kept = apply({"2028-06-01T00:00:00Z", "2028-01-01T00:00:00Z", "2027-12-31T00:00:00Z", "2026-05-05T00:00:00Z",
                     "2026-01-01T00:00:00Z"},
                    p);
  // 2028's newest, 2027's, 2026's newest, and the oldest (a count is left: unlimited).
  EXPECT_EQ(kept, (std::map<std::string, std::string>{{"2028-06-01T00:00:00Z", "yearly"},
                                                      {"2027-12-31T00:00:00Z", "yearly"},
                                                      {"2026-05-05T00:00:00Z", "yearly"},
                                                      {"2026-01-01T00:00:00Z", "yearly"}}));
}

TEST_F(RetentionPolicyTest, WithinCountsFromTheNewestBackupNotFromNow) {
  RetentionPolicy p;
  p.within_s = 2 * 86400;
  // Backups stopped ten days ago: `within` still keeps the last two days of them.
  auto kept = apply({"2026-11-24T00:00:00Z", "2026-11-23T00:00:00Z", "2026-11-21T00:00:00Z"}, p, "2026-12-04T00:00:00Z");
  EXPECT_EQ(kept, (std::map<std::string, std::string>{{"2026-11-24T00:00:00Z", "within"},
                                                      {"2026-11-23T00:00:00Z", "within"}}));
}

TEST_F(RetentionPolicyTest, RulesCombineAndEveryReasonIsNamed) {
  RetentionPolicy p;
  p.last = 1;
  p.daily = 2;
  p.weekly = 2;
  auto kept = apply({"2026-12-04T10:00:00Z", "2026-12-04T09:00:00Z", "2026-12-03T10:00:00Z", "2026-11-25T10:00:00Z",
                     "2026-11-24T10:00:00Z"},
                    p);
  EXPECT_EQ(kept, (std::map<std::string, std::string>{{"2026-12-04T10:00:00Z", "last,daily,weekly"},
                                                      {"2026-12-03T10:00:00Z", "daily"},
                                                      {"2026-11-25T10:00:00Z", "weekly"}}));
}

TEST_F(RetentionPolicyTest, AFutureBackupIsNotTheNewestForWithin) {
  RetentionPolicy p;
  p.within_s = 3600;
  auto kept = apply({"2031-01-01T00:00:00Z", "2026-12-04T10:30:00Z", "2026-12-04T09:00:00Z"}, p, "2026-12-04T12:00:00Z");
  // Counted from 10:30 (the newest not in the future): 10:30 is within, 09:00 is not; the
  // future one is after the bound as well.
  EXPECT_EQ(kept.count("2026-12-04T10:30:00Z"), 1u);
  EXPECT_EQ(kept.count("2026-12-04T09:00:00Z"), 0u);
}

}  // namespace
}  // namespace gitvault
