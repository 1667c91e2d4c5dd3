#include "ui/metrics.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "base/error.h"
#include "base/files.h"
#include "base/system.h"
#include "flags/definition.h"

namespace gitvault {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

MetricFamily gauge(std::string name, std::string help, double value) {
  return {std::move(name), "gauge", std::move(help), {{"", value}}};
}

MetricFamily labelled(std::string name, std::string help, const std::string& label,
                      const std::vector<std::pair<std::string, double>>& values) {
  MetricFamily f{std::move(name), "gauge", std::move(help), {}};
  for (const auto& [v, n] : values) f.samples.push_back({"{" + label + "=\"" + metric_label_value(v) + "\"}", n});
  return f;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

// The family a line of the exposition format belongs to ("" for a line of none).
std::string family_of_line(const std::string& line) {
  if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
    std::string rest = line.substr(7);
    return rest.substr(0, rest.find(' '));
  }
  if (line.empty() || line[0] == '#') return "";
  return line.substr(0, line.find_first_of("{ "));
}

}  // namespace

std::string metric_label_value(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::vector<MetricFamily> command_metrics(const std::string& command, int exit_code, double duration_seconds,
                                          std::vector<MetricFamily> extra) {
  const std::string p = "gitvault_" + command + "_";
  const double now = now_seconds();
  std::vector<MetricFamily> out;
  out.push_back(gauge(p + "last_run_timestamp_seconds", "When the last " + command + " ended (Unix time)", now));
  if (exit_code == 0)
    out.push_back(gauge(p + "last_success_timestamp_seconds",
                        "When the last successful " + command + " ended (Unix time); kept when a run fails", now));
  out.push_back(gauge(p + "last_exit_code", "Exit code of the last " + command + " (0 ok, 1 some failed, 2 not attempted)",
                      exit_code));
  out.push_back(gauge(p + "duration_seconds", "How long the last " + command + " took", duration_seconds));
  for (auto& f : extra) out.push_back(std::move(f));
  return out;
}

std::vector<MetricFamily> backup_metrics(const BackupRunResult& r) {
  const BackupRecord& rec = r.record;
  std::vector<MetricFamily> out;
  out.push_back(labelled("gitvault_backup_repositories", "Repositories of the last backup by outcome", "status",
                         {{"ok", static_cast<double>(rec.count(ItemStatus::Ok))},
                          {"empty", static_cast<double>(rec.count(ItemStatus::Empty))},
                          {"failed", static_cast<double>(rec.count(ItemStatus::Failed))},
                          {"skipped", static_cast<double>(rec.count(ItemStatus::Skipped))},
                          {"not_attempted", static_cast<double>(rec.count(ItemStatus::NotAttempted))}}));
  out.push_back(labelled("gitvault_backup_repositories_by_path", "Repositories of the last backup by the path they took",
                         "path", {{"pipeline", static_cast<double>(rec.count(Engine::Pipeline))},
                                 {"legacy", static_cast<double>(rec.count(Engine::Legacy))}}));
  out.push_back(gauge("gitvault_backup_bytes_written", "Bytes the last backup wrote", static_cast<double>(rec.total_bytes())));
  out.push_back(gauge("gitvault_backup_incremental", "1 when the last backup was --incremental", rec.incremental ? 1 : 0));
  out.push_back(gauge("gitvault_backup_peak_rss_bytes", "Peak resident memory of gitvault during the last backup",
                      static_cast<double>(r.peak_rss_kib) * 1024));
  out.push_back(gauge("gitvault_backup_worker_peak_rss_bytes",
                      "Peak resident memory of the gitaly-backup worker during the last backup (0: not started)",
                      static_cast<double>(r.worker_peak_rss_kib) * 1024));
  for (auto& f : feature_metrics(rec.flags)) out.push_back(std::move(f));
  return out;
}

std::vector<MetricFamily> feature_metrics(const std::vector<flags::RecordedFlag>& flags) {
  MetricFamily enabled{"gitvault_feature_enabled", "gauge",
                       "1 when the flag is on for every repository as last read (boolean gate, or the default when "
                       "never set)", {}};
  MetricFamily by_default{"gitvault_feature_default_enabled", "gauge", "The flag's default_enabled", {}};
  for (const auto& f : flags) {
    const flags::Definition* d = flags::builtin_registry().find(f.name);
    const bool def = d && d->default_enabled;
    const std::string l = "{name=\"" + metric_label_value(f.name) + "\"}";
    enabled.samples.push_back({l, (f.state.persisted ? f.state.boolean : def) ? 1.0 : 0.0});
    by_default.samples.push_back({l, def ? 1.0 : 0.0});
  }
  if (enabled.samples.empty()) return {};
  return {std::move(enabled), std::move(by_default)};
}

std::vector<MetricFamily> restore_metrics(const RestoreRunResult& r) {
  return {labelled("gitvault_restore_repositories", "Repositories of the last restore by outcome", "status",
                   {{"restored", static_cast<double>(r.restored)},
                    {"failed", static_cast<double>(r.failures.size())},
                    {"not_selected", static_cast<double>(r.skipped_storage)}}),
          gauge("gitvault_restore_bytes_read", "Bytes the last restore read from the backup", static_cast<double>(r.bytes))};
}

std::vector<MetricFamily> verify_metrics(const VerifyResult& r) {
  std::vector<MetricFamily> out = {
      gauge("gitvault_verify_problems", "Problems the last verify found", static_cast<double>(r.problems.size())),
      gauge("gitvault_verify_repositories", "Repositories the last verify checked", static_cast<double>(r.repositories)),
      gauge("gitvault_verify_bytes", "Bytes the last verify checked", static_cast<double>(r.bytes)),
      gauge("gitvault_verify_deep", "1 when the last verify was --deep", r.deep ? 1 : 0)};
  if (r.rotation) {  // only a run that saw every kept backup knows these
    const RotationStatus& rot = *r.rotation;
    out.push_back(gauge("gitvault_verify_oldest_unproven_seconds",
                        "Age of the least recently proven byte of the kept backups (never proven: since written)",
                        static_cast<double>(rot.oldest_unproven_seconds)));
    out.push_back(gauge("gitvault_verify_cycle_proven_ratio", "Share of the kept bytes proven in the rotation's current cycle",
                        rot.total_bytes ? static_cast<double>(rot.proven_in_cycle) / static_cast<double>(rot.total_bytes) : 1));
    out.push_back(gauge("gitvault_verify_cycle", "The rotation's current cycle (it grows by one per completed cycle)",
                        static_cast<double>(rot.cycle)));
  }
  return out;
}

std::vector<MetricFamily> drill_metrics(const DrillResult& r) {
  return {gauge("gitvault_drill_repositories", "Repositories the last drill restored into scratch space",
                static_cast<double>(r.repositories.size())),
          gauge("gitvault_drill_failures", "Repositories that did not come back in the last drill", static_cast<double>(r.failed)),
          gauge("gitvault_drill_restore_bytes_per_second", "Restore rate the last drill measured (bytes read per second)",
                r.bytes_per_second),
          gauge("gitvault_drill_restore_repositories_per_second", "Restore rate the last drill measured (repositories per second)",
                r.repositories_per_second),
          gauge("gitvault_drill_estimated_full_restore_seconds",
                "A whole restore of the drilled backup at the last drill's rate (an estimate)", r.estimated_full_restore_seconds),
          gauge("gitvault_drill_coverage_ratio", "Share of the backup's repositories a drill has ever brought back",
                r.candidates ? static_cast<double>(r.drilled_ever) / static_cast<double>(r.candidates) : 0)};
}

std::vector<MetricFamily> prune_metrics(const PrunePlan& plan) {
  return {gauge("gitvault_prune_backups_kept", "Backups the last prune kept", static_cast<double>(plan.keep.size())),
          gauge("gitvault_prune_backups_removed", "Backups the last prune removed", static_cast<double>(plan.remove.size())),
          gauge("gitvault_prune_files_removed", "Files the last prune removed", static_cast<double>(plan.files.size())),
          gauge("gitvault_prune_bytes_removed", "Bytes (as recorded) of the files the last prune removed",
                static_cast<double>(plan.bytes))};
}

std::vector<MetricFamily> backups_metrics(const std::vector<BackupSummary>& list) {
  std::map<std::string, double> by_status = {{"complete", 0}, {"partial", 0}, {"failed", 0}, {"running", 0},
                                             {"incomplete", 0}};
  double newest_complete = 0;
  for (const auto& b : list) {
    by_status[to_string(b.status)] += 1;
    if (b.status == BackupStatus::Complete) {
      std::int64_t t = parse_rfc3339(b.finished_at);
      if (t > newest_complete) newest_complete = static_cast<double>(t);
    }
  }
  std::vector<std::pair<std::string, double>> v(by_status.begin(), by_status.end());
  return {labelled("gitvault_backups", "Backups in the backup directory by status", "status", v),
          gauge("gitvault_backups_newest_complete_timestamp_seconds",
                "When the newest complete backup in the directory finished (Unix time; 0: none)", newest_complete)};
}

std::string metrics_text(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const auto& f : families) {
    out += "# HELP " + f.name + " " + f.help + "\n";
    out += "# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& s : f.samples) out += f.name + s.labels + " " + format_value(s.value) + "\n";
  }
  return out;
}

void update_metrics_file(const std::string& path, const std::vector<MetricFamily>& families) {
  // One writer at a time: read, replace, rename under the lock (two commands ending at once
  // must not lose each other's families).
  // A directory that does not exist yet (a fresh node_exporter textfile directory) is created,
  // readable by the collector: a missing directory once cost every run its metrics.
  if (const auto slash = path.rfind('/'); slash != std::string::npos && slash > 0) make_dirs(path.substr(0, slash), 0755);
  const std::string lock_path = path + ".lock";
  int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (lock < 0) throw_errno("open the lock of the metrics file", lock_path, errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{lock};
  if (::flock(lock, LOCK_EX) != 0) throw_errno("lock the metrics file", lock_path, errno);
  std::vector<std::string> order;
  std::map<std::string, std::string> text;
  std::string existing;
  if (path_exists(path)) existing = read_file(path);
  std::istringstream in(existing);
  for (std::string line; std::getline(in, line);) {
    std::string family = family_of_line(line);
    if (family.empty()) continue;
    if (!text.count(family)) order.push_back(family);
    text[family] += line + "\n";
  }
  for (const auto& f : families) {
    if (!text.count(f.name)) order.push_back(f.name);
    text[f.name] = metrics_text({f});
  }
  std::string out;
  for (const auto& name : order) out += text[name];
  write_file_atomic(path, out, 0644);
}

}  // namespace gitvault
