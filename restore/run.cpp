#include "restore/run.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>

#include "gitaly/error.h"
#include "restore/repository_restore.h"

namespace gitvault {

RestoreRunResult run_restore(const RestoreRunOptions& o, Sink& sink) {
  if (o.storages.empty()) throw Error(ErrorCode::Config, "no storage given (--storage NAME=DIR or --config)");
  validate_storages(o.storages, false);
  RestoreRunResult result;
  if (o.id.empty()) {
    auto newest = newest_complete_backup(sink);
    if (!newest) throw Error(ErrorCode::NotFound, "no complete backup in " + sink.describe("") + " (use --id to pick a partial one)");
    result.id = *newest;
  } else {
    result.id = o.id;
  }
  BackupRecord rec = read_record(sink, result.id);
  if (rec.status == "running")
    throw Error(ErrorCode::Usage, "backup " + rec.id + " never finished (its run died); pick another with --id");

  std::vector<const RepositoryRecord*> selected;
  std::set<std::string> missing_storages;
  for (const auto& r : rec.repositories) {
    if (!o.filter.selects(r.relative_path, r.project_path)) continue;
    if (!find_storage(o.storages, r.storage)) {
      missing_storages.insert(r.storage);
      ++result.skipped_storage;
      continue;
    }
    selected.push_back(&r);
  }
  if (selected.empty())
    throw Error(ErrorCode::Usage, "backup " + rec.id + ": no repository to restore" +
                                      (missing_storages.empty() ? std::string(" matches the selection")
                                                                : " (its repositories are in storages not given: " +
                                                                      *missing_storages.begin() + ")"));

  Progress progress("restore", selected.size(), o.progress_out, o.output);
  RepositoryRestoreOptions repo_options;
  repo_options.index_threads = o.index_threads;
  for (const RepositoryRecord* r : selected) {
    auto t0 = std::chrono::steady_clock::now();
    std::string status = "ok", error;
    std::uint64_t bytes = 0;
    try {
      bytes = restore_repository(*r, sink, *find_storage(o.storages, r->storage), repo_options);
      ++result.restored;
      if (r->status == "empty") status = "empty";
    } catch (const std::exception& e) {
      status = "failed";
      error = e.what();
      result.failures.push_back({r->storage, r->relative_path, r->project_path, error});
    }
    result.bytes += bytes;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress.item_done(r->storage, r->relative_path, status, bytes, secs, error);
  }
  progress.finish();
  result.exit_code = result.failures.empty() ? 0 : 1;

  double secs = progress.elapsed_seconds();
  if (o.output == OutputMode::Json) {
    nlohmann::json j = {{"event", "summary"}, {"command", "restore"}, {"id", rec.id},
                        {"restored", result.restored}, {"failed", result.failures.size()},
                        {"skipped_storage", result.skipped_storage}, {"bytes", result.bytes},
                        {"duration_seconds", secs}};
    std::fprintf(o.summary_out, "%s\n", j.dump().c_str());
  } else {
    std::fprintf(o.summary_out, "restore of backup %s: %zu restored and verified, %zu failed\n", rec.id.c_str(),
                 result.restored, result.failures.size());
    std::fprintf(o.summary_out, "  read: %s in %s\n", human_bytes(result.bytes).c_str(), human_duration(secs).c_str());
    for (const auto& s : missing_storages)
      std::fprintf(o.summary_out, "  not restored: repositories of storage '%s' (no --storage %s=DIR given)\n",
                   s.c_str(), s.c_str());
  }
  print_failures(o.summary_out, result.failures);
  return result;
}

}  // namespace gitvault
