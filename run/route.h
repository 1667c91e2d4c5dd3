// The route of a repository: the one place where the gitaly_backup flag decides which
// engine backs up or restores a repository, and in which layout. Backup and restore both
// ask a Router; nothing else reads the flag.
//
//   gitaly_backup on  -> Engine::Pipeline (the gitaly-backup worker), Layout::Manifest
//   gitaly_backup off -> Engine::Legacy (in-process, one at a time),  Layout::Legacy
//
// Either engine restores either layout (the layout a backup was written in is in its record).
#pragma once

#include <string>
#include <vector>

#include "backup/record.h"
#include "destination/sink.h"
#include "flags/feature_flags.h"

namespace gitvault {

struct Route {
  Engine engine = Engine::Legacy;
  Layout layout = Layout::Legacy;
  std::string reason;  // "gitaly_backup on: default, default_enabled: true"
};

class Router {
 public:
  // Reads the flag store once: every repository of a run sees one state. Throws
  // Error(Usage) only for a malformed GITVAULT_FEATURES.
  explicit Router(const std::string& flags_store);
  // Flags the store knows nothing of take the state the newest record of `backups` says its
  // run used (flags/README.md, "Remembered state").
  void remember_from(Sink& backups);
  void remember_from(Sink& backups, const std::vector<BackupRecord>& headers);  // headers read already

  Route route(const std::string& storage, const std::string& relative_path, const std::string& project_path) const;
  // False when no repository can take the pipeline in this run (the worker need not start).
  bool pipeline_may_be_used() const;

  const std::vector<std::string>& warnings() const { return flags_.warnings(); }
  // The flags as this run uses them, for the backup record.
  std::vector<flags::RecordedFlag> snapshot() const { return flags_.snapshot(); }

 private:
  flags::FeatureFlags flags_;
};

}  // namespace gitvault
