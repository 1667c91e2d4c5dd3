#include "backup/gitaly_backups.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "backup/layout.h"
#include "backup/manifest.h"
#include "base/error.h"

namespace gitvault {
namespace {

const std::string kManifests = "manifests";
const std::string kMarkers = "backup_ids";

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

std::string rfc3339_of(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// One repository of a gitaly-backup backup, from its manifest. Throws Error naming the file.
RepositoryRecord read_repository(Sink& sink, const std::string& id, const std::string& storage,
                                 const std::string& relative_path) {
  RepositoryRecord rr;
  rr.storage = storage;
  rr.relative_path = relative_path;
  rr.engine = Engine::Pipeline;
  rr.layout = Layout::Manifest;
  rr.reason = "written by gitaly-backup";
  rr.from_gitaly_backup = true;
  std::string name = manifest_name(id, storage, relative_path);
  try {
    parse_manifest(read_whole(sink, name), sink.describe(name), rr);
  } catch (const Error& e) {
    rr.mark_failed(e.what());
    return rr;
  }
  // Pack companions are gitvault's; a gitaly manifest naming some is not trusted with them.
  rr.pack.reset();
  for (auto& s : rr.previous_steps) s.pack.reset();
  // gitaly-backup writes a repository's hooks only when it has some (and restores none when
  // the file is absent); an empty repository may have no refs file at all.
  if (rr.custom_hooks && !sink.exists(rr.custom_hooks->name)) rr.custom_hooks.reset();
  // An increment in which nothing was new has no bundle file (git refuses an empty bundle).
  // Whatever is missing instead, the restore finds: refs are checked against the last .refs
  // file and every object reachable from them must be there (git fsck).
  for (auto& s : rr.previous_steps)
    if (s.number > 1 && s.bundle && !sink.exists(s.bundle->name)) s.bundle.reset();
  if (rr.step > 1 && rr.bundle && !sink.exists(rr.bundle->name)) rr.bundle.reset();
  if (rr.status == ItemStatus::Empty) {
    rr.bundle.reset();
    if (rr.refs && !sink.exists(rr.refs->name)) rr.refs.reset();
  }
  return rr;
}

}  // namespace

std::string started_at_of_id(const std::string& id) {
  if (id.size() == 14 && all_digits(id)) {
    std::tm tm{};
    if (!strptime(id.c_str(), "%Y%m%d%H%M%S", &tm)) return "";
    return rfc3339_of(timegm(&tm));
  }
  std::size_t us = id.find('_');
  std::string seconds = id.substr(0, us);
  if (us != std::string::npos && seconds.size() >= 9 && seconds.size() <= 11 && all_digits(seconds))
    return rfc3339_of(static_cast<std::time_t>(std::stoll(seconds)));
  return "";
}

GitalyBackupIndex index_gitaly_backups(Sink& sink, const std::set<std::string>& gitvault_ids) {
  GitalyBackupIndex index;
  auto foreign = [&](const std::string& id) { return valid_backup_id(id) && !gitvault_ids.count(id); };
  // A directory that is not there lists empty (object storage has no directories at all).
  for (const auto& name : sink.list_recursive(kManifests)) {
    if (!name.ends_with(".toml") || repository_of_latest_manifest_name(name)) continue;
    auto repo = repository_of_manifest_name(name);
    if (!repo) continue;
    std::string leaf = name.substr(name.rfind('/') + 1);
    std::string id = leaf.substr(0, leaf.size() - 5);
    if (!foreign(id)) continue;
    index.repositories[id].push_back(*repo);
    index.ids.insert(id);
  }
  for (const auto& id : sink.list(kMarkers))
    if (foreign(id)) index.ids.insert(id);
  for (auto& [id, repos] : index.repositories) std::sort(repos.begin(), repos.end());
  return index;
}

BackupRecord read_gitaly_backup(Sink& sink, const GitalyBackupIndex& index, const std::string& id) {
  if (!index.ids.count(id)) throw Error(ErrorCode::NotFound, "no backup with id " + id + " in " + sink.describe(""));
  BackupRecord b;
  b.id = id;
  b.from_gitaly_backup = true;
  b.started_at = started_at_of_id(id);
  b.status = BackupStatus::Complete;
  std::set<std::string> storages;
  auto it = index.repositories.find(id);
  if (it != index.repositories.end()) {
    for (const auto& [storage, relative_path] : it->second) {
      RepositoryRecord rr = read_repository(sink, id, storage, relative_path);
      if (rr.status == ItemStatus::Skipped) continue;  // non_existent: not part of the backup
      storages.insert(storage);
      b.incremental = b.incremental || rr.step > 1;
      b.repositories.push_back(std::move(rr));
    }
  }
  b.storages.assign(storages.begin(), storages.end());
  const std::size_t failed = b.count(ItemStatus::Failed);
  if (failed > 0) b.status = failed == b.repositories.size() ? BackupStatus::Failed : BackupStatus::Partial;
  return b;
}

GitalyFiles::GitalyFiles(const GitalyBackupIndex& index, const std::vector<std::string>& all_names) : index_(index) {
  for (const auto& n : all_names)
    if (n.ends_with("/LATEST")) pointer_dirs_.push_back(n.substr(0, n.size() - 6));
  std::sort(pointer_dirs_.begin(), pointer_dirs_.end());
}

bool GitalyFiles::contains(const std::string& name) const {
  if (name.rfind(kMarkers + "/", 0) == 0) return true;
  for (const auto& dir : pointer_dirs_)
    if (name.rfind(dir, 0) == 0) return true;
  // A manifest of one of its backups, or a file in one of its backups' data directories
  // (<storage>/<relative path>/<id>/...: every step's files, hooks of earlier steps too).
  if (name.rfind(kManifests + "/", 0) == 0 && name.ends_with(".toml")) {
    const std::string leaf = name.substr(name.rfind('/') + 1);
    return index_.ids.count(leaf.substr(0, leaf.size() - 5)) > 0;
  }
  return index_.ids.count(parent_directory_name(name)) > 0;
}

}  // namespace gitvault
