// The configuration file, gitvault.toml: the storages, where backups go, the flag store and
// the limits. Command-line options override it (cli/).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "git/storage.h"
#include "seal/settings.h"

namespace gitvault {

// gitvault.toml:
//   [[storage]]  name = "default"  path = "/var/opt/gitlab/git-data/repositories"  host = "gitaly-1"
//   [backup]     path = "/var/opt/gitlab/backups/repositories"  host = "gitaly-1"
//   [flags]      db = "/var/lib/gitvault/flags.db"
//   [limits]     parallel = 2  parallel_storage = 1
//   [s3]         endpoint = "http://127.0.0.1:7480"  region = "us-east-1"  use_path_style = true
//                part_size = 8388608  parts_in_flight = 2  access_key_id = "..."  secret_access_key = "..."
// [s3] applies to an s3:// backup path: its values fill what the URL does not say; the keys
// are used when the environment has none (docs/object-storage.md).
struct S3Config {
  std::string endpoint;
  std::string region;
  std::optional<bool> use_path_style;
  std::optional<std::int64_t> part_size;
  std::optional<std::int64_t> parts_in_flight;
  std::optional<std::int64_t> request_timeout;  // seconds
  std::optional<std::int64_t> dead_after;       // seconds
  std::string ca_file;
  std::optional<bool> allow_whole_bucket;
  std::optional<bool> allow_insecure_http;
  std::string object_lock;  // "governance" or "compliance"
  std::string lock_for;     // "35d"
  std::string access_key_id;
  std::string secret_access_key;
};

struct Config {
  std::vector<Storage> storages;
  // Several hosts, one backup: the host holding each storage ([[storage]] host; all storages
  // name one or none does), and this machine's name among them ([backup] host; default: its
  // host name).
  std::map<std::string, std::string> storage_hosts;
  std::string host;
  std::string backup_path;
  std::string flags_db;
  std::string metrics_textfile;  // [metrics] textfile
  std::string full_every;        // [backup] full_every: "7d"
  std::optional<int> max_chain;  // [backup] max_chain: a repository's chain steps before a full one
  bool independent = false;      // [backup] independent: full backups copy every repository again
  std::optional<int> parallel;
  std::optional<int> parallel_storage;
  std::optional<int> pack_threads;   // [limits] pack_threads
  std::optional<int> index_threads;  // [limits] index_threads
  std::string lock_wait;             // [locks] wait: "2h"
  std::string worker;                // [worker] path
  std::string verify_scratch;        // [verify] scratch
  SealSettings seal;                 // [encryption]: sealed backups (docs/encryption.md)
  // [retention] keep_last, keep_hourly, …, keep_yearly (counts, -1: every period) and
  // keep_within ("30d"); [prune] keep_last and keep_within, the older spelling, still read.
  std::optional<int> keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly;
  std::string keep_within;
  S3Config s3;
};

// Throws Error(Config) naming the file (and line) on any problem.
Config load_config(const std::string& path);

// The hosts a backup of several hosts expects (every storage's host), sorted; empty when the
// storages name none.
std::vector<std::string> expected_hosts(const Config& config);

// An s3:// location with the [s3] values it does not state itself added as URL parameters
// (so that a worker given the URL sees the same destination); any other location as it is,
// except that [s3] object_lock with a local directory is Error(Config): it cannot be locked.
std::string with_s3_config(const std::string& location, const S3Config& s3);

}  // namespace gitvault

namespace gitvault {

// `gitvault config check`: what is wrong in a config file, each with its line — a syntax
// error, a key gitvault does not know (a typo is otherwise silently ignored), a value of the
// wrong type or out of range — and then whatever load_config refuses. Empty: the file is good.
struct ConfigProblem {
  int line = 0;  // 0: not tied to a line
  std::string what;
};
std::vector<ConfigProblem> check_config(const std::string& path);

}  // namespace gitvault
