#include "run/route.h"

#include "backup/catalog.h"
#include "backup/record.h"
#include "flags/names.h"

namespace gitvault {
Router::Router(const std::string& flags_store)
    : flags_(flags_store.empty() ? flags::resolve_store_path("", "") : flags_store) {
  flags_.load();
}

void Router::remember_from(Sink& backups) { remember_flags_from_backups(flags_, backups); }
void Router::remember_from(Sink& backups, const std::vector<BackupRecord>& headers) {
  remember_flags_from_backups(flags_, backups, headers);
}

Route Router::route(const std::string& storage, const std::string& relative_path,
                    const std::string& project_path) const {
  flags::Evaluation ev =
      flags_.evaluate(flags::kGitalyBackup.str(), flags::repository_actors(storage, relative_path, project_path));
  Route r;
  r.engine = ev.enabled ? Engine::Pipeline : Engine::Legacy;
  r.layout = ev.enabled ? Layout::Manifest : Layout::Legacy;
  r.reason = flags::kGitalyBackup.str() + (ev.enabled ? " on: " : " off: ") + flags::to_string(ev.reason) +
             (ev.detail.empty() ? "" : ", " + ev.detail);
  return r;
}

bool Router::pipeline_may_be_used() const { return flags_.may_be_enabled(flags::kGitalyBackup.str()); }

}  // namespace gitvault
