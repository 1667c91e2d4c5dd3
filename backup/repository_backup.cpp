#include "backup/repository_backup.h"

#include <set>

#include "gitaly/bundle.h"
#include "gitaly/error.h"
#include "gitaly/files.h"
#include "gitaly/hooks_tar.h"
#include "gitaly/process.h"
#include "gitaly/refs.h"

namespace gitvault {
namespace {

// Streams `git pack-objects` of everything reachable from the snapshot into the bundle.
FileDigest write_bundle(const Repository& repo, const RefSnapshot& snap, Sink& sink, const std::string& name,
                        const RepositoryBackupOptions& options) {
  BundleHeader header;
  if (!snap.head_oid.empty()) header.refs.push_back({snap.head_oid, "HEAD"});
  header.refs.insert(header.refs.end(), snap.refs.begin(), snap.refs.end());

  HashingWriter writer(sink.create(name), name);
  std::string head = format_bundle_header(header);
  writer.write(head.data(), head.size());

  std::vector<std::string> args = {"pack-objects", "--stdout", "--revs", "--delta-base-offset", "-q"};
  if (options.pack_threads > 0) args.push_back("--threads=" + std::to_string(options.pack_threads));
  ProcessSpec spec = git_command(repo.path, args);
  std::set<std::string> tips;
  for (const auto& r : header.refs) tips.insert(r.oid);
  spec.stdin_producer = [&](PipeWriter& in) {
    std::string lines;
    for (const auto& t : tips) lines += t + "\n";
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

void backup_repository(const Repository& repo, Sink& sink, const RepositoryFiles& files,
                       const RepositoryBackupOptions& options, RepositoryRecord& out) {
  RefSnapshot snap = read_refs(repo.path);
  out.head_target = snap.head_target;
  out.head_oid = snap.head_oid;
  out.ref_count = snap.refs.size();
  out.bytes = 0;

  if (!snap.empty()) {
    out.bundle = write_bundle(repo, snap, sink, files.bundle, options);
    out.bytes += out.bundle->size;
  }
  out.refs = write_whole(sink, files.refs, format_refs_file(snap));
  out.bytes += out.refs->size;

  std::string hooks_dir = repo.path + "/custom_hooks";
  if (is_directory_nofollow(hooks_dir)) {
    std::vector<std::string> skipped;
    std::string tar = tar_hooks_directory(hooks_dir, &skipped);
    for (const auto& s : skipped) out.warnings.push_back("custom hook " + s + " is not a regular file; not backed up");
    out.custom_hooks = write_whole(sink, files.custom_hooks, tar);
    out.bytes += out.custom_hooks->size;
  }
  out.status = snap.empty() ? "empty" : "ok";
}

}  // namespace gitvault
