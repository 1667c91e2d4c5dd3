// Options shared by gitvault's subcommands: storages, backup path, path filters, config.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "backup/destination_open.h"
#include "config/config.h"
#include "git/storage.h"
#include "run/repository_run.h"
#include "ui/metrics.h"
#include "ui/progress.h"

namespace gitvault {

// --at TIME: ISO 8601 ("2026-12-04T14:00:00Z", "+01:00" offsets; without a zone, local
// time: "2026-12-04T14:00", "2026-12-04 14:00", "2026-12-04") or a time ago ("2h", "30m",
// "1d"). Unix seconds; Error(Usage) otherwise.
std::int64_t parse_moment(const std::string& text);

struct CommonOptions {
  std::string config_file;
  std::vector<std::string> storage_specs;
  std::string host;
  std::string backup_path;
  std::string repositories_paths;
  std::string skip_repositories_paths;
  bool json = false;
  std::string metrics_file;
  std::string wait;
  // Backup and restore: which engine (the flag store) and the worker's limits.
  std::string flags_db;
  std::string worker;
  int parallel = 0;
  int parallel_storage = -1;
  std::string as_of;  // --as-of TIME
  std::string identity_file;      // --identity FILE
  bool trust_any_signer = false;  // --trust-any-signer

  void add_config_option(CLI::App& cmd);
  void add_storage_options(CLI::App& cmd);  // --config and --storage
  void add_path_option(CLI::App& cmd);
  void add_filter_options(CLI::App& cmd);
  void add_json_option(CLI::App& cmd);
  void add_wait_option(CLI::App& cmd);
  void add_metrics_option(CLI::App& cmd);
  // --config, --path and --json: the commands that read a backup directory only.
  void add_backup_directory_options(CLI::App& cmd);
  // --flags-db, --worker, --parallel, --parallel-storage: backup and restore.
  void add_engine_options(CLI::App& cmd);
  // Backup and restore: storages, path, filters, --json, --wait and the engine options.
  void add_repository_run_options(CLI::App& cmd);
  // --as-of TIME: the readers (backups, verify, restore) read the destination as it stood
  // then, from object versions (destination/as_of_sink.h).
  void add_as_of_option(CLI::App& cmd);
  // --identity FILE and --trust-any-signer: the commands that read a sealed backup's content.
  void add_identity_options(CLI::App& cmd);

  // Storages from --storage, else from the config file: of a config naming the host of each
  // storage, this host's (--host, else [backup] host, else the machine's host name). Throws
  // Error(Usage/Config).
  std::vector<Storage> storages() const;
  // The hosts a backup of several hosts expects (empty: one host; always empty with
  // --storage), and which of them this is.
  std::vector<std::string> expected_hosts() const;
  std::string resolved_host() const;
  // --path, else [backup] path of the config file, with [s3]'s settings for an s3:// one
  // (and its keys exported, config/config.h). Throws Error(Usage) when neither.
  // With --as-of, an s3:// path reads as of that time (as_of=); any other path is refused.
  std::string resolved_backup_path() const;
  PathFilter filter() const;
  // [encryption] of the config, with --identity (else [encryption] identity_file, else
  // GITVAULT_IDENTITY_FILE) and --trust-any-signer.
  SealSettings seal_settings() const;
  // The destination of resolved_backup_path(), sealed when [encryption] says so
  // (backup/destination_open.h), for `use`.
  // `id`: the backup a reader of content reads (empty: the newest), whose recipients an
  // identity must be among.
  std::unique_ptr<Sink> open_destination(DestinationUse use, const std::string& id = "") const;
  // --wait DURATION as milliseconds (0 when not given). Throws Error(Usage).
  std::chrono::milliseconds lock_wait() const;
  const Config& config() const;
  // --flags-db, else [flags] db, else GITVAULT_FLAGS_DB or the default store.
  std::string flags_store() const;
  // --parallel, else [limits] parallel, else 0 (one per CPU).
  int resolved_parallel() const;
  // --parallel-storage, else [limits] parallel_storage, else 2.
  int resolved_parallel_storage() const;
  // Everything a backup or restore run takes from these options and the config file;
  // `observer` reports its progress.
  void fill(RepositoryRunOptions& o, RunObserver& observer) const;
  // The same without this host's storages and hosts: for runs that only read the backup
  // directory and the engines' settings (a drill restores into scratch storages).
  void fill_reading(RepositoryRunOptions& o, RunObserver& observer) const;
  OutputMode output_mode() const { return json ? OutputMode::Json : OutputMode::Human; }
  // Runs `body` (which returns the exit status and fills the command's own metric families)
  // and, when a metrics file is named (--metrics-file, else [metrics] textfile), records the
  // run there (ui/metrics.h) — also when the body throws (exit 2 or 1), before the error goes
  // on to the one exception fence.
  int with_metrics(const std::string& command, const std::function<int(std::vector<MetricFamily>&)>& body) const;

 private:
  mutable bool config_loaded_ = false;
  mutable bool warned_trust_ = false;
  mutable Config config_;
};

}  // namespace gitvault
