#include "backup/repository_backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include <cstring>

#include "git/bundle.h"
#include "base/error.h"
#include "base/files.h"
#include "git/hooks_tar.h"
#include "git/increment_pack.h"
#include "git/pack_files.h"
#include "base/process.h"
#include "git/refs.h"
#include "base/sha256.h"

namespace gitvault {
namespace {

bool directory_has_entries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool any = false;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") {
      any = true;
      break;
    }
  }
  ::closedir(d);
  return any;
}

bool is_hex2(const std::string& n) {
  return n.size() == 2 && std::isxdigit(static_cast<unsigned char>(n[0])) && std::isxdigit(static_cast<unsigned char>(n[1]));
}

// The repository's only pack, when its objects are exactly that pack: no loose objects, no
// alternates, no second pack (cruft, promisor, in-flight), every tip present.
std::optional<std::string> single_pack(const std::string& repo, const std::vector<std::string>& tips) {
  std::string objects = repo + "/objects";
  if (path_exists(objects + "/info/alternates")) return std::nullopt;
  DIR* d = ::opendir(objects.c_str());
  if (!d) return std::nullopt;
  bool loose = false;
  while (dirent* e = ::readdir(d))
    if (is_hex2(e->d_name) && directory_has_entries(objects + "/" + e->d_name)) {
      loose = true;
      break;
    }
  ::closedir(d);
  if (loose) return std::nullopt;
  d = ::opendir((objects + "/pack").c_str());
  if (!d) return std::nullopt;
  std::vector<std::string> packs;
  bool other = false;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    auto ends = [&](const std::string& suffix) {
      return n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends(".pack")) packs.push_back(n);
    if (ends(".promisor") || ends(".mtimes") || n.rfind("tmp_", 0) == 0 || n.rfind(".tmp-", 0) == 0) other = true;
  }
  ::closedir(d);
  if (other || packs.size() != 1) return std::nullopt;
  std::string pack = objects + "/pack/" + packs[0];
  if (!path_exists(pack.substr(0, pack.size() - 5) + ".idx")) return std::nullopt;
  if (!missing_objects(repo, tips).empty()) return std::nullopt;
  return pack;
}

// Copies a file into `writer` through one descriptor, so a concurrent repack (which writes
// new files and unlinks these) cannot change what is read. nullopt when it cannot be opened.
std::optional<FileEnds> copy_file_into(const std::string& path, HashingWriter& writer) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  StreamBuffer buf;
  FileEnds ends;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw_errno("read", path, err);
    }
    if (n == 0) break;
    writer.write(buf.data(), static_cast<std::size_t>(n));
    ends.add(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return ends;
}

// Copies the pack file as it is behind the bundle header; returns the pack's checksum, or
// nullopt when the file could not be opened.
std::optional<std::string> copy_pack(const std::string& pack_path, HashingWriter& writer) {
  auto ends = copy_file_into(pack_path, writer);
  if (!ends) return std::nullopt;
  auto checksum = pack_checksum(*ends);
  if (!checksum) throw Error(ErrorCode::Corrupt, pack_path + ": not a pack file");
  return checksum;
}

// The companions of the pack the bundle carries, beside it (record.h, PackCompanions), each
// committed only when it names the pack that was copied (a repack may have replaced it
// meanwhile). No index, no companions: the restore then re-indexes the pack.
PackCompanions copy_pack_companions(const std::string& pack_path, const std::string& checksum, Sink& sink,
                                    const RepositoryFiles& files) {
  const std::string base = pack_path.substr(0, pack_path.size() - 4);  // "…/pack-X."
  PackCompanions out;
  for (PackCompanion c : kPackCompanions) {
    const std::string path = base + extension(c);
    if (!path_exists(path)) continue;
    const std::string& name = files.companion(c);
    HashingWriter writer(sink.create_new(name), name);
    auto ends = copy_file_into(path, writer);
    if (ends && pack_named_by(c, *ends) == checksum) out.of(c) = writer.commit();
    if (c == PackCompanion::Index && !out.index) break;  // no index, no companions
  }
  return out;
}

// Streams `git pack-objects` of everything reachable from the snapshot into the bundle; for
// an increment, of everything reachable from it and not from the prerequisites (a thin pack:
// its deltas may refer to objects the earlier steps hold).
// `tips` is ref_tips(snap).
// When the bundle carries the repository's pack as it is and options.keep_pack_index is set,
// its companions are copied too, into *companions.
FileDigest write_bundle(const Repository& repo, const RefSnapshot& snap, const std::vector<std::string>& tips,
                        Sink& sink, const RepositoryFiles& files, const RepositoryBackupOptions& options,
                        const std::vector<std::string>& prerequisites, PackCompanions* companions) {
  const std::string& name = files.bundle;
  BundleHeader header;
  header.prerequisites = prerequisites;
  if (!snap.head_oid.empty()) header.refs.push_back({snap.head_oid, "HEAD"});
  header.refs.insert(header.refs.end(), snap.refs.begin(), snap.refs.end());

  std::optional<std::string> pack;
  if (options.reuse_single_pack && prerequisites.empty()) pack = single_pack(repo.path, tips);
  HashingWriter writer(sink.create_new(name), name);
  std::string head = format_bundle_header(header);
  writer.write(head.data(), head.size());
  if (pack) {
    if (auto checksum = copy_pack(*pack, writer)) {
      FileDigest bundle = writer.commit();
      if (options.keep_pack_index && companions) *companions = copy_pack_companions(*pack, *checksum, sink, files);
      return bundle;
    }
  }
  if (!prerequisites.empty() && options.small_increments_in_process) {
    if (auto small = small_increment_pack(repo.path, tips, prerequisites)) {
      writer.write(small->data(), small->size());
      return writer.commit();
    }
  }

  std::vector<std::string> args = {"pack-objects", "--stdout", "--revs", "--delta-base-offset", "-q"};
  if (!prerequisites.empty()) args.push_back("--thin");
  if (options.pack_threads > 0) args.push_back("--threads=" + std::to_string(options.pack_threads));
  ProcessSpec spec = git_command(repo.path, args);
  spec.stdin_producer = [&](PipeWriter& in) {
    std::string lines;
    for (const auto& t : tips) lines += t + "\n";
    for (const auto& p : prerequisites) lines += "^" + p + "\n";
    in.write(lines.data(), lines.size());
  };
  std::uint64_t pack_bytes = 0;
  spec.stdout_consumer = [&](const char* data, std::size_t size) {
    writer.write(data, size);
    pack_bytes += size;
  };
  ProcessResult result = run_process(spec);
  if (!result.ok())
    throw Error(ErrorCode::Git, "git pack-objects in " + repo.path + " failed: " + result.describe());
  if (pack_bytes < 32)
    throw Error(ErrorCode::Git, "git pack-objects in " + repo.path + " produced no pack");
  return writer.commit();
}

}  // namespace

namespace {

// This backup's step of the repository as a full one, step 1 of a chain of its own.
void start_full_step(RepositoryRecord& out) {
  out.kind = StepKind::Full;
  out.step = 1;
  out.previous_steps.clear();
  out.chain_in.clear();
  out.bundle.reset();
  out.pack.reset();
  out.step_backup_id.clear();
  out.pool = {};
}

// A step that would be full, on the pool's chain instead (RepositoryBackupOptions::pool):
// returns the prerequisites of its bundle (the pool's tips), or {} when it stays full.
std::vector<std::string> step_on_pool(const Repository& repo, const RepositoryBackupOptions& options,
                                      RepositoryRecord& out) {
  const PoolBackup* pool = options.pool;
  if (!pool || pool->chain.empty() || pool->tips.empty()) return {};
  std::vector<std::string> gone = missing_objects(repo.path, pool->tips);
  if (!gone.empty()) {
    out.warnings.push_back("its pool " + pool->relative_path + " has moved on since its backup (" + gone[0] +
                           " is gone): a full bundle");
    return {};
  }
  out.kind = StepKind::Incremental;
  out.previous_steps = pool->chain;
  out.step = static_cast<int>(out.previous_steps.size()) + 1;
  out.pool = {pool->relative_path, pool->chain.size()};
  return pool->tips;
}

// Incremental: decides this backup's step of the repository from the previous backup's
// (options.previous) — unchanged, an increment, or full when history was rewritten or the
// previous step is unusable — and fills kind, step and chain in `out`. Returns the
// prerequisites of an increment's bundle (the previous step's tips).
std::vector<std::string> step_on_previous(const Repository& repo, Sink& sink, const RefSnapshot& snap,
                                          const std::string& refs_text, const RepositoryBackupOptions& options,
                                          RepositoryRecord& out) {
  const RepositoryRecord* prev = options.previous;
  const bool builds_on_prev = prev && prev->refs && ((prev->status == ItemStatus::Ok && !snap.empty()) ||
                                                     (prev->status == ItemStatus::Empty && snap.empty()));
  if (!builds_on_prev) return {};
  // A full backup takes again only a step that is itself a full bundle, a chain of one.
  if (options.full && (prev->step != 1 || !prev->previous_steps.empty() || !prev->chain_in.empty() || prev->pool.linked()))
    return {};
  try {
    // Byte for byte the previous step's .refs file, told by its recorded size and SHA-256:
    // an unchanged repository costs no read of the backup at all (which matters once
    // backups live in object storage, a request per file).
    if (prev->refs->size == refs_text.size() && prev->refs->sha256 == sha256_hex(refs_text) &&
        prev->head_target == snap.head_target) {
      // Nothing changed: the previous step itself, recorded again — no data, no git, and the
      // chain does not grow, so a month of quiet nights costs what one does.
      // The step's files belong to the backup that wrote them: the previous backup, or for a
      // step it recorded unchanged, the one before it that did (as_chain_step).
      ChainStep same = as_chain_step(*prev, options.previous_id);
      out.kind = StepKind::Unchanged;
      out.step = same.number;
      out.previous_steps = prev->previous_steps;
      out.chain_in = prev->chain_in;  // the chain stays where it is, named, not repeated
      out.pool = prev->pool;
      out.bundle = std::move(same.bundle);
      out.pack = std::move(same.pack);
      out.refs = std::move(same.refs);
      out.step_backup_id = std::move(same.backup_id);
      return {};
    }
    if (options.full) return {};  // changed: a new full bundle
    std::string prev_text = read_verified(sink, *prev->refs);
    std::vector<std::string> prev_tips = ref_tips(parse_refs_file(prev_text, sink.describe(prev->refs->name)));
    std::vector<std::string> gone = missing_objects(repo.path, prev_tips);
    if (!gone.empty()) {
      out.warnings.push_back("history rewritten since backup " + options.previous_id + " (" +
                             std::to_string(gone.size()) + " of its tips are gone, e.g. " + gone[0] +
                             "): full bundle instead of an increment");
      return {};
    }
    const std::size_t own_steps = static_cast<std::size_t>(prev->step) - static_cast<std::size_t>(prev->pool.steps);
    if (options.max_chain > 0 && own_steps >= static_cast<std::size_t>(options.max_chain)) {
      out.warnings.push_back("its chain has " + std::to_string(own_steps) + " steps, the most max_chain allows: "
                             "full bundle, a new chain");
      return {};
    }
    out.kind = StepKind::Incremental;
    if (!prev->chain_read() && !options.chain_of)
      throw Error(ErrorCode::Internal, "the previous step's chain was not read");
    out.previous_steps = prev->chain_read() ? prev->previous_steps : options.chain_of(*prev);
    out.chain_in.clear();  // a new step: its chain goes to this backup's chain file
    out.pool = prev->pool;
    out.previous_steps.push_back(as_chain_step(*prev, options.previous_id));
    out.step = static_cast<int>(out.previous_steps.size()) + 1;
    return prev_tips;
  } catch (const Error& e) {
    out.warnings.push_back(std::string("previous step unusable (") + e.what() + "): full bundle");
    start_full_step(out);
    return {};
  }
}

// The repository's custom_hooks directory as a tar, unless the previous step's archive is
// byte for byte the same (then that one is named again).
void back_up_hooks(const Repository& repo, Sink& sink, const RepositoryFiles& files,
                   const RepositoryRecord* prev, RepositoryRecord& out) {
  std::string hooks_dir = repo.path + "/custom_hooks";
  if (!is_directory_nofollow(hooks_dir)) return;
  std::vector<std::string> skipped;
  std::string tar = tar_hooks_directory(hooks_dir, &skipped);
  for (const auto& s : skipped) out.warnings.push_back("custom hook " + s + " is not a regular file; not backed up");
  if (out.kind != StepKind::Full && prev && prev->custom_hooks && prev->custom_hooks->sha256 == sha256_hex(tar) &&
      prev->custom_hooks->size == tar.size()) {
    out.custom_hooks = prev->custom_hooks;  // the same archive as the previous step's
  } else {
    out.custom_hooks = write_whole(sink, files.custom_hooks, tar, FileDurability::AtRunSync);
    out.bytes += out.custom_hooks->size;
  }
}

}  // namespace

std::optional<PoolBackup> pool_backup_of(const RepositoryRecord& pool, const std::string& backup_id,
                                         std::vector<std::string> tips) {
  if (pool.status != ItemStatus::Ok || !pool.refs || pool.pool.linked() || tips.empty()) return std::nullopt;
  PoolBackup out;
  out.relative_path = pool.relative_path;
  out.chain = pool.previous_steps;
  out.chain.push_back(as_chain_step(pool, backup_id));
  out.tips = std::move(tips);
  return out;
}

void backup_repository(const Repository& repo, Sink& sink, const StepFiles& files_for_step,
                       const RepositoryBackupOptions& options, RepositoryRecord& out) {
  RefSnapshot snap = read_refs(repo.path);
  out.head_target = snap.head_target;
  out.head_oid = snap.head_oid;
  out.ref_count = snap.refs.size();
  out.bytes = 0;
  start_full_step(out);
  const std::string refs_text = format_refs_file(snap);
  const std::vector<std::string> tips = ref_tips(snap);  // sorted, as prerequisites are
  std::vector<std::string> prerequisites = step_on_previous(repo, sink, snap, refs_text, options, out);
  if (options.tips_out) *options.tips_out = tips;
  if (out.kind == StepKind::Full && !snap.empty()) prerequisites = step_on_pool(repo, options, out);
  RepositoryFiles files = files_for_step(out.step);

  if (out.kind == StepKind::Full && !snap.empty()) {
    out.bundle = write_bundle(repo, snap, tips, sink, files, options, {}, &out.pack);
    out.bytes += out.bundle->size;
    for (PackCompanion c : kPackCompanions)
      if (out.pack.of(c)) out.bytes += out.pack.of(c)->size;
  } else if (out.kind == StepKind::Incremental) {
    // A bundle only when some tip is new; deletions and moves to known objects need none.
    if (!std::includes(prerequisites.begin(), prerequisites.end(), tips.begin(), tips.end())) {
      out.bundle = write_bundle(repo, snap, tips, sink, files, options, prerequisites, nullptr);
      out.bytes += out.bundle->size;
    }
  }
  if (out.kind != StepKind::Unchanged) {
    out.refs = write_whole(sink, files.refs, refs_text, FileDurability::AtRunSync);
    out.bytes += out.refs->size;
  }
  back_up_hooks(repo, sink, files, options.previous, out);
  out.status = snap.empty() ? ItemStatus::Empty : ItemStatus::Ok;
}

}  // namespace gitvault
