// The destination a run reads and writes: open_sink's directory or bucket, behind the sealing
// layer when [encryption] is configured (docs/encryption.md). A sealed destination says so in
// a clear marker (+gitvault/sealed), so that a configuration without [encryption] refuses it
// and a sealed one refuses a destination already holding backups in the clear (exit 2,
// saying which) — one destination never mixes the two.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "destination/sealed_sink.h"

namespace gitvault {

// Which of gitvault's names a sealed destination seals, which are records, and which the
// writer keeps a shadow copy of (backup/layout.h's names).
SealedName sealed_name_of(const std::string& name);

// What a run does with the destination: a backup writes it (recipients and the signing key
// needed; the marker written when new); `backups`, prune and a quick verify read headers and
// what the shadow holds; restore, drill and `verify --deep` read content, so on a sealed
// destination they are refused before any work (Error(Config), exit 2) unless an identity
// opens backup `id` (empty: the newest), the message naming the recipients it was sealed for.
enum class DestinationUse { Backup, ReadHeaders, ReadContent };
std::unique_ptr<Sink> open_backup_destination(const std::string& location, const SealSettings& seal, DestinationUse use,
                                              const std::string& id = "");

// The sealing layer of a destination, or nullptr when it is not sealed.
SealedSink* sealed_layer(Sink& sink);

// Whom a sealed backup was sealed for: the recipients of its record files' seal lines.
std::set<std::string> sealed_recipients(SealedSink& sealed, const std::vector<std::string>& record_files);

}  // namespace gitvault
