#include "base/system.h"

#include <algorithm>
#include <cctype>

#include "base/error.h"

#include <pwd.h>
#include <sys/resource.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace gitvault {

std::string host_name() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

namespace {

// UTC calendar arithmetic (the proleptic Gregorian calendar, H. Hinnant's day algorithms):
// gmtime_r and timegm take the C library's time zone lock, which the threads reading
// thousands of record headers (each naming a thousand times) queued on.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct UtcTime {
  std::int64_t year;
  unsigned month, day, hour, minute, second;
};

UtcTime utc_of(std::int64_t t) {
  std::int64_t days = t / 86400, secs = t % 86400;
  if (secs < 0) secs += 86400, days -= 1;
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, doy - (153 * mp + 2) / 5 + 1, static_cast<unsigned>(secs / 3600),
          static_cast<unsigned>(secs / 60 % 60), static_cast<unsigned>(secs % 60)};
}

// Seconds since the epoch of a UTC date and time; -1 when it is not one (a 31st of April).
std::int64_t seconds_of_utc(std::int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s) {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) return -1;
  const std::int64_t first = days_from_civil(y, mo, 1);
  const std::int64_t next = mo == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, mo + 1, 1);
  if (d > next - first) return -1;
  return (first + d - 1) * 86400 + h * 3600 + mi * 60 + s;
}

}  // namespace

std::int64_t parse_rfc3339(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() < 20 || std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6) return -1;
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) return -1;
  return seconds_of_utc(y, static_cast<unsigned>(mo), static_cast<unsigned>(d), static_cast<unsigned>(h),
                        static_cast<unsigned>(mi), static_cast<unsigned>(sec));
}

std::int64_t parse_utc_compact(const std::string& s) {
  if (s.size() != 14 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  auto field = [&s](std::size_t at, std::size_t n) {
    unsigned v = 0;
    for (std::size_t i = at; i < at + n; ++i) v = v * 10 + static_cast<unsigned>(s[i] - '0');
    return v;
  };
  if (field(12, 2) > 59) return -1;  // a default id is a second of the clock, never a leap one
  return seconds_of_utc(field(0, 4), field(4, 2), field(6, 2), field(8, 2), field(10, 2), field(12, 2));
}

bool valid_host_name(const std::string& host) {
  if (host.empty() || host.size() > 64 || host[0] == '.' || host[0] == '-') return false;
  for (char c : host)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

std::string os_user() {
  if (passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  const char* u = std::getenv("USER");
  return u ? u : std::to_string(::geteuid());
}

std::int64_t parse_duration(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i + 1 != text.size() || i > 12)
    throw Error(ErrorCode::Usage, "invalid duration '" + text + "' (examples: 30d, 36h, 2w, 90m)");
  std::int64_t n = std::stoll(text.substr(0, i));
  switch (text[i]) {
    case 's': return n;
    case 'm': return n * 60;
    case 'h': return n * 3600;
    case 'd': return n * 86400;
    case 'w': return n * 7 * 86400;
    default: throw Error(ErrorCode::Usage, "invalid duration '" + text + "' (unit s, m, h, d or w)");
  }
}

std::string format_rfc3339(std::int64_t t) {
  const UtcTime u = utc_of(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02uZ", static_cast<long long>(u.year), u.month, u.day,
                u.hour, u.minute, u.second);
  return buf;
}

std::string utc_now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

std::string utc_now_compact() { return utc_compact_of(static_cast<std::int64_t>(std::time(nullptr))); }

std::string utc_compact_of(std::int64_t unix_seconds) {
  const UtcTime u = utc_of(unix_seconds);
  if (u.year < 0 || u.year > 9999) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04lld%02u%02u%02u%02u%02u", static_cast<long long>(u.year), u.month, u.day,
                  u.hour, u.minute, u.second);
    return buf;
  }
  // by hand: a header's needs name a thousand of these
  std::string out(14, '0');
  auto put = [&out](std::size_t at, std::size_t width, std::uint64_t v) {
    for (std::size_t i = at + width; i-- > at; v /= 10) out[i] = static_cast<char>('0' + v % 10);
  };
  put(0, 4, static_cast<std::uint64_t>(u.year));
  put(4, 2, u.month);
  put(6, 2, u.day);
  put(8, 2, u.hour);
  put(10, 2, u.minute);
  put(12, 2, u.second);
  return out;
}

bool process_alive(long pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

long peak_rss_kib() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace gitvault
