#include "cli/backups_commands.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "backup/retention.h"
#include "backup/sink.h"
#include "cli/report.h"
#include "gitaly/encoding.h"
#include "gitaly/error.h"
#include "gitaly/progress.h"
#include "restore/verify.h"

namespace gitvault {

BackupsCommands::BackupsCommands(CLI::App& app) {
  verify_ = app.add_subcommand("verify", "Check a backup without a storage: files, checksums, manifests, chains "
                                         "(--deep: also index every chain into a scratch repository)");
  verify_opts_.add_backup_directory_options(*verify_);
  verify_->add_option("--id", verify_ids_, "Backup id to verify (repeatable; default: the newest backup)");
  verify_->add_flag("--all", verify_all_, "Verify every backup in the directory");
  verify_->add_flag("--deep", verify_deep_, "Also restore every repository into a scratch repository and check it");
  verify_->add_option("--parallel", verify_parallel_, "Repositories checked at once (default: number of CPUs)");
  verify_->add_option("--scratch", verify_scratch_, "Deep: directory for scratch repositories (default: $TMPDIR or /tmp)");

  backups_ = app.add_subcommand("backups", "List the backups in a backup directory, newest first");
  backups_opts_.add_backup_directory_options(*backups_);

  prune_ = app.add_subcommand("prune", "Remove old backups, keeping every file a kept backup needs");
  prune_opts_.add_backup_directory_options(*prune_);
  prune_->add_option("--keep-last", keep_last_, "Keep the N newest complete backups");
  prune_->add_option("--keep-within", keep_within_, "Keep every backup started within DURATION (30d, 36h, 2w)");
  prune_->add_flag("--dry-run", dry_run_, "Print what would be removed; remove nothing");
}

int BackupsCommands::run() {
  if (verify_->parsed()) return run_verify_command();
  if (backups_->parsed()) return run_backups_command();
  return run_prune_command();
}

int BackupsCommands::run_verify_command() {
  VerifyOptions o;
  o.ids = verify_ids_;
  o.all = verify_all_;
  o.deep = verify_deep_;
  o.parallel = verify_parallel_;
  if (!verify_scratch_.empty()) o.scratch_dir = std::filesystem::absolute(verify_scratch_).string();
  o.output = verify_opts_.json ? OutputMode::Json : OutputMode::Human;
  o.lock_wait = verify_opts_.lock_wait();
  if (o.all && !o.ids.empty()) throw Error(ErrorCode::Usage, "give --id or --all, not both");
  LocalSink sink(verify_opts_.resolved_backup_path());
  VerifyResult result = run_verify(o, sink);
  report_verify(stdout, o.output, result);
  return result.exit_code;
}

int BackupsCommands::run_backups_command() {
  LocalSink sink(backups_opts_.resolved_backup_path());
  std::vector<std::string> errors;
  auto list = list_backups(sink, &errors, backups_opts_.lock_wait());
  for (const auto& e : errors) std::fprintf(stderr, "warning: %s\n", printable(e).c_str());
  if (backups_opts_.json) {
    for (const auto& b : list) {
      nlohmann::json j = {{"id", b.id}, {"status", b.status}, {"started_at", b.started_at},
                          {"finished_at", b.finished_at}, {"repositories", b.repositories}, {"failed", b.failed},
                          {"pipeline", b.pipeline}, {"legacy", b.legacy}, {"full", b.full},
                          {"incremental", b.incremental}, {"unchanged", b.unchanged}, {"bytes", b.bytes},
                          {"standalone", b.standalone()}, {"needs", b.needs}, {"needs_pruned", b.needs_pruned}};
      std::printf("%s\n", to_json_text(j).c_str());
    }
    return errors.empty() ? 0 : 1;
  }
  if (list.empty()) std::printf("no backups in %s\n", sink.describe("").c_str());
  else
    std::printf("%-20s %-9s %-24s %6s %6s %15s %13s %10s  %s\n", "ID", "STATUS", "STARTED", "REPOS", "FAILED",
                "PIPELINE/LEGACY", "FULL/INC/SAME", "WRITTEN", "RESTORABLE");
  for (const auto& b : list) {
    std::string paths = std::to_string(b.pipeline) + "/" + std::to_string(b.legacy);
    std::string kinds = std::to_string(b.full) + "/" + std::to_string(b.incremental) + "/" + std::to_string(b.unchanged);
    std::string alone = "on its own";
    if (!b.standalone()) {
      alone = "with the files of";
      for (const auto& n : b.needs) alone += " " + n;
      if (!b.needs_pruned.empty()) alone += " (pruned backups' files kept)";
    }
    if (b.status != "complete") alone = b.status == "running" ? "no (never finished)" : "only its ok repositories";
    std::printf("%-20s %-9s %-24s %6zu %6zu %15s %13s %10s  %s\n", b.id.c_str(), b.status.c_str(),
                b.started_at.c_str(), b.repositories, b.failed, paths.c_str(), kinds.c_str(),
                human_bytes(b.bytes).c_str(), alone.c_str());
  }
  return errors.empty() ? 0 : 1;
}

int BackupsCommands::run_prune_command() {
  PruneOptions o;
  if (prune_->count("--keep-last")) o.keep_last = keep_last_;
  if (!keep_within_.empty()) o.keep_within_s = parse_duration(keep_within_);
  o.dry_run = dry_run_;
  o.lock_wait = prune_opts_.lock_wait();
  LocalSink sink(prune_opts_.resolved_backup_path());
  PrunePlan plan = prune_backups(sink, o);
  for (const auto& n : plan.notes) std::fprintf(stderr, "note: %s\n", printable(n).c_str());
  if (prune_opts_.json) {
    nlohmann::json j = {{"event", "summary"}, {"command", "prune"}, {"dry_run", o.dry_run}, {"keep", plan.keep},
                        {"remove", plan.remove}, {"files", plan.files.size()}, {"bytes", plan.bytes},
                        {"unreferenced_files", plan.unreferenced}, {"resumed", plan.resumed}, {"notes", plan.notes}};
    std::printf("%s\n", to_json_text(j).c_str());
    return 0;
  }
  if (plan.resumed) std::printf("finished an interrupted prune first\n");
  const char* verb = o.dry_run ? "would remove" : "removed";
  for (const auto& id : plan.remove) std::printf("%s backup %s\n", verb, id.c_str());
  std::printf("prune%s: %zu backups kept, %zu %s; %zu files (%s) %s", o.dry_run ? " --dry-run" : "",
              plan.keep.size(), plan.remove.size(), o.dry_run ? "to remove" : "removed", plan.files.size(),
              human_bytes(plan.bytes).c_str(), verb);
  if (plan.unreferenced)
    std::printf(", of which %zu named by no backup (killed runs, failed repositories)", plan.unreferenced);
  std::printf("\n");
  return 0;
}

}  // namespace gitvault
