#include "cli/gitvault_cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "backup/run.h"
#include "cli/backups_commands.h"
#include "cli/common_options.h"
#include "cli/report.h"
#include "cli/feature_command.h"
#include "flags/feature_flags.h"
#include "gitaly/encoding.h"
#include "gitaly/error.h"
#include "restore/run.h"

namespace gitvault {
namespace {

int exit_code_for(const Error& e) {
  switch (e.code()) {
    case ErrorCode::Usage:
    case ErrorCode::Config:
    case ErrorCode::NotFound:
    case ErrorCode::Locked:
      return 2;
    default:
      return 1;
  }
}

}  // namespace

int gitvault_main(int argc, char** argv) {
  CLI::App app{"gitvault: verified backups of a git-data tree of bare repositories"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("gitvault ") + GITVAULT_VERSION);

  CommonOptions backup_opts;
  std::string backup_id;
  int pack_threads = 0;
  CLI::App* backup = app.add_subcommand("backup", "Back up every repository of the given storages");
  backup_opts.add_storage_options(*backup);
  backup_opts.add_path_option(*backup);
  backup_opts.add_filter_options(*backup);
  backup_opts.add_json_option(*backup);
  backup_opts.add_wait_option(*backup);
  backup->add_option("--id", backup_id, "Backup id (default: UTC time as YYYYMMDDhhmmss)");
  backup->add_option("--pack-threads", pack_threads, "Threads for git pack-objects on the legacy path (default: git's)");
  bool incremental = false;
  std::string previous_id;
  backup->add_flag("--incremental", incremental,
                   "Pipeline path: write only what changed since the previous backup (legacy path: full)");
  backup->add_option("--previous-id", previous_id, "With --incremental: build on this backup (default: newest complete)");
  CommonOptions restore_opts;
  std::string restore_id;
  int index_threads = 0;
  CLI::App* restore = app.add_subcommand("restore", "Restore repositories from a backup, verified, without "
                                                    "touching a repository whose backup is bad");
  restore_opts.add_storage_options(*restore);
  restore_opts.add_path_option(*restore);
  restore_opts.add_filter_options(*restore);
  restore_opts.add_json_option(*restore);
  restore_opts.add_wait_option(*restore);
  restore->add_option("--id", restore_id, "Backup id (default: the newest complete backup)");
  restore->add_option("--index-threads", index_threads, "Threads for git index-pack (default: git's)");
  std::string flags_db, worker;
  int parallel = 0, parallel_storage = -1;
  for (CLI::App* c : {backup, restore}) {
    c->add_option("--flags-db", flags_db, "Flag store deciding the path per repository (gitaly_backup)");
    c->add_option("--worker", worker, "The gitaly-backup worker (default: next to gitvault, or $GITVAULT_WORKER)");
    c->add_option("--parallel", parallel, "Pipeline: repositories at once in all (default: number of CPUs)");
    c->add_option("--parallel-storage", parallel_storage, "Pipeline: repositories at once per storage (default 2)");
  }


  FeatureCommand feature(app);
  BackupsCommands backups(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  try {
    if (feature.selected()) {
      std::string config_db, config_backup_path;
      if (!feature.config_file.empty()) {
        Config cfg = load_config(feature.config_file);
        config_db = cfg.flags_db;
        config_backup_path = cfg.backup_path;
      }
      return feature.run(config_db, config_backup_path);
    }
    if (backups.selected()) return backups.run();
    if (*backup) {
      BackupRunOptions o;
      o.storages = backup_opts.storages();
      o.id = backup_id;
      o.filter = backup_opts.filter();
      o.output = backup_opts.json ? OutputMode::Json : OutputMode::Human;
      o.pack_threads = pack_threads;
      o.incremental = incremental;
      o.previous_id = previous_id;
      o.lock_wait = backup_opts.lock_wait();
      if (!previous_id.empty() && !incremental) throw Error(ErrorCode::Usage, "--previous-id needs --incremental");
      o.backup_path = backup_opts.resolved_backup_path();
      o.flags_store = flags::resolve_store_path(flags_db, backup_opts.config().flags_db);
      o.worker_program = worker;
      o.parallel = parallel > 0 ? parallel : backup_opts.config().parallel.value_or(0);
      o.parallel_storage = parallel_storage >= 0 ? parallel_storage : backup_opts.config().parallel_storage.value_or(2);
      LocalSink sink(o.backup_path);
      BackupRunResult result = run_backup(o, sink);
      report_backup(stdout, o.output, result);
      return result.exit_code;
    }
    if (*restore) {
      RestoreRunOptions o;
      o.storages = restore_opts.storages();
      o.id = restore_id;
      o.filter = restore_opts.filter();
      o.output = restore_opts.json ? OutputMode::Json : OutputMode::Human;
      o.index_threads = index_threads;
      o.lock_wait = restore_opts.lock_wait();
      o.backup_path = restore_opts.resolved_backup_path();
      o.flags_store = flags::resolve_store_path(flags_db, restore_opts.config().flags_db);
      o.worker_program = worker;
      o.parallel = parallel > 0 ? parallel : restore_opts.config().parallel.value_or(0);
      o.parallel_storage = parallel_storage >= 0 ? parallel_storage : restore_opts.config().parallel_storage.value_or(2);
      LocalSink sink(o.backup_path);
      RestoreRunResult result = run_restore(o, sink);
      report_restore(stdout, o.output, result);
      return result.exit_code;
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "gitvault: %s\n", printable(e.what()).c_str());
    return exit_code_for(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gitvault: %s\n", printable(e.what()).c_str());
    return 1;
  }
  return 2;
}

}  // namespace gitvault
