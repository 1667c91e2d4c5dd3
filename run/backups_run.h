// `gitvault backups`: what is in a backup directory — every backup, newest first, from the
// headers of its records (each header carries its summary), what each one's chains need, and
// when a deep verify last proved it whole.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "backup/record.h"
#include "destination/sink.h"

namespace gitvault {

struct BackupSummary {
  std::string id;
  BackupStatus status = BackupStatus::Running;
  std::string started_at;
  std::string finished_at;
  std::size_t repositories = 0;
  std::size_t failed = 0;
  std::size_t pipeline = 0, legacy = 0;                 // paths used
  std::size_t full = 0, incremental = 0, unchanged = 0;  // step kinds
  std::uint64_t bytes = 0;                              // written by this backup
  std::vector<std::string> needs;  // other backups whose files its chains name
  std::vector<std::string> needs_pruned;  // of those, the ones whose record is gone (files kept)
  std::vector<HostPart> hosts;  // a backup of several hosts: each expected host's part
  bool from_gitaly_backup = false;  // gitaly-backup's own backup (no record, no checksums)
  // When a deep verify last proved every file it needs (Unix time; 0: not yet, or unknown):
  // the oldest proof among them (backup/proof_state.h).
  std::int64_t proven_at = 0;
  // A sealed backup (docs/encryption.md): the age recipients it was sealed for, from its
  // records' clear seal lines; empty on a clear destination.
  std::vector<std::string> sealed_for;
  bool standalone() const { return needs.empty(); }
};

// Every backup, newest first; unreadable records are reported in `errors`. Holds the
// directory's lock shared while it reads.
std::vector<BackupSummary> list_backups(Sink& sink, std::vector<std::string>* errors,
                                        std::chrono::milliseconds lock_wait = {});

}  // namespace gitvault
