// UTC times without the C library's time zone lock (base/system.h): the same answers as
// gmtime_r and timegm over centuries, and impossible dates refused.
#include <gtest/gtest.h>

#include <ctime>
#include <random>
#include <string>

#include "base/system.h"

namespace gitvault {
namespace {

std::string with_gmtime(std::int64_t t, const char* format) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

TEST(UtcTime, AgreesWithGmtimeAndTimegmFrom1970To2400) {
  std::mt19937_64 random(42);
  std::uniform_int_distribution<std::int64_t> any(0, 13569465600LL);  // 1970 .. 2400
  std::vector<std::int64_t> times = {0, 86399, 86400, 951782400 /* 2000-02-29 */, 4107542400 /* 2100-03-01 */};
  for (int i = 0; i < 20000; ++i) times.push_back(any(random));
  for (const std::int64_t t : times) {
    const std::string compact = utc_compact_of(t);
    ASSERT_EQ(compact, with_gmtime(t, "%Y%m%d%H%M%S")) << t;
    ASSERT_EQ(format_rfc3339(t), with_gmtime(t, "%Y-%m-%dT%H:%M:%SZ")) << t;
    ASSERT_EQ(parse_utc_compact(compact), t) << compact;
    ASSERT_EQ(parse_rfc3339(format_rfc3339(t)), t) << t;
  }
}

TEST(UtcTime, ImpossibleTimesAreRefusedNotRolledOver) {
  for (const char* bad : {"20261131000000", "20260229000000", "20261301000000", "20261200000000", "20261201240000",
                          "20261201006000", "20261201000060", "2026120100000", "2026120100000x", "base-full"})
    EXPECT_EQ(parse_utc_compact(bad), -1) << bad;
  EXPECT_EQ(parse_utc_compact("20240229120000"), parse_rfc3339("2024-02-29T12:00:00Z"));  // a leap day
  EXPECT_EQ(parse_rfc3339("2026-11-31T00:00:00Z"), -1);
  EXPECT_EQ(parse_rfc3339("yesterday"), -1);
}

}  // namespace
}  // namespace gitvault
