// The proof a restore drill gives each repository it brought back, looked at afresh from the
// repository on disk, whichever engine restored it (docs/proof.md):
//   - refs and HEAD equal the backup's `.refs` file and the record (libgit2 / plain files);
//   - custom hooks equal the backup's hooks archive, file by file (names, content, mode);
//   - `git fsck --connectivity-only`: every object reachable from every ref is there.
// Objects were re-hashed by the restore itself (`--verify-objects`: git index-pack).
#pragma once

#include <string>
#include <vector>

#include "backup/record.h"
#include "destination/sink.h"

namespace gitvault {

// What differs between the restored repository at repo_path and its record, one finding
// each (empty: it came back exactly). Never throws for a difference; Error for a backup file
// that cannot be read.
std::vector<std::string> prove_restored(const RepositoryRecord& record, Sink& sink, const std::string& repo_path);

}  // namespace gitvault
