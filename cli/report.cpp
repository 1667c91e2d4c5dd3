#include "cli/report.h"

#include <nlohmann/json.hpp>

#include "gitaly/encoding.h"

namespace gitvault {
namespace {

std::size_t count_engine(const BackupRecord& rec, const std::string& engine) {
  std::size_t n = 0;
  for (const auto& r : rec.repositories) n += r.engine == engine;
  return n;
}

void print_problem(std::FILE* out, const VerifyProblem& p) {
  std::string where = p.storage.empty() ? "" : " " + p.storage + " " + p.relative_path;
  std::fprintf(out, " - %s: %s\n", printable(p.backup_id + where).c_str(),
               printable((p.file.empty() ? "" : p.file + ": ") + p.what).c_str());
}

}  // namespace

void report_backup(std::FILE* out, OutputMode mode, const BackupRunResult& r) {
  const double seconds = r.seconds;
  const BackupRecord& rec = r.record;
  if (mode == OutputMode::Json) {
    nlohmann::json j = {{"event", "summary"}, {"command", "backup"}, {"id", rec.id}, {"status", rec.status},
                        {"repositories", rec.repositories.size()}, {"ok", rec.count("ok")},
                        {"empty", rec.count("empty")}, {"skipped", rec.count("skipped")},
                        {"failed", rec.count("failed")}, {"pipeline", count_engine(rec, "pipeline")},
                        {"legacy", count_engine(rec, "legacy")}, {"bytes", rec.total_bytes()},
                        {"duration_seconds", seconds}, {"peak_rss_kib", r.peak_rss_kib},
                        {"worker_peak_rss_kib", r.worker_peak_rss_kib}};
    std::fprintf(out, "%s\n", to_json_text(j).c_str());
  } else {
    std::fprintf(out, "backup %s: %s\n", rec.id.c_str(), rec.status.c_str());
    std::fprintf(out, "  repositories: %zu (%zu ok, %zu empty, %zu failed)\n", rec.repositories.size(),
                 rec.count("ok"), rec.count("empty"), rec.count("failed"));
    if (rec.count("skipped"))
      std::fprintf(out, "  skipped: %zu (gone since discovery)\n", rec.count("skipped"));
    std::fprintf(out, "  paths: %zu pipeline, %zu legacy\n", count_engine(rec, "pipeline"),
                 count_engine(rec, "legacy"));
    std::fprintf(out, "  written: %s in %s\n", human_bytes(rec.total_bytes()).c_str(),
                 human_duration(seconds).c_str());
  }
  print_failures(out, r.failures);
  std::fflush(out);
}


void report_restore(std::FILE* out, OutputMode mode, const RestoreRunResult& result) {
  const double secs = result.seconds;
  if (mode == OutputMode::Json) {
    nlohmann::json j = {{"event", "summary"}, {"command", "restore"}, {"id", result.id},
                        {"restored", result.restored}, {"failed", result.failures.size()},
                        {"skipped_storage", result.skipped_storage}, {"bytes", result.bytes},
                        {"duration_seconds", secs}};
    std::fprintf(out, "%s\n", to_json_text(j).c_str());
  } else {
    std::fprintf(out, "restore of backup %s: %zu restored and verified, %zu failed\n", result.id.c_str(),
                 result.restored, result.failures.size());
    std::fprintf(out, "  paths: %zu pipeline, %zu legacy\n", result.via_pipeline, result.via_legacy);
    std::fprintf(out, "  read: %s in %s\n", human_bytes(result.bytes).c_str(), human_duration(secs).c_str());
    for (const auto& s : result.missing_storages)
      std::fprintf(out, "  not restored: repositories of storage '%s' (no --storage %s=DIR given)\n",
                   s.c_str(), s.c_str());
  }
  print_failures(out, result.failures);
  std::fflush(out);
}

void report_verify(std::FILE* out, OutputMode mode, const VerifyResult& result) {
  std::string ids;
  for (const auto& id : result.ids) ids += (ids.empty() ? "" : ", ") + id;
  if (mode == OutputMode::Json) {
    for (const auto& p : result.problems) {
      nlohmann::json j = {{"event", "problem"}, {"backup_id", p.backup_id}, {"storage", p.storage},
                          {"relative_path", p.relative_path}, {"file", p.file}, {"what", p.what}};
      std::fprintf(out, "%s\n", to_json_text(j).c_str());
    }
    nlohmann::json j = {{"event", "summary"}, {"command", "verify"}, {"deep", result.deep}, {"ids", result.ids},
                        {"repositories", result.repositories}, {"bytes", result.bytes},
                        {"problems", result.problems.size()}, {"duration_seconds", result.seconds}};
    std::fprintf(out, "%s\n", to_json_text(j).c_str());
  } else {
    std::fprintf(out, "verify%s of backup %s: %zu repositories, %s checked in %s: %s\n",
                 result.deep ? " --deep" : "", ids.c_str(), result.repositories, human_bytes(result.bytes).c_str(),
                 human_duration(result.seconds).c_str(),
                 result.problems.empty() ? "no problem" : (std::to_string(result.problems.size()) + " problems").c_str());
    if (!result.problems.empty()) {
      std::fprintf(out, "%zu problems found:\n", result.problems.size());
      for (const auto& p : result.problems) print_problem(out, p);
    }
  }
  std::fflush(out);
}

}  // namespace gitvault
