// Facts about this machine and this process, in one place: host name, user, time, pids.
#pragma once

#include <cstdint>
#include <string>

namespace gitvault {

std::string host_name();
// A name for a host in a backup of several hosts: [A-Za-z0-9_.-], at most 64 characters,
// not starting with '.' or '-' (it becomes a file name).
bool valid_host_name(const std::string& host);
// The effective user's name (its uid when it has none).
std::string os_user();
// UTC now as RFC 3339 with milliseconds ("2026-11-23T01:02:03.456Z"): times of one run
// started within one second still order.
std::string utc_now_rfc3339();
// "30d", "36h", "2w", "90m", "45s" -> seconds; throws Error(Usage) otherwise.
std::int64_t parse_duration(const std::string& text);
// Unix time `t` as RFC 3339 in UTC, to the second ("2026-11-23T01:02:03Z").
std::string format_rfc3339(std::int64_t t);
// Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS...Z" (UTC); -1 when unreadable.
std::int64_t parse_rfc3339(const std::string& s);
// UTC now as YYYYMMDDhhmmss (the default backup id).
std::string utc_now_compact();
std::string utc_compact_of(std::int64_t unix_seconds);  // YYYYMMDDhhmmss, UTC
// Seconds since the epoch of a YYYYMMDDhhmmss UTC time (a default backup id); -1 for
// anything else (not 14 digits, a 31st of April, second 60).
std::int64_t parse_utc_compact(const std::string& s);
// Whether a process with this pid exists on this machine (EPERM counts as alive).
bool process_alive(long pid);

// This process's own peak resident set size (not its children's), in KiB.
long peak_rss_kib();

}  // namespace gitvault
