// The backup record: one JSON document per backup id at "+gitvault/backups/<id>.json",
// written through the sink when a backup starts (status "running") and rewritten when it
// ends. It says which engine and layout wrote each repository, the outcome of each, and the
// SHA-256 and size of every file, so restore and verify can trust nothing else.
//
// A backup is "complete" only when every selected repository succeeded and every file was
// committed (BackupStatus below).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "backup/layout.h"
#include "destination/sink.h"
#include "git/pack_files.h"
#include "base/run_observer.h"
#include "flags/feature_flags.h"
#include "base/system.h"

namespace gitvault {

// Beside a bundle that carries a repository's only pack byte for byte (the pipeline's
// single-pack fast path): that pack's index, and its reverse index and reachability bitmap
// when the repository had them. A restore installs the pack with them instead of
// re-indexing it (restore/repository_restore.h, docs/restore.md).
struct PackCompanions {
  std::optional<FileDigest> index;    // .idx; without it there are no companions
  std::optional<FileDigest> reverse;  // .rev
  std::optional<FileDigest> bitmap;   // .bitmap
  bool empty() const { return !index.has_value(); }
  void reset() { index.reset(), reverse.reset(), bitmap.reset(); }
  std::optional<FileDigest>& of(PackCompanion c) {
    return c == PackCompanion::Index ? index : c == PackCompanion::ReverseIndex ? reverse : bitmap;
  }
  const std::optional<FileDigest>& of(PackCompanion c) const { return const_cast<PackCompanions*>(this)->of(c); }
};

// An earlier step of a repository's chain of backups (incremental backups), oldest first.
// Its files may live in another backup's directory; the names say where.
struct ChainStep {
  std::string backup_id;              // the backup that wrote this step
  int number = 1;                     // 1 = the full step the chain starts from
  std::optional<FileDigest> bundle;   // absent for a step that added no objects
  FileDigest refs;
  PackCompanions pack;                // of the bundle's pack, when it was the repository's pack
};

struct RepositoryRecord;
// A record's own step as an earlier step of a later backup's chain; `backup_id` is the backup
// the record belongs to (an unchanged step's files belong to its step_backup_id). Needs refs.
ChainStep as_chain_step(const RepositoryRecord& r, const std::string& backup_id);

// A member of a fork network (GitLab's object pools, `@pools/…`): the repository borrowed its
// pool's objects (objects/info/alternates), so its chain starts with the pool's chain as the
// pool was backed up — the first `steps` of previous_steps, files in the pool's directories —
// and its own steps hold only what the pool lacks. A restore links it to the pool restored in
// the same run, or, without one, indexes the pool's steps into it (self-contained).
struct PoolLink {
  std::string relative_path;  // the pool, in the repository's storage
  std::size_t steps = 0;      // 0: not linked
  bool linked() const { return steps > 0; }
};

// Which engine made (or restores) a repository's backup: the in-process legacy engine, one
// repository at a time, or the gitaly-backup worker (run/route.h decides).
enum class Engine { Legacy, Pipeline };
const char* to_string(Engine e);  // "legacy", "pipeline": the record's words

// What this backup wrote of a repository: "full" (a bundle of everything), "incremental" (a
// bundle of what is new since the previous step, whose tips are its prerequisites; no bundle
// when no object is new) or "unchanged" (refs byte for byte those of the previous step:
// nothing written; the step is the previous step itself, its files named where they are,
// RepositoryRecord::step_backup_id saying whose they are. Records of earlier versions gave
// an unchanged step a number of its own with no bundle; both restore alike).
enum class StepKind { Full, Incremental, Unchanged };
const char* to_string(StepKind k);
std::optional<StepKind> step_kind_named(const std::string& word);  // nullopt: no such kind

// A backup as a whole: "running" until its run ends (a record still saying so belongs to a
// run that died), then "complete", "partial" (some repositories failed) or "failed" (none
// succeeded). A backup of several hosts (docs/object-storage.md, "Several hosts") is
// "incomplete" while every host that wrote its part has finished but some expected host has
// written none; it is never stored, only the result of reading the parts together.
enum class BackupStatus { Running, Complete, Partial, Failed, Incomplete };
const char* to_string(BackupStatus s);

struct RepositoryRecord {
  std::string storage;
  std::string relative_path;
  // The path its files are named under when not relative_path: an opaque name on a sealed
  // destination (Sink::repository_path_in). Empty: relative_path.
  std::string files_path;
  const std::string& named_path() const { return files_path.empty() ? relative_path : files_path; }
  std::string project_path;
  Engine engine = Engine::Legacy;
  Layout layout = Layout::Legacy;
  std::string reason;  // why this engine was chosen (feature flag evaluation)
  ItemStatus status = ItemStatus::Pending;
  std::string error;   // when failed
  std::string head_target;
  std::string head_oid;
  std::size_t ref_count = 0;
  StepKind kind = StepKind::Full;  // this backup's step of the repository
  int step = 1;
  // The backup that wrote this step's bundle and refs, when not this one: an unchanged step
  // is the previous step recorded again (its files, its number), so chains grow only when a
  // repository changes. Empty: this backup.
  std::string step_backup_id;
  std::vector<ChainStep> previous_steps;  // the steps this one builds on, oldest first
  // When not empty, the earlier steps are in the chain file of this key (chain_file_name; the
  // backup that wrote this step) and previous_steps hold them only once ChainReader::load read
  // them (chain_read). A record names a chain instead of repeating it (docs/backup-format.md,
  // "Incremental chains").
  std::string chain_in;
  bool chain_read() const { return chain_in.empty() || previous_steps.size() + 1 == static_cast<std::size_t>(step); }
  PoolLink pool;                          // the first pool.steps of previous_steps are its pool's
  std::optional<FileDigest> bundle;
  PackCompanions pack;  // of this step's bundle, when it carries the repository's pack as it was
  std::optional<FileDigest> refs;
  std::optional<FileDigest> custom_hooks;
  std::uint64_t bytes = 0;  // bytes this backup wrote for the repository
  double seconds = 0;
  std::vector<std::string> warnings;
  // Read from gitaly-backup's own manifest (backup/gitaly_backups.h): no checksums, no HEAD
  // object id and no ref count were recorded, so git alone proves its restore.
  bool from_gitaly_backup = false;

  // Backed up in this backup (with data or as an empty repository), so restorable from it.
  bool backed_up() const { return status == ItemStatus::Ok || status == ItemStatus::Empty; }
  // The repository failed: its error kept, no file of this backup named (either engine).
  void mark_failed(const std::string& why) {
    status = ItemStatus::Failed;
    error = why;
    bundle.reset();
    pack.reset();
    refs.reset();
    custom_hooks.reset();
  }
};

// What a record's repositories add up to, written in its header (docs/backup-format.md, "The
// record") so that `backups` reads a header instead of every repository: at 20,000
// repositories three records took 5 s and 250 MiB to list.
struct RecordSummary {
  std::size_t repositories = 0;
  std::size_t failed = 0;                               // failed and not attempted
  std::size_t pipeline = 0, legacy = 0;                 // paths used
  std::size_t full = 0, incremental = 0, unchanged = 0;  // step kinds of what was backed up
  std::uint64_t bytes = 0;                              // written by this backup
  // Other backups whose files or chain files its entries name, sorted (the backups that wrote
  // earlier steps of a chain another backup's chain file holds are that file's `needs`).
  std::vector<std::string> needs;
};

// One host's part of a backup of several hosts, as `backups` shows it.
struct HostPart {
  std::string host;
  BackupStatus status = BackupStatus::Running;  // Incomplete: this host has written no part yet
  std::string started_at;
  std::string finished_at;
  std::size_t repositories = 0;
  std::vector<std::string> storages;
  bool missing() const { return status == BackupStatus::Incomplete; }
  const char* status_word() const { return missing() ? "missing" : to_string(status); }  // as backups shows it
};

struct BackupRecord {
  int format = 1;
  std::string id;
  BackupStatus status = BackupStatus::Running;
  std::string started_at;
  std::string finished_at;
  std::string host;  // the host that wrote it (of a read set: every part's host, comma-separated)
  // A backup of several hosts: every host expected to write a part (from the config), sorted.
  // Empty: a backup of one host, one record.
  std::vector<std::string> hosts;
  // Of a backup of several hosts read as one: each expected host's part.
  std::vector<HostPart> parts;
  std::string gitvault_version;
  std::vector<std::string> storages;
  bool incremental = false;
  // The newest backup incremental steps were built on ("" = none). A repository that was not
  // backed up in it builds on an older one (chain_bases_of); its chain names every step's backup.
  std::string previous_id;
  std::vector<RepositoryRecord> repositories;
  // The feature flags as this run used them (state, last change): what `gitvault backup`
  // remembers when a flag store is lost (flags/feature_flags.h, remembered state).
  std::vector<flags::RecordedFlag> flags;
  // gitaly-backup's own backup (its manifests, no gitvault record): backup/gitaly_backups.h.
  bool from_gitaly_backup = false;
  // From the header of a record that has one (records of earlier versions do not); a whole
  // record's is summarize(record).
  std::optional<RecordSummary> summary;

  std::size_t count(ItemStatus repo_status) const;
  std::size_t count(Engine engine) const;  // repositories that took this path
  std::uint64_t total_bytes() const;
};

RecordSummary summarize(const BackupRecord& record);

// Where a backup's record is: one file for a backup of one host, a folder of parts, one per
// host, for a backup of several hosts:
//   +gitvault/backups/<id>.json             one host
//   +gitvault/backups/<id>/<host>.json      several hosts, one part each
// Readers take the parts together as one record (read_record): repositories and storages of
// every part, complete only when every expected host's part is complete.
std::string record_name(const std::string& id);
std::string record_part_name(const std::string& id, const std::string& host);
// The files that hold backup `id`'s record (its one file when there is one — then no
// listing is made — else its parts); empty when there is none.
std::vector<std::string> record_files(Sink& sink, const std::string& id);
// Where a backup's record is, for messages.
std::string describe_record(Sink& sink, const std::string& id);

// Chains (docs/backup-format.md, "Chains"): the earlier steps of a step a backup wrote are
// kept once, in the backup's chain file, not in its record, nor again in the record of every
// later backup that names the same step unchanged:
//   +gitvault/chains/<id>.json              one host (key: <id>)
//   +gitvault/chains/<id>.hosts/<host>.json  a host's part (key: <id>/<host>)
std::string chain_key_of(const BackupRecord& record);
std::string chain_file_name(const std::string& key);  // Error(Corrupt) for a key that is no key
// The backup a chain key belongs to.
std::string chain_key_backup(const std::string& key);
// Whether a name in the backup directory is a chain file's (prune removes them like data).
bool is_chain_file_name(const std::string& name);
// The key of a chain file (of a name is_chain_file_name accepts).
std::string chain_key_of_file(const std::string& name);

// Reads chain files on demand, each once (thread-safe: the worker's jobs share one).
class ChainReader {
 public:
  explicit ChainReader(Sink& sink) : sink_(sink) {}
  // Fills r.previous_steps from its chain file when they are there (chain_in) and not read
  // yet. Throws Error(Corrupt) naming the file and the repository when the file is
  // missing, unreadable, or has no chain of that step.
  void load(RepositoryRecord& r);
  // The same for every repository of the record.
  void load(BackupRecord& b);
  // The earlier steps of r without changing it.
  std::vector<ChainStep> steps_of(const RepositoryRecord& r);
  // The other backups a chain file's chains name (its header's `needs`).
  std::vector<std::string> needs_of(const std::string& key);

 private:
  struct File {
    std::vector<std::string> needs;
    std::map<std::pair<std::string, std::string>, std::pair<int, std::vector<ChainStep>>> steps;  // -> (step, chain)
  };
  std::shared_ptr<const File> file(const std::string& key);
  Sink& sink_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const File>> files_;  // guarded by mu_
};

// One repository's entry as JSON (the record and the worker's log lines use the same form).
nlohmann::json repository_to_json(const RepositoryRecord& r);
// Throws Error(Corrupt) when a pool link does not fit the chain (names itself, or has more
// steps than the chain).
void check_pool_link(const RepositoryRecord& r);
RepositoryRecord repository_from_json(const nlohmann::json& j);

// A record with `hosts` is written as its host's part.
void write_record(Sink& sink, const BackupRecord& record);
// On a sealed destination (docs/encryption.md), the clear copy of a record that prune and a
// quick verify read on a host without an identity: every file name (opaque there) and size
// each repository's restore needs, earlier steps listed in each entry, and nothing else of a
// repository — its entry's path is its opaque name, checksums read "redacted", no project
// path, HEAD, error text or warning. Earlier steps are read through `chains`.
void write_redacted_record(Sink& sink, BackupRecord record, ChainReader& chains);
// "+gitvault/redacted/…" of a record file ("+gitvault/backups/…"), and back.
std::string redacted_record_name(const std::string& record_file);
bool is_redacted_record_name(const std::string& name);
std::string record_file_of_redacted(const std::string& name);
std::string backup_of_redacted(const std::string& name);  // the backup a redacted copy is of
// Throws Error(NotFound) when there is no such backup, Error(Corrupt) when unreadable.
BackupRecord read_record(Sink& sink, const std::string& id);
// The record's own fields (id, status, times, previous_id, ...) with `repositories` left
// empty, without parsing the repositories: for choosing and checking backups.
BackupRecord read_record_header(Sink& sink, const std::string& id);
// The same from a record's text; `where` names it in errors (Error(Corrupt)).
BackupRecord parse_record(const std::string& text, const std::string& where);
BackupRecord parse_record_header(const std::string& text, const std::string& where);
// Every backup id with a record, oldest first (ids sort by time).
std::vector<std::string> list_backup_ids(Sink& sink);
// Those that sort after `after` (one listing request on object storage however many
// backups there are, when few are newer).
std::vector<std::string> list_backup_ids_after(Sink& sink, const std::string& after);

// Every file a repository's restore needs, in order: each step's bundle (if any) and its
// pack companions, then this backup's refs and hooks. Names may repeat across steps (an
// unchanged step's refs).
std::vector<FileDigest> chain_files(const RepositoryRecord& r);
// The same, each name once (what a restore reads, what proofs and sizes count).
std::vector<FileDigest> distinct_chain_files(const RepositoryRecord& r);

// Whether this backup wrote a manifest for the repository (manifest layout, backed up, and
// not an unchanged step that wrote nothing at all).
bool has_own_manifest(const RepositoryRecord& r);

// Backup ids: [A-Za-z0-9_.-], not starting with '.', at most 64 characters.
bool valid_backup_id(const std::string& id);
// UTC now as YYYYMMDDhhmmss, the default backup id.
std::string default_backup_id();


}  // namespace gitvault
