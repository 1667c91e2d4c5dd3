// What a run leaves for monitoring: a Prometheus textfile-collector file (node_exporter's
// --collector.textfile.directory reads *.prom), written when --metrics-file or
// [metrics] textfile names one. docs/metrics.md lists every metric.
//
// One file serves every command: a command replaces its own metric families and keeps the
// others' (so verify does not erase what backup wrote), under a lock, written to a temporary
// file and renamed (a scraper never reads half a file). The last-success timestamp of a
// command is only written when it succeeded: after a failed run the previous one stays, which
// is what an alert on "no success for 26 h" needs.
#pragma once

#include <string>
#include <vector>

#include "run/backups_run.h"
#include "run/prune_run.h"
#include "flags/feature_flags.h"
#include "restore/verify.h"
#include "run/backup_run.h"
#include "run/drill_run.h"
#include "run/restore_run.h"

namespace gitvault {

struct MetricSample {
  std::string labels;  // "" or {name="value",...} with the braces
  double value = 0;
};

struct MetricFamily {
  std::string name;
  std::string type;  // "gauge", "counter"
  std::string help;
  std::vector<MetricSample> samples;
};

// What every command reports: gitvault_<command>_last_run_timestamp_seconds,
// _last_exit_code, _duration_seconds, and _last_success_timestamp_seconds when exit_code is 0;
// then `extra`.
std::vector<MetricFamily> command_metrics(const std::string& command, int exit_code, double duration_seconds,
                                          std::vector<MetricFamily> extra = {});

// The families each run's result gives (added to command_metrics' by the caller).
std::vector<MetricFamily> backup_metrics(const BackupRunResult& r);
std::vector<MetricFamily> restore_metrics(const RestoreRunResult& r);
std::vector<MetricFamily> verify_metrics(const VerifyResult& r);
std::vector<MetricFamily> drill_metrics(const DrillResult& r);
std::vector<MetricFamily> prune_metrics(const PrunePlan& plan);
std::vector<MetricFamily> backups_metrics(const std::vector<BackupSummary>& list);
// gitvault_feature_enabled{name} and gitvault_feature_default_enabled{name} of these flags
// (a backup's, or `gitvault feature` after a change).
std::vector<MetricFamily> feature_metrics(const std::vector<flags::RecordedFlag>& flags);

// Replaces `families` in the file at `path` (creating it), keeping every other family there.
// Throws Error(Io) naming the file.
void update_metrics_file(const std::string& path, const std::vector<MetricFamily>& families);

// The text of families in the exposition format (HELP, TYPE, samples).
std::string metrics_text(const std::vector<MetricFamily>& families);

// A label value escaped for the exposition format (backslash, quote, newline).
std::string metric_label_value(const std::string& value);

}  // namespace gitvault
