#include "restore/repository_restore.h"

#include <fcntl.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "git/bundle.h"
#include "git/connectivity.h"
#include "git/pack_files.h"
#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "git/hooks_tar.h"
#include "base/process.h"
#include "git/refs.h"
#include "base/sha256.h"

namespace gitvault {
namespace {

// Reads through to an inner reader while hashing and counting.
class HashingReader : public ByteReader {
 public:
  explicit HashingReader(ByteReader& inner) : inner_(inner) {}
  std::size_t read(void* buf, std::size_t size) override {
    std::size_t n = inner_.read(buf, size);
    hash_.update(buf, n);
    bytes_ += n;
    return n;
  }
  const std::string& name() const override { return inner_.name(); }
  std::string finish() { return hash_.hex_digest(); }
  std::uint64_t bytes() const { return bytes_; }

 private:
  ByteReader& inner_;
  Sha256 hash_;
  std::uint64_t bytes_ = 0;
};

// Removes the temporary directory unless released.
struct TempDir {
  std::string path;
  bool keep = false;
  ~TempDir() {
    if (!keep && !path.empty()) {
      try {
        remove_tree(path);
      } catch (...) {
      }
    }
  }
};

// How the last step's bundle must agree with the recorded refs: gitvault's lists every ref;
// git's own `bundle create --all ^<previous tips>` (gitaly-backup's increments) leaves out the
// refs whose tips did not move, so each ref it lists must be a recorded one at the same object.
enum class BundleRefs { ListsEveryRef, ListsSome };

// The bundle's own ref list against `expected` (the last step's refs), when given.
void check_bundle_refs(const BundleHeader& header, const RefSnapshot* expected, BundleRefs bundle_refs,
                       const std::string& where) {
  if (expected && bundle_refs == BundleRefs::ListsEveryRef) {  // every recorded ref at the recorded value
    std::map<std::string, std::string> in_bundle;
    for (const auto& r : header.refs) in_bundle[r.name] = r.oid;
    for (const auto& r : expected->refs) {
      auto it = in_bundle.find(r.name);
      if (it == in_bundle.end() || it->second != r.oid)
        throw Error(ErrorCode::Corrupt, where + ": bundle does not match the recorded refs (" + r.name + ")");
    }
  } else if (expected) {  // every ref it lists is a recorded one at the same object
    std::map<std::string, std::string> recorded;
    for (const auto& r : expected->refs) recorded[r.name] = r.oid;
    for (const auto& r : header.refs) {
      if (r.name == "HEAD") continue;
      auto it = recorded.find(r.name);
      if (it == recorded.end() || it->second != r.oid)
        throw Error(ErrorCode::Corrupt, where + ": bundle does not match the recorded refs (" + r.name + ")");
    }
  }
}

// A file being written into the repository under construction (no fsync: the caller syncs
// the whole repository, or the storage, once).
class OutFile {
 public:
  explicit OutFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
    if (fd_ < 0) throw_errno("create", path_, errno);
  }
  ~OutFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  void write(const char* data, std::size_t size) { write_all(fd_, data, size, path_); }
  void close() {
    if (::close(fd_) != 0) {
      fd_ = -1;
      throw_errno("close", path_, errno);
    }
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Streams `start`, then the rest of `reader`, into `path`, checking the whole source against
// `digest` (Error(Corrupt) naming `where`); returns the ends of what was written.
FileEnds stream_verified(HashingReader& reader, const std::string& start, const FileDigest& digest,
                         const std::string& path, const std::string& where) {
  OutFile out(path);
  FileEnds ends;
  auto take = [&](const char* data, std::size_t n) {
    out.write(data, n);
    ends.add(data, n);
  };
  take(start.data(), start.size());
  StreamBuffer buf;
  while (std::size_t n = reader.read(buf.data(), buf.size())) take(buf.data(), n);
  out.close();
  std::string wrong = digest_mismatch(digest, reader.bytes(), reader.finish());
  if (!wrong.empty()) throw Error(ErrorCode::Corrupt, where + ": " + wrong);
  return ends;
}


// Installs a bundle's pack as it is, with the index (and reverse index and bitmap) the backup
// kept beside it, instead of re-indexing it: no object is hashed again. What proves it (with
// the checks restore_repository makes afterwards): the SHA-256 and size of every file as
// recorded, the pack's own checksum (its last 20 bytes) equal to the one its index, reverse
// index and bitmap name, every ref tip present, and connectivity from every ref (walked in
// process, git/connectivity.h).
void install_pack(const FileDigest& digest, const PackCompanions& companions, Sink& sink, const std::string& repo_dir,
                  const RefSnapshot* expected) {
  std::string where = sink.describe(digest.name);
  auto raw = sink.open(digest.name);
  HashingReader reader(*raw);
  std::string pack_start;
  BundleHeader header = read_bundle_header(reader, pack_start);
  check_bundle_refs(header, expected, BundleRefs::ListsEveryRef, where);
  if (!header.prerequisites.empty())
    throw Error(ErrorCode::Corrupt, where + ": a bundle kept with its pack index needs prerequisites");
  const std::string dir = repo_dir + "/objects/pack";
  auto checksum = pack_checksum(stream_verified(reader, pack_start, digest, dir + "/tmp-restore.pack", where));
  if (!checksum) throw Error(ErrorCode::Corrupt, where + ": no pack behind the bundle header");

  std::vector<std::pair<std::string, std::string>> renames = {{dir + "/tmp-restore.pack", "pack"}};
  for (PackCompanion c : kPackCompanions) {
    const auto& kept = companions.of(c);
    if (!kept) continue;
    std::string cwhere = sink.describe(kept->name);
    auto craw = sink.open(kept->name);
    HashingReader creader(*craw);
    std::string path = dir + "/tmp-restore." + extension(c);
    auto names = pack_named_by(c, stream_verified(creader, "", *kept, path, cwhere));
    if (!names) throw Error(ErrorCode::Corrupt, cwhere + ": not a pack ." + extension(c) + " file");
    if (*names != *checksum)
      throw Error(ErrorCode::Corrupt, cwhere + ": belongs to pack " + hex_lower(*names) + ", not to the bundle's pack " +
                                          hex_lower(*checksum) + " (" + where + ")");
    renames.push_back({path, extension(c)});
  }
  const std::string final_base = dir + "/pack-" + hex_lower(*checksum) + ".";
  for (const auto& [from, ext] : renames)
    if (::rename(from.c_str(), (final_base + ext).c_str()) != 0) throw_errno("rename", from, errno);
}

// Indexes one bundle's pack into repo_dir. `expected` (the last step's refs) is checked
// against the bundle's own ref list when given. A bundle with prerequisites (an increment)
// must find every one of them in repo_dir, i.e. in the steps indexed before it. Returns true
// when index-pack also proved the pack self-contained.
bool index_bundle(const FileDigest& digest, Sink& sink, const std::string& repo_dir, const RefSnapshot* expected,
                  BundleRefs bundle_refs, const RepositoryRestoreOptions& options) {
  std::string where = sink.describe(digest.name);
  auto raw = sink.open(digest.name);
  HashingReader reader(*raw);
  std::string pack_start;
  BundleHeader header = read_bundle_header(reader, pack_start);
  check_bundle_refs(header, expected, bundle_refs, where);
  bool self_contained = header.prerequisites.empty();
  if (!self_contained) {
    auto missing = missing_objects(repo_dir, header.prerequisites);
    if (!missing.empty())
      throw Error(ErrorCode::Verification, where + ": prerequisite " + missing[0] +
                                               " is not provided by the steps before it (" +
                                               std::to_string(missing.size()) + " missing; chain broken)");
  }

  // Durability comes from one syncfs before the swap, not from git's fsyncs file by file.
  std::vector<std::string> args = {"-c", "core.fsync=none", "index-pack", "--stdin"};
  args.push_back(self_contained ? "--check-self-contained-and-connected" : "--fix-thin");
  if (options.index_threads > 0) args.push_back("--threads=" + std::to_string(options.index_threads));
  ProcessSpec spec = git_command(repo_dir, args);
  spec.stdin_producer = [&](PipeWriter& in) {
    if (!in.write(pack_start.data(), pack_start.size())) return;
    StreamBuffer buf;
    while (std::size_t n = reader.read(buf.data(), buf.size()))
      if (!in.write(buf.data(), n)) return;
    std::string wrong = digest_mismatch(digest, reader.bytes(), reader.finish());
    if (!wrong.empty()) throw Error(ErrorCode::Corrupt, where + ": " + wrong);
  };
  ProcessResult r = run_process(spec);
  if (!r.ok()) throw Error(ErrorCode::Corrupt, where + ": git index-pack rejected the pack: " + r.describe());
  return self_contained;
}

void check_connectivity(const std::string& repo_dir, const std::string& what) {
  ProcessResult r = run_process(git_command(repo_dir, {"fsck", "--connectivity-only", "--no-dangling", "--no-progress"}));
  if (!r.ok()) throw Error(ErrorCode::Verification, what + ": objects missing after restore: " + r.describe());
}

void swap_into_place(const std::string& tmp, const std::string& target, bool sync_parent) {
  make_dirs(std::filesystem::path(target).parent_path().string(), 0755);
  if (is_directory_nofollow(target)) {
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0)
      throw_errno("swap restored repository into place at", target, errno);
    // tmp now holds the previous repository; the caller's TempDir removes it.
  } else if (path_exists(target)) {
    throw Error(ErrorCode::Io, "restore " + target + ": a non-directory is in the way; left untouched");
  } else if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
    throw_errno("move restored repository into place at", target, errno);
  }
  if (sync_parent) fsync_directory(std::filesystem::path(target).parent_path().string());
}

// How a chain's objects reached the repository under construction: what is left to prove
// that every object reachable from the refs is there.
enum class ObjectsArrived {
  None,             // an empty repository
  SelfContained,    // one full bundle, index-pack proved it self-contained and connected
  Installed,        // every pack installed as it is, nothing re-indexed
  Indexed,          // a chain re-indexed by index-pack, or installed and indexed packs mixed
};

// Every bundle of the chain, oldest first, into repo_dir: installed as it is where the backup
// kept its pack's companions (unless options.verify_objects), else re-indexed. Adds the bytes
// read to `bytes`.
// `skip_steps`: the first steps are already there (a fork's pool, linked by alternates).
ObjectsArrived restore_objects(const RepositoryRecord& rec, Sink& sink, const std::string& repo_dir,
                               const RefSnapshot& expected, const RepositoryRestoreOptions& options,
                               std::size_t skip_steps, std::uint64_t& bytes) {
  std::vector<std::pair<const FileDigest*, const PackCompanions*>> bundles;  // oldest step first
  for (std::size_t i = skip_steps; i < rec.previous_steps.size(); ++i)
    if (const auto& step = rec.previous_steps[i]; step.bundle) bundles.push_back({&*step.bundle, &step.pack});
  if (rec.bundle) bundles.push_back({&*rec.bundle, &rec.pack});
  bool self_contained = false, installed_only = true;
  for (const auto& [bundle, pack] : bundles) {
    // This backup's own bundle (always the last) must list exactly the recorded refs.
    const RefSnapshot* own_refs = rec.bundle && bundle == &*rec.bundle ? &expected : nullptr;
    if (!pack->empty() && !options.verify_objects) {
      install_pack(*bundle, *pack, sink, repo_dir, own_refs);
      self_contained = false;
    } else {
      installed_only = false;
      self_contained = index_bundle(*bundle, sink, repo_dir, own_refs,
                                    rec.from_gitaly_backup ? BundleRefs::ListsSome : BundleRefs::ListsEveryRef, options);
    }
    bytes += bundle->size;
  }
  if (self_contained && bundles.size() == 1) return ObjectsArrived::SelfContained;
  return installed_only ? ObjectsArrived::Installed : ObjectsArrived::Indexed;
}

// Every object reachable from the refs is present: for one self-contained pack, every tip in
// it is enough (the pack is the repository's only one); installed packs are walked in process
// (no git process per repository); anything else, git fsck.
// With a linked pool (pool_objects), the walk stops at the pool's objects: the pool was
// restored and proven connected by this run, and every object in it came with everything it
// reaches.
void prove_connectivity(ObjectsArrived arrived, const std::string& repo_dir, const RefSnapshot& expected,
                        const std::string& what, const std::string& pool_objects) {
  if (arrived == ObjectsArrived::Installed || !pool_objects.empty()) {
    std::string missing = first_missing_reachable(repo_dir, ref_tips(expected), pool_objects);
    if (!missing.empty()) throw Error(ErrorCode::Verification, what + ": objects missing after restore: " + missing);
  } else if (arrived == ObjectsArrived::SelfContained) {
    auto missing = missing_objects(repo_dir, ref_tips(expected));
    if (!missing.empty())
      throw Error(ErrorCode::Verification, what + ": object " + missing[0] + " named by a ref is not in the bundle (" +
                                               std::to_string(missing.size()) + " missing)");
  } else if (arrived == ObjectsArrived::Indexed) {
    check_connectivity(repo_dir, what);
  }
}

// The objects directory of the restored pool a fork links to, or "" when it is restored
// self-contained: it has no pool link, the pool was not restored by this run, or the pool
// lacks a tip of the pool's step the fork's own steps build on.
std::string linked_pool_objects(const RepositoryRecord& rec, Sink& sink, const Storage& target,
                                const RepositoryRestoreOptions& options) {
  if (!rec.pool.linked() || !options.pool_restored || !options.pool_restored(rec.pool.relative_path)) return "";
  const std::string pool_path = resolve_repository_path(target, rec.pool.relative_path);
  const ChainStep& link = rec.previous_steps[rec.pool.steps - 1];
  RefSnapshot pool_refs = parse_refs_file(read_verified(sink, link.refs), sink.describe(link.refs.name));
  if (!missing_objects(pool_path, ref_tips(pool_refs)).empty()) return "";
  return pool_path + "/objects";
}

// objects/info/alternates naming `pool_objects`: as `text` says it.
void write_alternates(const std::string& repo_dir, const std::string& text) {
  write_file(repo_dir + "/objects/info/alternates", text + "\n", 0644);
}

}  // namespace

RestoredRepository restore_repository(const RepositoryRecord& entry, Sink& sink, const Storage& target,
                                      const RepositoryRestoreOptions& options) {
  // An entry that names its chain file instead of repeating the chain: its earlier steps read.
  std::optional<RepositoryRecord> loaded;
  if (!entry.chain_read()) ChainReader(sink).load(loaded.emplace(entry));
  const RepositoryRecord& rec = loaded ? *loaded : entry;
  if (!rec.backed_up())
    throw Error(ErrorCode::NotFound, "not in this backup (its backup failed: " + rec.error + ")");
  std::string target_path = resolve_repository_path(target, rec.relative_path);
  check_pool_link(rec);
  // gitaly-backup may record an empty repository with no files at all.
  const bool no_files_at_all = rec.from_gitaly_backup && rec.status == ItemStatus::Empty && !rec.refs;
  if (!rec.refs && !no_files_at_all) throw Error(ErrorCode::Corrupt, "backup record lists no refs file");
  if (rec.status == ItemStatus::Ok && !rec.bundle &&
      std::none_of(rec.previous_steps.begin(), rec.previous_steps.end(), [](const ChainStep& s) { return s.bundle; }))
    throw Error(ErrorCode::Corrupt, "backup record lists no bundle");

  RefSnapshot expected;
  if (rec.refs) expected = parse_refs_file(read_verified(sink, *rec.refs), sink.describe(rec.refs->name));
  expected.head_target = rec.head_target;
  // gitaly-backup records no HEAD object id: its .refs file alone says it.
  if (!rec.from_gitaly_backup && expected.head_oid != rec.head_oid)
    throw Error(ErrorCode::Corrupt, sink.describe(rec.refs->name) + ": HEAD differs from the backup record");
  if (rec.status == ItemStatus::Empty && !expected.refs.empty())
    throw Error(ErrorCode::Corrupt, sink.describe(rec.refs->name) + ": refs listed for a repository backed up empty");
  std::string hooks;
  if (rec.custom_hooks) hooks = read_verified(sink, *rec.custom_hooks);
  RestoredRepository result;
  std::uint64_t& bytes = result.bytes;
  bytes = (rec.refs ? rec.refs->size : 0) + (rec.custom_hooks ? rec.custom_hooks->size : 0);
  const std::string pool_objects = rec.status == ItemStatus::Ok ? linked_pool_objects(rec, sink, target, options) : "";

  std::string tmp_root = target.path + "/+gitvault/tmp";
  make_dirs(tmp_root, 0700);
  TempDir tmp{tmp_root + "/restore-" + unique_suffix()};
  init_bare_repository_skeleton(tmp.path);
  // A linked fork borrows the restored pool's objects: absolute while it is built here, then
  // relative to where it will be, as GitLab writes it.
  if (!pool_objects.empty()) write_alternates(tmp.path, pool_objects);
  const std::size_t pool_steps = pool_objects.empty() ? 0 : rec.pool.steps;
  const ObjectsArrived arrived = rec.status == ItemStatus::Ok
                                     ? restore_objects(rec, sink, tmp.path, expected, options, pool_steps, bytes)
                                     : ObjectsArrived::None;
  write_refs(tmp.path, expected, Durability::CallerSyncs);
  if (rec.custom_hooks) extract_hooks_tar(hooks, tmp.path, sink.describe(rec.custom_hooks->name));
  if (!rec.project_path.empty()) write_config_string(tmp.path, "gitlab.fullpath", rec.project_path);

  std::string what = target.name + " " + rec.relative_path;
  RefSnapshot actual = read_refs(tmp.path);
  if (expected.head_target.empty()) actual.head_target.clear();  // detached or unknown: compare oids only
  std::string diff = describe_ref_differences(expected, actual);
  if (!diff.empty()) throw Error(ErrorCode::Verification, what + ": restored refs differ from the backup: " + diff);
  prove_connectivity(arrived, tmp.path, expected, what, pool_objects);
  if (!pool_objects.empty()) {
    write_alternates(tmp.path, std::filesystem::path(pool_objects)
                                   .lexically_relative(std::filesystem::path(target_path) / "objects")
                                   .string());
    result.linked_pool = rec.pool.relative_path;
  }
  result.pool_pulled_in = rec.pool.linked() && pool_objects.empty() && rec.status == ItemStatus::Ok;

  // Replacing a repository: the new one is durable before it takes the old one's place, so a
  // crash can never leave neither. A path that was empty has nothing to lose; the caller makes
  // the whole run durable with one sync_restored_storages() before it reports success.
  const bool replacing = path_exists(target_path);
  if (replacing) sync_filesystem(tmp.path);
  swap_into_place(tmp.path, target_path, replacing);
  return result;
}

std::size_t remove_stale_restore_dirs(const Storage& storage) {
  std::string tmp_root = storage.path + "/+gitvault/tmp";
  DIR* d = ::opendir(tmp_root.c_str());
  if (!d) return 0;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("restore-", 0) != 0) continue;
    long pid = std::atol(name.c_str() + 8);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(tmp_root + "/" + name);
  }
  ::closedir(d);
  for (const auto& path : stale) {
    try {
      remove_tree(path);
    } catch (const Error&) {
    }
  }
  return stale.size();
}

void sync_restored_storages(const std::vector<const Storage*>& storages) {
  std::set<std::string> done;
  for (const Storage* st : storages)
    if (st && done.insert(st->path).second) sync_filesystem(st->path);
}

}  // namespace gitvault
