// gitaly-backup's own backups, read as backup records, so that restore, verify and backups
// take what GitLab wrote before the switch to gitvault like gitvault's own backups
// (docs/gitaly-backups.md).
//
// What gitaly-backup (manifest layout) leaves in a backup directory, and no gitvault record:
//   manifests/<storage>/<relative path>/<id>.toml     one per repository and backup
//   manifests/<storage>/<relative path>/+latest.toml  a copy of the newest
//   <storage>/<relative path>/<id>/NNN.bundle, NNN.refs, NNN.custom_hooks.tar
//   backup_ids/<id>                                    newer versions: a marker per backup
// A manifest lists the steps of the repository's chain ([[steps]]: bundle_path, ref_path,
// previous_ref_path, custom_hooks_path), and records no checksum: every file of such a
// backup has FileDigest::has_checksum false, and its restore is proven by git alone.
//
// gitvault's pipeline writes the same manifests (with checksums) for its own backups: an
// id with a gitvault record is never read from here.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backup/record.h"
#include "destination/sink.h"

namespace gitvault {

// Where gitaly-backup's backups are, from one listing of manifests/ and backup_ids/.
struct GitalyBackupIndex {
  // Per backup id: the (storage, relative path) of every repository with a manifest of it.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> repositories;
  std::set<std::string> ids;  // every id: those of manifests and of backup_ids/ markers
};

// Lists manifests/ and backup_ids/ once. Ids in `gitvault_ids` (backups with a gitvault
// record, whose manifests gitvault wrote) are left out; so are names that are no valid id.
GitalyBackupIndex index_gitaly_backups(Sink& sink, const std::set<std::string>& gitvault_ids);

// Backup `id` read from its manifests: one repository per manifest (a manifest that cannot be
// used — unreadable, hostile, an unsupported object format — is that repository failed,
// with the file named); `non_existent` repositories are left out. Complete when every
// manifest was usable. Error(NotFound) when the index has no such id.
BackupRecord read_gitaly_backup(Sink& sink, const GitalyBackupIndex& index, const std::string& id);

// The start time (RFC 3339) an id says: gitaly's default YYYYMMDDhhmmss, or GitLab's
// <unix seconds>_YYYY_MM_DD[_<version>]; "" when it says none.
std::string started_at_of_id(const std::string& id);

// The files prune must leave alone because gitaly-backup wrote them: its markers, the
// manifests and data directories of its backups, and the repository directories of its
// older pointer layout (a LATEST file beside them), which gitvault does not read.
class GitalyFiles {
 public:
  GitalyFiles(const GitalyBackupIndex& index, const std::vector<std::string>& all_names);
  bool contains(const std::string& name) const;

 private:
  const GitalyBackupIndex& index_;
  std::vector<std::string> pointer_dirs_;  // sorted, each ending in '/'
};

}  // namespace gitvault
