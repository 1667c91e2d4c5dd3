#include "backup/run.h"

#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "backup/layout.h"
#include "backup/repository_backup.h"
#include "gitaly/error.h"

namespace gitvault {
namespace {

std::string hostname() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

void print_summary(const BackupRunResult& r, double seconds, const BackupRunOptions& o) {
  const BackupRecord& rec = r.record;
  if (o.output == OutputMode::Json) {
    nlohmann::json j = {{"event", "summary"}, {"command", "backup"}, {"id", rec.id}, {"status", rec.status},
                        {"repositories", rec.repositories.size()}, {"ok", rec.count("ok")},
                        {"empty", rec.count("empty")}, {"failed", rec.count("failed")},
                        {"bytes", rec.total_bytes()}, {"duration_seconds", seconds}};
    std::fprintf(o.summary_out, "%s\n", j.dump().c_str());
  } else {
    std::fprintf(o.summary_out, "backup %s: %s\n", rec.id.c_str(), rec.status.c_str());
    std::fprintf(o.summary_out, "  repositories: %zu (%zu ok, %zu empty, %zu failed)\n", rec.repositories.size(),
                 rec.count("ok"), rec.count("empty"), rec.count("failed"));
    std::fprintf(o.summary_out, "  written: %s in %s\n", human_bytes(rec.total_bytes()).c_str(),
                 human_duration(seconds).c_str());
  }
  print_failures(o.summary_out, r.failures);
}

}  // namespace

std::vector<Repository> select_repositories(const std::vector<Storage>& storages, const PathFilter& filter,
                                            std::vector<std::string>* warnings) {
  std::vector<Repository> out;
  for (const auto& s : storages)
    for (auto& repo : discover_repositories(s, warnings))
      if (filter.selects(repo.relative_path, repo.project_path)) out.push_back(std::move(repo));
  return out;
}

BackupRunResult run_backup(const BackupRunOptions& o, Sink& sink) {
  if (o.storages.empty()) throw Error(ErrorCode::Config, "no storage given (--storage NAME=DIR or --config)");
  validate_storages(o.storages, true);
  BackupRunResult result;
  BackupRecord& rec = result.record;
  rec.id = o.id.empty() ? default_backup_id() : o.id;
  if (!valid_backup_id(rec.id)) throw Error(ErrorCode::Usage, "invalid backup id '" + rec.id + "'");
  if (sink.exists(record_name(rec.id)))
    throw Error(ErrorCode::Usage, "backup " + rec.id + " already exists in " + sink.describe(""));

  std::vector<std::string> warnings;
  std::vector<Repository> repos = select_repositories(o.storages, o.filter, &warnings);
  for (const auto& w : warnings) std::fprintf(o.progress_out ? o.progress_out : stderr, "warning: %s\n", w.c_str());
  if (repos.empty() && !o.filter.empty())
    throw Error(ErrorCode::Usage, "no repository matches --repositories-paths/--skip-repositories-paths");

  rec.started_at = utc_now_rfc3339();
  rec.host = hostname();
  rec.gitvault_version = GITVAULT_VERSION;
  for (const auto& s : o.storages) rec.storages.push_back(s.name);
  write_record(sink, rec);  // "running": a run that dies stays visibly unfinished

  Progress progress("backup", repos.size(), o.progress_out, o.output);
  RepositoryBackupOptions repo_options;
  repo_options.pack_threads = o.pack_threads;
  for (const auto& repo : repos) {
    RepositoryRecord rr;
    rr.storage = repo.storage;
    rr.relative_path = repo.relative_path;
    rr.project_path = repo.project_path;
    rr.engine = "legacy";
    rr.layout = "legacy";
    rr.reason = "legacy engine";
    auto t0 = std::chrono::steady_clock::now();
    try {
      backup_repository(repo, sink, legacy_layout_files(rec.id, repo.storage, repo.relative_path), repo_options, rr);
    } catch (const std::exception& e) {
      rr.status = "failed";
      rr.error = e.what();
      rr.bundle.reset();
      rr.refs.reset();
      rr.custom_hooks.reset();
      result.failures.push_back({rr.storage, rr.relative_path, rr.project_path, rr.error});
    }
    rr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress.item_done(rr.storage, rr.relative_path, rr.status, rr.bytes, rr.seconds, rr.error);
    rec.repositories.push_back(std::move(rr));
  }
  progress.finish();

  std::size_t failed = rec.count("failed");
  rec.status = failed == 0 ? "complete" : (failed == rec.repositories.size() ? "failed" : "partial");
  rec.finished_at = utc_now_rfc3339();
  try {
    write_record(sink, rec);
  } catch (const std::exception& e) {
    // The "running" record stays: the backup is not reported complete.
    result.failures.push_back({"-", "-", "", std::string("cannot write the backup record: ") + e.what()});
    rec.status = "failed";
  }
  result.exit_code = (rec.status == "complete") ? 0 : 1;
  print_summary(result, progress.elapsed_seconds(), o);
  return result;
}

}  // namespace gitvault
