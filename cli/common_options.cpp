#include "cli/common_options.h"
#include "base/system.h"

#include <cstdio>

#include <cctype>

#include <ctime>

#include <algorithm>
#include <thread>

#include "backup/run_locks.h"
#include "base/error.h"
#include "base/system.h"
#include "flags/feature_flags.h"
#include "s3/client.h"

namespace gitvault {

void CommonOptions::add_config_option(CLI::App& cmd) {
  cmd.add_option("--config", config_file, "gitvault.toml with [[storage]] tables, [backup] path, [flags] db");
}

void CommonOptions::add_storage_options(CLI::App& cmd) {
  add_config_option(cmd);
  cmd.add_option("--storage", storage_specs, "A storage as NAME=DIR (repeatable); overrides the config file");
  cmd.add_option("--host", host,
                 "Several hosts, one backup: which host of the config this is (default: [backup] host, else the "
                 "host name); only its storages are backed up or restored");
}

void CommonOptions::add_path_option(CLI::App& cmd) {
  cmd.add_option("--path", backup_path, "Backup directory (default: [backup] path of the config file)");
}

void CommonOptions::add_filter_options(CLI::App& cmd) {
  cmd.add_option("--repositories-paths", repositories_paths,
                 "Only these repositories: comma list of relative or project paths, or their prefixes");
  cmd.add_option("--skip-repositories-paths", skip_repositories_paths,
                 "Leave out these repositories: comma list of relative or project paths, or their prefixes");
}

void CommonOptions::add_json_option(CLI::App& cmd) {
  cmd.add_flag("--json", json, "Machine-readable output: one JSON object per line");
}

void CommonOptions::add_wait_option(CLI::App& cmd) {
  cmd.add_option("--wait", wait,
                 "When another run holds the lock this one needs, wait up to DURATION (30s, 10m, 2h) "
                 "instead of failing at once (exit 2)");
}

void CommonOptions::add_metrics_option(CLI::App& cmd) {
  cmd.add_option("--metrics-file", metrics_file,
                 "Prometheus textfile-collector file to record this run in (default: [metrics] textfile)");
}

void CommonOptions::add_backup_directory_options(CLI::App& cmd) {
  add_config_option(cmd);
  add_path_option(cmd);
  add_json_option(cmd);
  add_wait_option(cmd);
  add_metrics_option(cmd);
}

void CommonOptions::add_engine_options(CLI::App& cmd) {
  cmd.add_option("--flags-db", flags_db, "Flag store deciding the path per repository (gitaly_backup)");
  cmd.add_option("--worker", worker, "The gitaly-backup worker (default: next to gitvault, or $GITVAULT_WORKER)");
  cmd.add_option("--parallel", parallel, "Pipeline: repositories at once in all (default: number of CPUs; twice that to s3://)");
  cmd.add_option("--parallel-storage", parallel_storage, "Pipeline: repositories at once per storage (default 2)");
}

void CommonOptions::add_repository_run_options(CLI::App& cmd) {
  add_storage_options(cmd);
  add_path_option(cmd);
  add_filter_options(cmd);
  add_json_option(cmd);
  add_wait_option(cmd);
  add_engine_options(cmd);
  add_metrics_option(cmd);
}

int CommonOptions::with_metrics(const std::string& command,
                                const std::function<int(std::vector<MetricFamily>&)>& body) const {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<MetricFamily> own;
  int exit_code = 1;
  auto record = [&] {
    std::string path = metrics_file;
    if (path.empty()) {
      try {
        path = config().metrics_textfile;
      } catch (const std::exception&) {
        return;  // a config that cannot be read names no metrics file; its error is reported once, below
      }
    }
    if (path.empty()) return;
    try {
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      update_metrics_file(path, command_metrics(command, exit_code, seconds, own));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gitvault: cannot record the run in the metrics file %s: %s\n", path.c_str(), e.what());
    }
  };
  try {
    exit_code = body(own);
  } catch (const Error& e) {
    exit_code = exit_code_for(e);
    own.clear();
    record();
    throw;
  } catch (...) {
    own.clear();
    record();
    throw;
  }
  record();
  return exit_code;
}

std::string CommonOptions::flags_store() const { return flags::resolve_store_path(flags_db, config().flags_db); }

int CommonOptions::resolved_parallel() const { return parallel > 0 ? parallel : config().parallel.value_or(0); }

int CommonOptions::resolved_parallel_storage() const {
  return parallel_storage >= 0 ? parallel_storage : config().parallel_storage.value_or(2);
}

void CommonOptions::fill(RepositoryRunOptions& o, RunObserver& observer) const {
  o.storages = storages();
  o.hosts = expected_hosts();
  if (!o.hosts.empty()) o.host = resolved_host();
  if (o.hosts.empty() && !host.empty())
    throw Error(ErrorCode::Usage, "--host needs a config whose [[storage]] tables name their hosts (and no --storage)");
  fill_reading(o, observer);
}

void CommonOptions::fill_reading(RepositoryRunOptions& o, RunObserver& observer) const {
  o.filter = filter();
  o.observer = &observer;
  o.lock_wait = lock_wait();
  o.backup_path = resolved_backup_path();
  o.flags_store = flags_store();
  o.worker_program = !worker.empty() ? worker : config().worker;
  o.parallel = resolved_parallel();
  // Object storage: a repository's time is mostly waiting for the gateway, so twice as many
  // at once by default (measured on 1,000 repositories to radosgw, 2 cores: --parallel 2
  // 8.2 s, 4 5.5 s, 8 5.7 s).
  if (o.parallel == 0 && o.backup_path.rfind("s3://", 0) == 0)
    o.parallel = 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.parallel_storage = resolved_parallel_storage();
  o.seal = seal_settings();
}

void CommonOptions::add_identity_options(CLI::App& cmd) {
  cmd.add_option("--identity", identity_file,
                 "An age identity file (AGE-SECRET-KEY-1…, mode 0600) that opens the sealed backups "
                 "(default: [encryption] identity_file, else GITVAULT_IDENTITY_FILE)");
  cmd.add_flag("--trust-any-signer", trust_any_signer,
               "Accept sealed records signed by any key, not only this host's and [encryption] trusted_signers: "
               "for a restore without the deployed config; anyone who could write the destination could then "
               "have planted what is restored");
}

SealSettings CommonOptions::seal_settings() const {
  SealSettings s = config().seal;
  if (!identity_file.empty()) s.identity_file = identity_file;
  if (s.identity_file.empty())
    if (const char* env = std::getenv("GITVAULT_IDENTITY_FILE"); env && *env) s.identity_file = env;
  s.trust_any_signer = trust_any_signer;
  if (trust_any_signer && !warned_trust_) warned_trust_ = true,
    std::fprintf(stderr, "gitvault: warning: --trust-any-signer: sealed records signed by any key are accepted; "
                         "whoever could write the destination could have planted what is read\n");
  return s;
}

std::unique_ptr<Sink> CommonOptions::open_destination(DestinationUse use, const std::string& id) const {
  return open_backup_destination(resolved_backup_path(), seal_settings(), use, id);
}

std::chrono::milliseconds CommonOptions::lock_wait() const {
  const std::string& w = !wait.empty() ? wait : config().lock_wait;
  return w.empty() ? std::chrono::milliseconds(0) : parse_wait(w);
}

const Config& CommonOptions::config() const {
  if (!config_loaded_) {
    if (!config_file.empty()) config_ = load_config(config_file);
    config_loaded_ = true;
  }
  return config_;
}

std::vector<Storage> CommonOptions::storages() const {
  std::vector<Storage> out;
  if (!storage_specs.empty()) {
    for (const auto& s : storage_specs) out.push_back(parse_storage_spec(s));
    validate_storages(out, false);
    return out;
  }
  std::vector<std::string> hosts = expected_hosts();
  if (hosts.empty()) return config().storages;
  const std::string me = resolved_host();
  for (const auto& s : config().storages)
    if (config().storage_hosts.at(s.name) == me) out.push_back(s);
  if (out.empty()) {
    std::string list;
    for (const auto& h : hosts) list += (list.empty() ? "" : ", ") + h;
    throw Error(ErrorCode::Config, "host '" + me + "' holds no storage in " + config_file + " (its hosts: " + list +
                                       "); say which host this is with --host NAME or [backup] host");
  }
  return out;
}

std::vector<std::string> CommonOptions::expected_hosts() const {
  if (!storage_specs.empty()) return {};
  return gitvault::expected_hosts(config());
}

std::string CommonOptions::resolved_host() const {
  std::string me = !host.empty() ? host : !config().host.empty() ? config().host : host_name();
  if (!valid_host_name(me)) throw Error(ErrorCode::Usage, "invalid host name '" + me + "' (use --host NAME)");
  return me;
}

void CommonOptions::add_as_of_option(CLI::App& cmd) {
  cmd.add_option("--as-of", as_of,
                 "Read the destination as it stood at TIME (object versions of a bucket with Object Lock): what was "
                 "deleted or overwritten since is not seen; same TIME forms as --at");
}

std::string CommonOptions::resolved_backup_path() const {
  std::string path = !backup_path.empty() ? backup_path : config().backup_path;
  if (path.empty())
    throw Error(ErrorCode::Usage, "no backup directory: give --path DIR or [backup] path in the config file");
  // [s3]'s keys stay in memory: the sink reads them, the worker is handed them, no other
  // child sees them (s3/client.h, credentials_from_environment).
  s3::set_configured_credentials({config().s3.access_key_id, config().s3.secret_access_key, ""});
  path = with_s3_config(path, config().s3);
  if (as_of.empty()) return path;
  if (path.rfind("s3://", 0) != 0)
    throw Error(ErrorCode::Usage, "--as-of reads object versions: only an s3:// destination (a versioned bucket, as "
                                  "Object Lock makes it) keeps them, not " + path);
  return path + (path.find('?') == std::string::npos ? "?" : "&") + "as_of=" + std::to_string(parse_moment(as_of));
}

PathFilter CommonOptions::filter() const {
  return PathFilter(split_list(repositories_paths), split_list(skip_repositories_paths));
}

std::int64_t parse_moment(const std::string& text) {
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text.back())) == 0 && text.find('-') == std::string::npos)
    return now - parse_duration(text);  // "2h": that long ago
  std::string t = text;
  for (char& c : t)
    if (c == ' ') c = 'T';
  std::tm tm{};
  const char* rest = nullptr;
  for (const char* f : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    tm = std::tm{};
    rest = ::strptime(t.c_str(), f, &tm);
    if (rest) break;
  }
  if (rest) {
    std::string zone(rest);
    if (!zone.empty() && zone[0] == '.') zone.erase(0, zone.find_first_not_of("0123456789", 1));  // fractions
    if (zone.empty()) {  // local time
      tm.tm_isdst = -1;
      return static_cast<std::int64_t>(std::mktime(&tm));
    }
    std::int64_t utc = static_cast<std::int64_t>(timegm(&tm));
    if (zone == "Z" || zone == "z") return utc;
    int hh = 0, mm = 0;
    if ((zone[0] == '+' || zone[0] == '-') && std::sscanf(zone.c_str() + 1, "%2d:%2d", &hh, &mm) == 2 && zone.size() == 6)
      return utc - (zone[0] == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
  }
  throw Error(ErrorCode::Usage, "--at takes a time (2026-12-04T14:00:00Z, 2026-12-04 14:00 in local time) or a time "
                                "ago (2h, 30m, 1d), not '" + text + "'");
}

}  // namespace gitvault
