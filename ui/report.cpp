#include "ui/report.h"

#include <map>

#include "destination/as_of_sink.h"

#include <algorithm>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "ui/json_line.h"

#include "base/encoding.h"

namespace gitvault {
namespace {

void print_json(std::FILE* out, const nlohmann::json& j) { print_json_line(out, j); }

void print_problem(std::FILE* out, const VerifyProblem& p) {
  std::string where = p.storage.empty() ? "" : " " + p.storage + " " + p.relative_path;
  std::fprintf(out, " - %s: %s\n", printable(p.backup_id + where).c_str(),
               printable((p.file.empty() ? "" : p.file + ": ") + p.what).c_str());
}

// Whether a backup can be restored on its own, for `gitvault backups`.
std::string restorable(const BackupSummary& b) {
  if (b.status == BackupStatus::Running) return "no (never finished)";
  if (b.status == BackupStatus::Incomplete) return "the hosts that finished: their ok repositories";
  if (b.status != BackupStatus::Complete) return "only its ok repositories";
  if (b.standalone()) return "on its own";
  std::string s = "with the files of";
  if (b.needs.size() > 5) {  // a month of 15-minute backups: hundreds of them, said in one line
    s += " " + std::to_string(b.needs.size()) + " earlier backups, " + b.needs.front() + " to " + b.needs.back();
  } else {
    for (const auto& n : b.needs) s += " " + n;
  }
  if (!b.needs_pruned.empty()) s += " (pruned backups' files kept)";
  return s;
}

// Who wrote a backup, as `backups` shows it.
const char* written_by(const BackupSummary& b) { return b.from_gitaly_backup ? "gitaly-backup" : "gitvault"; }

}  // namespace

void report_backup(std::FILE* out, OutputMode mode, const BackupRunResult& r) {
  const BackupRecord& rec = r.record;
  const std::size_t ok = rec.count(ItemStatus::Ok), empty = rec.count(ItemStatus::Empty),
                    skipped = rec.count(ItemStatus::Skipped), failed = rec.count(ItemStatus::Failed),
                    not_attempted = rec.count(ItemStatus::NotAttempted);
  const std::size_t pipeline = rec.count(Engine::Pipeline), legacy = rec.count(Engine::Legacy);
  if (mode == OutputMode::Json) {
    nlohmann::json j = {{"event", "summary"}, {"command", "backup"}, {"id", rec.id}, {"status", to_string(rec.status)},
                        {"repositories", rec.repositories.size()}, {"ok", ok}, {"empty", empty}, {"skipped", skipped},
                        {"failed", failed}, {"not_attempted", not_attempted}, {"pipeline", pipeline}, {"legacy", legacy}, {"bytes", rec.total_bytes()},
                        {"duration_seconds", r.seconds}, {"peak_rss_kib", r.peak_rss_kib},
                        {"worker_peak_rss_kib", r.worker_peak_rss_kib}};
    if (!rec.hosts.empty()) j["host"] = rec.host;
    if (r.whole) j["whole_status"] = to_string(r.whole->status);  // a backup of several hosts, all parts read
    print_json(out, j);
  } else {
    if (rec.hosts.empty())
      std::fprintf(out, "backup %s: %s\n", rec.id.c_str(), to_string(rec.status));
    else
      std::fprintf(out, "backup %s, part of host %s: %s\n", rec.id.c_str(), rec.host.c_str(), to_string(rec.status));
    std::fprintf(out, "  repositories: %zu (%zu ok, %zu empty, %zu failed)\n", rec.repositories.size(), ok, empty,
                 failed);
    if (skipped) std::fprintf(out, "  skipped: %zu (gone since discovery)\n", skipped);
    if (not_attempted) std::fprintf(out, "  not attempted: %zu (the run stopped; below)\n", not_attempted);
    std::fprintf(out, "  paths: %zu pipeline, %zu legacy\n", pipeline, legacy);
    std::fprintf(out, "  written: %s in %s\n", human_bytes(rec.total_bytes()).c_str(), human_duration(r.seconds).c_str());
    if (r.whole) {
      std::string hosts;
      for (const auto& h : r.whole->parts)
        hosts += (hosts.empty() ? "" : ", ") + h.host + " " +
                 h.status_word();
      std::fprintf(out, "  backup %s as a whole: %s (hosts: %s)\n", rec.id.c_str(), to_string(r.whole->status),
                   hosts.c_str());
    }
  }
  print_failures(out, r.failures);
  std::fflush(out);
}

void report_reading_as_of(std::FILE* err, const Sink& sink) {
  const auto* as_of = dynamic_cast<const AsOfSink*>(&sink);
  if (!as_of) return;
  const auto& newer = as_of->passed_over();
  std::fprintf(err, "reading %s: %zu object%s changed or removed since then, not read%s", sink.describe("").c_str(),
               newer.size(), newer.size() == 1 ? "" : "s", newer.empty() ? "" : " (");
  for (std::size_t i = 0; i < newer.size() && i < 5; ++i)
    std::fprintf(err, "%s%s", i ? ", " : "", printable(newer[i]).c_str());
  if (newer.size() > 5) std::fprintf(err, ", …");
  std::fprintf(err, "%s\n", newer.empty() ? "" : ")");
  std::fflush(err);
}

void report_restore(std::FILE* out, OutputMode mode, const RestoreRunResult& result) {
  if (mode == OutputMode::Json) {
    for (const auto& f : result.from_older)
      print_json(out, {{"event", "from_older_backup"}, {"storage", f.storage}, {"relative_path", f.relative_path},
                       {"id", f.id}, {"moment", format_rfc3339(f.moment)}});
    print_json(out, {{"event", "summary"}, {"command", "restore"}, {"id", result.id},
                     {"moment", format_rfc3339(result.moment)},
                     {"at", result.at ? nlohmann::json(format_rfc3339(*result.at)) : nlohmann::json(nullptr)},
                     {"from_older_backups", result.from_older.size()}, {"restored", result.restored},
                     {"failed", result.failures.size()}, {"skipped_storage", result.skipped_storage},
                     {"written_by", result.from_gitaly_backup ? "gitaly-backup" : "gitvault"},
                     {"verified_by_git_alone", result.verified_by_git_alone},
                     {"pool_linked", result.pool_linked}, {"pool_pulled_in", result.pool_pulled_in},
                     {"peak_rss_kib", result.peak_rss_kib}, {"worker_peak_rss_kib", result.worker_peak_rss_kib},
                     {"bytes", result.bytes}, {"duration_seconds", result.seconds}});
  } else {
    if (result.at)
      std::fprintf(out, "restore as of %s: backup %s (of %s)\n", format_rfc3339(*result.at).c_str(), result.id.c_str(),
                   format_rfc3339(result.moment).c_str());
    for (const auto& f : result.from_older)
      std::fprintf(out, "  %s/%s comes from backup %s (of %s): the newer one did not back it up\n",
                   printable(f.storage).c_str(), printable(f.relative_path).c_str(), f.id.c_str(),
                   format_rfc3339(f.moment).c_str());
    std::fprintf(out, "restore of backup %s: %zu restored and verified, %zu failed\n", result.id.c_str(),
                 result.restored, result.failures.size());
    std::fprintf(out, "  paths: %zu pipeline, %zu legacy\n", result.via_pipeline, result.via_legacy);
    if (result.from_gitaly_backup)
      std::fprintf(out,
                   "  written by gitaly-backup: its %zu repositories were verified by git alone (index-pack hashing "
                   "every object, refs against its .refs files, connectivity); it recorded no checksums\n",
                   result.verified_by_git_alone);
    if (result.pool_linked + result.pool_pulled_in > 0)
      std::fprintf(out, "  fork networks: %zu linked to the pool this restore brought back, %zu self-contained (their "
                        "pool was not restored by this run: its objects were pulled in)\n",
                   result.pool_linked, result.pool_pulled_in);
    std::fprintf(out, "  read: %s in %s\n", human_bytes(result.bytes).c_str(), human_duration(result.seconds).c_str());
    for (const auto& s : result.missing_storages) {
      auto host = result.host_of_storage.find(s);
      if (host != result.host_of_storage.end())
        std::fprintf(out, "  not restored: repositories of storage '%s' (backed up by host %s: restore them there)\n",
                     s.c_str(), host->second.c_str());
      else
        std::fprintf(out, "  not restored: repositories of storage '%s' (no --storage %s=DIR given)\n", s.c_str(),
                     s.c_str());
    }
  }
  print_failures(out, result.failures);
  std::fflush(out);
}

namespace {

void report_drill_json(std::FILE* out, const DrillResult& result) {
  for (const auto& d : result.repositories)
    print_json(out, {{"event", "drilled"}, {"storage", d.storage}, {"relative_path", d.relative_path},
                     {"project_path", d.project_path}, {"why", d.why}, {"size", d.size},
                     {"status", d.ok() ? "ok" : "failed"}, {"problems", d.problems}});
  print_json(out, {{"event", "summary"}, {"command", "drill"}, {"id", result.id},
                   {"drilled", result.repositories.size()}, {"failed", result.failed},
                   {"candidates", result.candidates}, {"drilled_ever", result.drilled_ever},
                   {"bytes", result.bytes}, {"restore_seconds", result.restore_seconds},
                   {"bytes_per_second", result.bytes_per_second},
                   {"repositories_per_second", result.repositories_per_second},
                   {"estimated_full_restore_seconds", result.estimated_full_restore_seconds},
                   {"problems", result.problems}, {"duration_seconds", result.seconds}});
}

}  // namespace

void report_drill(std::FILE* out, OutputMode mode, const DrillResult& result) {
  if (mode == OutputMode::Json) {
    report_drill_json(out, result);
    std::fflush(out);
    return;
  }
  for (const auto& n : result.notes) std::fprintf(out, "note: %s\n", printable(n).c_str());
  for (const auto& d : result.repositories) {
    std::fprintf(out, "%-6s %s/%s (%s, %s)\n", d.ok() ? "ok" : "FAILED", printable(d.storage).c_str(),
                 printable(d.relative_path).c_str(), d.why.c_str(), human_bytes(d.size).c_str());
    for (const auto& p : d.problems) std::fprintf(out, "         %s\n", printable(p).c_str());
  }
  std::fprintf(out, "drill of backup %s (finished %s): %zu of %zu repositories restored into scratch space and "
                    "proven, %zu did not come back\n",
               result.id.c_str(), result.backup_finished_at.c_str(), result.repositories.size(), result.candidates,
               result.failed);
  std::fprintf(out, "  paths: %zu pipeline, %zu legacy; restore read %s in %s (%s/s, %.1f repositories/s)\n",
               result.via_pipeline, result.via_legacy, human_bytes(result.bytes).c_str(),
               human_duration(result.restore_seconds).c_str(),
               human_bytes(static_cast<std::uint64_t>(result.bytes_per_second)).c_str(), result.repositories_per_second);
  std::fprintf(out, "  estimate: a whole restore of the %zu repositories (%s) would take about %s at this drill's rate "
                    "(objects re-hashed, as here)\n",
               result.candidates, human_bytes(result.candidate_bytes).c_str(),
               human_duration(result.estimated_full_restore_seconds).c_str());
  std::fprintf(out, "  coverage: %zu of %zu repositories have been drilled at least once\n", result.drilled_ever,
               result.candidates);
  for (const auto& p : result.problems) std::fprintf(out, "problem: %s\n", printable(p).c_str());
  if (result.failed > 0) {
    std::fprintf(out, "did not come back:");
    for (const auto& d : result.repositories)
      if (!d.ok()) std::fprintf(out, " %s/%s", printable(d.storage).c_str(), printable(d.relative_path).c_str());
    std::fprintf(out, "\n");
  }
  std::fflush(out);
}

namespace {

std::string utc_of(std::int64_t t) { return t > 0 ? format_rfc3339(t) : "never"; }

nlohmann::json rotation_json(const VerifyResult& result) {
  if (!result.rotation) return nullptr;
  const RotationStatus& r = *result.rotation;
  nlohmann::json proven = nlohmann::json::object();
  for (const auto& [id, t] : r.backup_proven_at) proven[id] = t > 0 ? nlohmann::json(utc_of(t)) : nlohmann::json(nullptr);
  return {{"cycle", r.cycle}, {"total_bytes", r.total_bytes}, {"proven_in_cycle_bytes", r.proven_in_cycle},
          {"planned_bytes", r.planned_bytes}, {"proven_this_run_bytes", r.proven_this_run},
          {"units_left", r.units_left}, {"cycle_completed", r.cycle_completed}, {"not_reached", result.not_reached},
          {"oldest_unproven_seconds", r.oldest_unproven_seconds}, {"backup_last_fully_proven", proven}};
}

void report_rotation(std::FILE* out, const VerifyResult& result) {
  const RotationStatus& r = *result.rotation;
  std::fprintf(out, "  rotation: cycle %lld, %s of %s proven in it (%s by this run)%s\n", static_cast<long long>(r.cycle),
               human_bytes(r.proven_in_cycle).c_str(), human_bytes(r.total_bytes).c_str(),
               human_bytes(r.proven_this_run).c_str(),
               r.cycle_completed ? "; cycle complete: every file of every kept backup proven, the next run starts "
                                   "the next cycle"
                                 : ("; " + std::to_string(r.units_left) + " repositories of backups left").c_str());
  if (result.not_reached > 0)
    std::fprintf(out, "  time budget: %zu repositories left for the next run\n", result.not_reached);
  std::fprintf(out, "  oldest proof: %s ago (a byte proven longest ago, or never proven since written)\n",
               human_duration(static_cast<double>(r.oldest_unproven_seconds)).c_str());
  std::size_t shown = 0;
  for (auto it = r.backup_proven_at.rbegin(); it != r.backup_proven_at.rend() && shown < 20; ++it, ++shown)
    std::fprintf(out, "  backup %s last fully proven: %s\n", it->first.c_str(), utc_of(it->second).c_str());
  if (r.backup_proven_at.size() > shown)
    std::fprintf(out, "  (%zu older backups: `gitvault backups` lists each)\n", r.backup_proven_at.size() - shown);
}

}  // namespace

void report_verify(std::FILE* out, OutputMode mode, const VerifyResult& result) {
  std::string ids;
  for (const auto& id : result.ids) ids += (ids.empty() ? "" : ", ") + id;
  if (mode == OutputMode::Json) {
    for (const auto& p : result.problems)
      print_json(out, {{"event", "problem"}, {"backup_id", p.backup_id}, {"storage", p.storage},
                       {"relative_path", p.relative_path}, {"file", p.file}, {"what", p.what}});
    print_json(out, {{"event", "summary"}, {"command", "verify"}, {"deep", result.deep}, {"ids", result.ids},
                     {"repositories", result.repositories}, {"bytes", result.bytes},
                     {"problems", result.problems.size()}, {"without_checksums", result.without_checksums},
                     {"duration_seconds", result.seconds}, {"rotation", rotation_json(result)}});
  } else {
    if (result.rotation && result.ids.size() > 3) ids = std::to_string(result.ids.size()) + " kept backups";
    std::fprintf(out, "verify%s of backup %s: %zu repositories, %s checked in %s: %s\n", result.deep ? " --deep" : "",
                 ids.c_str(), result.repositories, human_bytes(result.bytes).c_str(),
                 human_duration(result.seconds).c_str(),
                 result.problems.empty() ? "no problem" : (std::to_string(result.problems.size()) + " problems").c_str());
    if (result.without_checksums > 0)
      std::fprintf(out,
                   "  %zu repositories from gitaly-backup's own backups: it recorded no checksums, so %s\n",
                   result.without_checksums,
                   result.deep ? "they were verified by git alone (index-pack hashing every object, refs, connectivity)"
                               : "only their files' presence and chains were checked (--deep verifies them with git)");
    if (result.rotation) report_rotation(out, result);
    for (const auto& n : result.notes) std::fprintf(out, "note: %s\n", printable(n).c_str());
    if (!result.problems.empty()) {
      std::fprintf(out, "%zu problems found:\n", result.problems.size());
      for (const auto& p : result.problems) print_problem(out, p);
    }
  }
  std::fflush(out);
}

void report_backups(std::FILE* out, OutputMode mode, const std::vector<BackupSummary>& list, const std::string& where) {
  if (mode == OutputMode::Json) {
    for (const auto& b : list) {
      nlohmann::json j = {{"id", b.id}, {"status", to_string(b.status)}, {"started_at", b.started_at},
                          {"finished_at", b.finished_at}, {"repositories", b.repositories}, {"failed", b.failed},
                          {"pipeline", b.pipeline}, {"legacy", b.legacy}, {"full", b.full},
                          {"incremental", b.incremental}, {"unchanged", b.unchanged}, {"bytes", b.bytes},
                          {"standalone", b.standalone()}, {"needs", b.needs}, {"needs_pruned", b.needs_pruned},
                          {"written_by", written_by(b)},
                          {"last_fully_proven", b.proven_at > 0 ? nlohmann::json(format_rfc3339(b.proven_at))
                                                                : nlohmann::json(nullptr)}};
      if (!b.sealed_for.empty()) j["sealed_for"] = b.sealed_for;
      if (!b.hosts.empty()) {
        j["hosts"] = nlohmann::json::array();
        for (const auto& h : b.hosts)
          j["hosts"].push_back({{"host", h.host}, {"status", h.status_word()},
                                {"started_at", h.started_at}, {"finished_at", h.finished_at},
                                {"repositories", h.repositories}});
      }
      print_json(out, j);
    }
    std::fflush(out);
    return;
  }
  if (list.empty()) {
    std::fprintf(out, "no backups in %s\n", printable(where).c_str());
    std::fflush(out);
    return;
  }
  std::fprintf(out, "%-20s %-10s %-24s %6s %6s %15s %13s %10s %-20s  %s\n", "ID", "STATUS", "STARTED", "REPOS",
               "FAILED", "PIPELINE/LEGACY", "FULL/INC/SAME", "WRITTEN", "PROVEN", "RESTORABLE");
  for (const auto& b : list) {
    // gitaly-backup's own backups: no paths of gitvault's, sizes unrecorded.
    std::string paths = b.from_gitaly_backup ? "gitaly-backup"
                                             : std::to_string(b.pipeline) + "/" + std::to_string(b.legacy);
    std::string kinds = std::to_string(b.full) + "/" + std::to_string(b.incremental) + "/" + std::to_string(b.unchanged);
    std::string proven = b.proven_at > 0 ? format_rfc3339(b.proven_at) : "-";
    std::fprintf(out, "%-20s %-10s %-24s %6zu %6zu %15s %13s %10s %-20s  %s\n", b.id.c_str(), to_string(b.status),
                 b.started_at.c_str(), b.repositories, b.failed, paths.c_str(), kinds.c_str(),
                 human_bytes(b.bytes).c_str(), proven.c_str(), restorable(b).c_str());
    for (const auto& h : b.hosts)  // a backup of several hosts: each host's part
      std::fprintf(out, "  host %-14s %-10s %-24s %6zu\n", h.host.c_str(),
                   h.status_word(), h.started_at.c_str(),
                   h.repositories);
  }
  // A sealed destination: whom the backups were sealed for, one line per set of recipients
  // (a change of recipients applies to the backups after it).
  std::map<std::vector<std::string>, std::vector<std::string>> sealed;  // recipients -> ids, newest first
  for (const auto& b : list)
    if (!b.sealed_for.empty()) sealed[b.sealed_for].push_back(b.id);
  for (const auto& [recipients, ids] : sealed) {
    std::string who;
    for (const auto& r : recipients) who += (who.empty() ? "" : ", ") + r;
    std::fprintf(out, "sealed for %s: %zu backup(s), %s%s%s\n", who.c_str(), ids.size(), ids.back().c_str(),
                 ids.size() > 1 ? " … " : "", ids.size() > 1 ? ids.front().c_str() : "");
  }
  std::fflush(out);
}

void report_moment(std::FILE* out, OutputMode mode, std::int64_t at, const MomentSelection& sel) {
  const BackupRecord& b = sel.backups[0];
  const std::vector<OlderSource> older = older_sources(sel);
  if (mode == OutputMode::Json) {
    for (const auto& f : older)
      print_json(out, {{"event", "from_older_backup"}, {"storage", f.storage}, {"relative_path", f.relative_path},
                       {"id", f.id}, {"moment", format_rfc3339(f.moment)}});
    print_json(out, {{"event", "at"}, {"at", format_rfc3339(at)}, {"id", b.id},
                     {"moment", format_rfc3339(backup_time(b.id, b.started_at))}, {"status", to_string(b.status)},
                     {"repositories", sel.chosen.size()}, {"from_older_backups", older.size()}});
    std::fflush(out);
    return;
  }
  std::fprintf(out, "a restore as of %s takes backup %s (of %s, %s): %zu repositories, %zu of them from older "
                    "backups\n",
               format_rfc3339(at).c_str(), b.id.c_str(), format_rfc3339(backup_time(b.id, b.started_at)).c_str(),
               to_string(b.status), sel.chosen.size(), older.size());
  for (const auto& f : older)
    std::fprintf(out, "  %s/%s from backup %s (of %s)\n", printable(f.storage).c_str(), printable(f.relative_path).c_str(),
                 f.id.c_str(), format_rfc3339(f.moment).c_str());
  std::fflush(out);
}

namespace {
// Removed backups whose objects Object Lock still keeps: how many, and the dates.
void report_locked_until(std::FILE* out, const PrunePlan& plan) {
  if (plan.locked_until.empty()) return;
  std::int64_t first = INT64_MAX, last = 0;
  for (const auto& [id, until] : plan.locked_until) {
    first = std::min(first, until);
    last = std::max(last, until);
  }
  std::fprintf(out, "%zu removed backup%s stay%s locked by Object Lock until %s%s%s: their storage is freed by a prune "
                    "after that\n",
               plan.locked_until.size(), plan.locked_until.size() == 1 ? "" : "s",
               plan.locked_until.size() == 1 ? "s" : "", format_rfc3339(first).c_str(),
               first == last ? "" : " … ", first == last ? "" : format_rfc3339(last).c_str());
}
}  // namespace

void report_prune(std::FILE* out, OutputMode mode, const PrunePlan& plan, bool dry_run) {
  if (mode == OutputMode::Json) {
    for (const auto& id : plan.keep)
      print_json(out, {{"event", "kept"}, {"id", id}, {"reasons", plan.reasons.count(id) ? plan.reasons.at(id)
                                                                                         : std::vector<std::string>{}}});
    nlohmann::json locked = nlohmann::json::object();
    for (const auto& [id, until] : plan.locked_until) locked[id] = format_rfc3339(until);
    for (const auto& id : plan.remove) {
      nlohmann::json e{{"event", dry_run ? "would_remove" : "removed"}, {"id", id}};
      if (auto it = plan.locked_until.find(id); it != plan.locked_until.end()) e["locked_until"] = format_rfc3339(it->second);
      print_json(out, e);
    }
    print_json(out, {{"event", "summary"}, {"command", "prune"}, {"dry_run", dry_run}, {"policy", plan.policy},
                     {"keep", plan.keep},
                     {"remove", plan.remove}, {"files", plan.files.size()}, {"bytes", plan.bytes},
                     {"unreferenced_files", plan.unreferenced}, {"unfinished_writes", plan.unfinished_writes},
                     {"old_versions_removed", plan.old_versions.removed},
                     {"old_versions_locked", plan.old_versions.locked},
                     {"old_versions_locked_bytes", plan.old_versions.locked_bytes},
                     {"locked_until", locked},
                     {"resumed", plan.resumed}, {"notes", plan.notes}});
    std::fflush(out);
    return;
  }
  if (plan.resumed) std::fprintf(out, "finished an interrupted prune first\n");
  const char* verb = dry_run ? "would remove" : "removed";
  if (!plan.policy.empty()) std::fprintf(out, "policy: %s (local time)\n", plan.policy.c_str());
  for (const auto& id : plan.keep) {
    std::string why;
    if (auto it = plan.reasons.find(id); it != plan.reasons.end())
      for (const auto& r : it->second) why += (why.empty() ? "" : ", ") + r;
    std::fprintf(out, "keep backup %s (%s)\n", id.c_str(), why.empty() ? "a kept backup needs it" : why.c_str());
  }
  for (const auto& id : plan.remove) {
    std::string locked;
    if (auto it = plan.locked_until.find(id); it != plan.locked_until.end())
      locked = " (Object Lock keeps its objects until " + format_rfc3339(it->second) + ")";
    std::fprintf(out, "%s backup %s%s\n", verb, id.c_str(), locked.c_str());
  }
  std::fprintf(out, "prune%s: %zu backups kept, %zu %s; %zu files (%s) %s", dry_run ? " --dry-run" : "",
               plan.keep.size(), plan.remove.size(), dry_run ? "to remove" : "removed", plan.files.size(),
               human_bytes(plan.bytes).c_str(), verb);
  if (plan.unreferenced)
    std::fprintf(out, ", of which %zu named by no backup (killed runs, failed repositories)", plan.unreferenced);
  std::fprintf(out, "\n");
  if (plan.unfinished_writes)
    std::fprintf(out, "removed %zu unfinished writes of killed runs (multipart uploads, temporary files)\n",
                 plan.unfinished_writes);
  if (plan.old_versions.removed)
    std::fprintf(out, "removed %zu old versions of removed objects whose Object Lock had ended\n",
                 plan.old_versions.removed);
  if (plan.old_versions.locked)
    std::fprintf(out, "%zu old versions of removed objects (%s) %s: Object Lock keeps them until their dates pass\n",
                 plan.old_versions.locked, human_bytes(plan.old_versions.locked_bytes).c_str(),
                 dry_run ? "would be tried" : "stay");
  report_locked_until(out, plan);
  std::fflush(out);
}

void report_config_check(std::FILE* out, OutputMode mode, const std::string& file,
                         const std::vector<ConfigProblem>& problems) {
  if (mode == OutputMode::Json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& p : problems) list.push_back({{"line", p.line}, {"problem", p.what}});
    print_json(out, {{"event", "summary"}, {"command", "config check"}, {"file", file}, {"ok", problems.empty()},
                     {"problems", list}});
  } else if (problems.empty()) {
    std::fprintf(out, "%s: ok\n", printable(file).c_str());
  } else {
    for (const auto& p : problems)
      std::fprintf(out, "%s:%s %s\n", printable(file).c_str(), p.line ? (std::to_string(p.line) + ":").c_str() : "",
                   printable(p.what).c_str());
    std::fprintf(out, "%zu problem%s in %s\n", problems.size(), problems.size() == 1 ? "" : "s",
                 printable(file).c_str());
  }
  std::fflush(out);
}

}  // namespace gitvault
