// Per-repository manifests of the manifest layout, in gitaly's TOML (object_format,
// head_reference, empty, non_existent, [[steps]] with bundle_path, ref_path,
// custom_hooks_path) plus gitvault's additions in each step: the SHA-256 and size of each
// file (bundle_sha256, bundle_size, ref_sha256, ...). A manifest alone is enough to restore
// and verify the repository, without the backup record.
#pragma once

#include <string>

#include "backup/record.h"
#include "destination/sink.h"

namespace gitvault {

std::string format_manifest(const RepositoryRecord& repo);
// Fills the files, head and status of `out` from a manifest; throws Error(Corrupt) naming it.
void parse_manifest(const std::string& text, const std::string& name, RepositoryRecord& out);

// Writes <id>.toml, then +latest.toml, atomically; both are durable, and +latest.toml takes
// its name, at the run's Sink::sync() (the worker's end).
void write_manifests(Sink& sink, const std::string& id, const RepositoryRecord& repo);

}  // namespace gitvault
