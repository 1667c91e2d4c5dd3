// The sink: the one interface through which everything a backup writes (and a restore
// reads) goes. Names are relative, '/'-separated ("20240101000000/default/group/p.bundle").
// LocalSink keeps them in a directory; an object-storage sink will implement the same
// contract, and tests/destination/sink_conformance_test.cpp is the suite every sink must pass.
//
// Contract:
//  - create(name) returns a writer; nothing is visible under `name` until commit() returns.
//    A writer destroyed without commit() leaves nothing behind, not even a temporary file.
//  - commit() makes the content durable (fsync) and visible atomically, replacing any
//    previous content of `name`. That the name itself survives a crash is guaranteed once
//    sync() returns: a backup run calls it before its record may say "complete".
//  - Every error names the full location (sink describe(name)).
#pragma once

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <sys/types.h>
#include <utility>
#include <string>
#include <vector>

#include "base/byte_reader.h"
#include "base/run_lock.h"

namespace gitvault {

struct FileDigest;

// What a destination holds of a file when it is not the bytes written (a sealed file: the age
// file): its SHA-256 and size, so it can be checked without being opened.
struct StoredDigest {
  std::string sha256;
  std::uint64_t size = 0;
};

class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual void write(const void* data, std::size_t size) = 0;
  virtual void commit() = 0;
  // After commit(): what the destination holds, when that is not what was written.
  virtual std::optional<StoredDigest> stored() const { return std::nullopt; }
};

// A run's hold on a destination (docs/locking.md); released when destroyed.
class SinkLock {
 public:
  virtual ~SinkLock() = default;
  // Holders that died holding the lock (their records are gone now).
  virtual const std::vector<LockHolder>& dead_holders() const = 0;
  // Whether one of them was a writer (backup, prune): its leftovers need reclaiming.
  bool writer_died() const;
  // Holder files or leases that could not be read: left alone, reported in the run's notes.
  virtual std::vector<std::string> unreadable_holders() const { return {}; }
  // Why this run no longer holds the lock (a lease that could not be renewed in time, or that
  // another run took over), empty while it does. Once lost, the sink refuses every write and
  // removal, so no record can say complete (destination/s3_sink.h); a local lock is never lost.
  virtual std::string lost() const { return ""; }
};

// What Sink::remove_old_versions found: versions of removed objects deleted for good, and
// those Object Lock still keeps (with their size).
struct OldVersions {
  std::size_t removed = 0;
  std::size_t locked = 0;
  std::uint64_t locked_bytes = 0;
};

// The destination's two locks (Sink::lock).
enum class LockName { Directory, Pins };

// A name from a listing and the bytes it takes in the destination (Sink::list_recursive_sized).
struct ListedFile {
  std::string name;
  std::uint64_t size = 0;
};

// A file's two ends (Sink::peek): its first bytes, its last bytes and its size.
struct FilePeek {
  std::string head;  // the whole file when it is no longer than asked for
  std::string tail;
  std::uint64_t size = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::unique_ptr<SinkWriter> create(const std::string& name) = 0;
  // A file a backup run writes under a name no committed file has (bundles, .refs, hooks,
  // pack companions, <id>.toml): visible atomically at commit() like any, but made durable
  // by the run's sync() — which comes before any record that names it may say complete —
  // instead of file by file (local: no fsync per file; a backup of 1,000 repositories wrote
  // 6,000 files and spent 2.9 s of its 4.2 s in fsync). A crash before that sync() may leave
  // such a file torn under its name; no complete record names it then, and prune reclaims
  // it. Never for a name that replaces content (+latest.toml, records, plans).
  virtual std::unique_ptr<SinkWriter> create_new(const std::string& name) { return create(name); }
  // A file that replaces content an earlier run wrote (+latest.toml): at commit() its new
  // content is written under a temporary name, and it takes the name at the run's next
  // sync(), once that content is durable — readers see the old content or the new one,
  // never a torn file, and no fsync per file is paid (a full backup of 1,000 repositories
  // spent 0.42 s in the fsyncs of its +latest.toml files). A run that dies before its sync()
  // leaves the old content, and a temporary file the next writer reclaims. Object storage:
  // as create() (an object is replaced whole when its upload completes).
  virtual std::unique_ptr<SinkWriter> create_replacement(const std::string& name) { return create(name); }
  virtual std::unique_ptr<ByteReader> open(const std::string& name) = 0;  // Error(NotFound) if absent
  // The first `head` and last `tail` bytes of a file without reading what lies between
  // (choosing a backup reads each record's header line and end, not its repositories). This
  // default reads the whole file.
  virtual FilePeek peek(const std::string& name, std::size_t head, std::size_t tail);
  virtual bool exists(const std::string& name) = 0;
  // Names of the entries directly inside directory `prefix` ("" for the top).
  virtual std::vector<std::string> list(const std::string& prefix) = 0;
  // The same, only names that sort after `after` (byte order): object storage asks the
  // server to start there (a night lists the newest records, not a year of them).
  virtual std::vector<std::string> list_after(const std::string& prefix, const std::string& after);
  virtual void remove(const std::string& name) = 0;  // missing is fine
  // Removes every name (missing ones are fine); object storage: batch deletes.
  virtual void remove_many(const std::vector<std::string>& names) {
    for (const auto& n : names) remove(n);
  }
  // Removes the directories above `name` that are left empty (stores without directories:
  // nothing to do). Only prune calls it, never concurrently with a backup writing there.
  virtual void remove_empty_parents(const std::string& name) { (void)name; }
  // Makes every committed name durable (local: syncfs of the file system holding the sink).
  virtual void sync() = 0;
  // Where `name` lives, for messages: a path or URL.
  virtual std::string describe(const std::string& name) const = 0;
  // Takes one of the destination's locks for `me` (shared for readers, exclusive for
  // writers), waiting up to `wait`; throws Error(Locked) naming the holders
  // (docs/locking.md). LockName::Directory is the lock of every run; LockName::Pins is
  // taken shared by the readers that run beside a backup (a restore drill) and exclusive by
  // prune, the one run that removes what they read.
  virtual std::unique_ptr<SinkLock> lock(const LockHolder& me, std::chrono::milliseconds wait,
                                         LockName name = LockName::Directory) = 0;
  // Removes what writers that never committed left behind (local: "*.tmp-*" files; object
  // storage: unfinished multipart uploads of names `ours` accepts — another tool's upload
  // in a shared bucket is not gitvault's). Only under the exclusive lock. Returns how many.
  virtual std::size_t remove_unfinished_writes(const std::function<bool(const std::string& name)>& ours) = 0;
  // Every committed name under `prefix` ("" for all), recursively, in no particular order.
  virtual std::vector<std::string> list_recursive(const std::string& prefix) = 0;
  // The same with each file's stored size, from one listing (object storage lists sizes; a
  // directory costs one fstatat per file). This default knows no sizes (0).
  virtual std::vector<ListedFile> list_recursive_sized(const std::string& prefix);
  // Why the destination cannot be used any more — object storage that stopped answering
  // (s3::DestinationHealth), a local directory that is gone or was unmounted — or empty while
  // it can. Cheap: a run asks before each repository and stops instead of failing each one.
  virtual std::string unreachable() { return ""; }
  // Object Lock (docs/object-storage.md): how long every object written is locked, in
  // seconds; 0 when this destination does not lock (a directory, a bucket without object_lock).
  virtual std::int64_t lock_for() const { return 0; }
  // Whether a backup writes each name here once and deletes nothing but its leases
  // (docs/object-storage.md "Append-only keys"): on a destination that locks, so that keys
  // which can neither delete nor overwrite run every backup. It writes no "running" record
  // (a dead run leaves files no record names, which prune reclaims) and no +latest.toml
  // (gitaly-backup's pointer to the newest manifest, replaced by every night).
  bool append_only() const { return lock_for() > 0; }
  // Extends the lock of `name` (its current version) to `until`, Unix seconds; destinations
  // that do not lock: nothing. Throws Error naming the object when the server refuses.
  virtual void extend_lock(const std::string& name, std::int64_t until) {
    (void)name;
    (void)until;
  }
  // A versioned (Object Lock) destination keeps the versions of what remove() removed — a
  // delete only adds a delete marker. This deletes for good every version of a removed object
  // whose name `ours` accepts that no lock keeps any more, and the marker once nothing is left
  // under it; versions still locked are counted, never an error. With `dry_run`, only counts
  // (every old version as locked: whether a lock still holds is learnt by trying). Only
  // under the exclusive lock. Destinations without versions: nothing.
  virtual OldVersions remove_old_versions(const std::function<bool(const std::string& name)>& ours, bool dry_run) {
    (void)ours;
    (void)dry_run;
    return {};
  }
  // The path a repository's files are named under here: its relative path, or on a sealed
  // destination an opaque name (destination/sealed_sink.h). A backup asks once per
  // repository and keeps the answer in its record, which readers go by.
  virtual std::string repository_path_in(const std::string& storage, const std::string& relative_path) {
    (void)storage;
    return relative_path;
  }
  // Error(Config) saying what is wrong when the destination cannot be used at all (object
  // storage: the endpoint, the bucket, the keys), before a run makes any other request.
  virtual void check_usable() {}
  // What can be said of a file without reading its content, when this sink cannot read it
  // (a sealed file and no identity: destination/sealed_sink.h): "" when it looks as the
  // digest says, else what is wrong. nullopt: read it (check_file does).
  virtual std::optional<std::string> check_unread(const FileDigest& digest) {
    (void)digest;
    return std::nullopt;
  }
  // Whether open(name) can give the file's content here (false: a sealed file and no
  // identity or shadow copy of it).
  virtual bool can_read(const std::string& name) {
    (void)name;
    return true;
  }
};

// A directory on a local file system. Directories are created 0700, files 0600.
class LocalSink : public Sink {
 public:
  explicit LocalSink(std::string root);
  ~LocalSink() override;  // removes the temporary files of replacements no sync() took in
  std::unique_ptr<SinkWriter> create(const std::string& name) override;
  std::unique_ptr<SinkWriter> create_new(const std::string& name) override;
  std::unique_ptr<SinkWriter> create_replacement(const std::string& name) override;
  std::unique_ptr<ByteReader> open(const std::string& name) override;
  FilePeek peek(const std::string& name, std::size_t head, std::size_t tail) override;  // two preads
  bool exists(const std::string& name) override;
  std::vector<std::string> list(const std::string& prefix) override;
  void remove(const std::string& name) override;
  void remove_empty_parents(const std::string& name) override;
  // syncfs; then the replacements committed since the last sync() take their names, and
  // syncfs again.
  void sync() override;
  std::string describe(const std::string& name) const override;
  std::unique_ptr<SinkLock> lock(const LockHolder& me, std::chrono::milliseconds wait,
                                 LockName name = LockName::Directory) override;
  std::size_t remove_unfinished_writes(const std::function<bool(const std::string&)>& ours) override;
  std::vector<std::string> list_recursive(const std::string& prefix) override;
  std::vector<ListedFile> list_recursive_sized(const std::string& prefix) override;
  // The root is gone, or is another directory than the first time it was asked (the file
  // system under it was unmounted: a stale NFS mount point).
  std::string unreachable() override;

  // A committed replacement waiting for sync(): its temporary name, the name it takes, where
  // it is for messages, and its directory (relative to the root: reopened at sync(), no
  // descriptor held in between, so a run's descriptors do not grow with its files).
  struct PendingReplacement {
    std::string tmp, leaf, where, dir;
  };

 private:
  int open_dir(const std::string& rel, bool create) const;
  int open_file(const std::string& name) const;
  // `name` opened in one system call where the kernel can refuse every symbolic link on the
  // way itself (openat2, Linux 5.6); -1 with errno otherwise — callers then walk the path
  // component by component as open_dir does, which also words the errors.
  int open_in_one_call(const std::string& name, int flags) const;
  // Every committed file under `prefix`, with its size when `sized` (one fstatat each).
  std::vector<ListedFile> list_files(const std::string& prefix, bool sized) const;
  std::string root_;
  std::mutex identity_mu_;
  std::optional<std::pair<dev_t, ino_t>> identity_;  // the root's, when first asked; guarded by identity_mu_
  std::mutex pending_mu_;
  std::vector<PendingReplacement> pending_;  // guarded by pending_mu_
};

// Forwards every call to another sink: derive from it to change one behaviour (fault
// injection in tests, accounting) without restating the rest, as leveldb's EnvWrapper.
// create_new() and create_replacement() are not forwarded: they take the default, the
// wrapper's own create(), so a wrapper that changes create() sees every file written.
class SinkWrapper : public Sink {
 public:
  explicit SinkWrapper(Sink& target) : target_(target) {}
  Sink& target() { return target_; }
  std::unique_ptr<SinkWriter> create(const std::string& name) override { return target_.create(name); }
  std::unique_ptr<ByteReader> open(const std::string& name) override { return target_.open(name); }
  FilePeek peek(const std::string& name, std::size_t head, std::size_t tail) override {
    return target_.peek(name, head, tail);
  }
  bool exists(const std::string& name) override { return target_.exists(name); }
  std::vector<std::string> list(const std::string& prefix) override { return target_.list(prefix); }
  std::vector<std::string> list_after(const std::string& prefix, const std::string& after) override {
    return target_.list_after(prefix, after);
  }
  void remove(const std::string& name) override { target_.remove(name); }
  void remove_many(const std::vector<std::string>& names) override { target_.remove_many(names); }
  void remove_empty_parents(const std::string& name) override { target_.remove_empty_parents(name); }
  void sync() override { target_.sync(); }
  std::string describe(const std::string& name) const override { return target_.describe(name); }
  std::unique_ptr<SinkLock> lock(const LockHolder& me, std::chrono::milliseconds wait,
                                 LockName name = LockName::Directory) override {
    return target_.lock(me, wait, name);
  }
  std::size_t remove_unfinished_writes(const std::function<bool(const std::string&)>& ours) override {
    return target_.remove_unfinished_writes(ours);
  }
  std::vector<std::string> list_recursive(const std::string& prefix) override { return target_.list_recursive(prefix); }
  std::vector<ListedFile> list_recursive_sized(const std::string& prefix) override {
    return target_.list_recursive_sized(prefix);
  }
  std::string unreachable() override { return target_.unreachable(); }
  std::int64_t lock_for() const override { return target_.lock_for(); }
  void extend_lock(const std::string& name, std::int64_t until) override { target_.extend_lock(name, until); }
  OldVersions remove_old_versions(const std::function<bool(const std::string&)>& ours, bool dry_run) override {
    return target_.remove_old_versions(ours, dry_run);
  }
  std::string repository_path_in(const std::string& storage, const std::string& relative_path) override {
    return target_.repository_path_in(storage, relative_path);
  }
  std::optional<std::string> check_unread(const FileDigest& digest) override { return target_.check_unread(digest); }
  void check_usable() override { target_.check_usable(); }
  bool can_read(const std::string& name) override { return target_.can_read(name); }

 private:
  Sink& target_;
};

// Throws Error(PathEscape) unless name is a clean relative name (no "", ".", "..").
void check_sink_name(const std::string& name);

// A file written and what it holds, as recorded in the backup record.
struct FileDigest {
  std::string name;
  std::string sha256;
  std::uint64_t size = 0;
  // false: the backup that wrote the file recorded no checksum (gitaly-backup's own backups,
  // backup/gitaly_backups.h). Its size and SHA-256 are unknown and never compared; git's
  // own checks at restore (index-pack hashing, refs, connectivity) are all that prove it.
  bool has_checksum = true;
  // The digest of what the destination holds when that is not the file's bytes (a sealed
  // destination: the age file), checked by a quick verify that cannot open it.
  std::optional<StoredDigest> stored = std::nullopt;
};

// Wraps a writer to compute the SHA-256 and size of what passes through.
class HashingWriter {
 public:
  HashingWriter(std::unique_ptr<SinkWriter> inner, std::string name);
  ~HashingWriter();
  void write(const void* data, std::size_t size);
  FileDigest commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How a file written by a backup run becomes durable: by its own fsync at commit, or by the
// run's final Sink::sync() (Sink::create_new: new names only).
// AtRunSync: a new name (Sink::create_new); ReplacedAtRunSync: a replacement that takes its
// name at the run's sync() (Sink::create_replacement).
enum class FileDurability { AtCommit, AtRunSync, ReplacedAtRunSync };

// Writes a whole small file through the sink and returns its digest.
FileDigest write_whole(Sink& sink, const std::string& name, const std::string& data,
                       FileDurability durability = FileDurability::AtCommit);

// Reads a whole small file (a manifest, a plan); Error(NotFound) when absent.
std::string read_whole(Sink& sink, const std::string& name);

// Reads a whole small file and checks it against the digest (Error(Corrupt) naming it).
std::string read_verified(Sink& sink, const FileDigest& digest);

// What is wrong with a file of `size` bytes hashing to `sha256` that the backup recorded as
// `recorded` ("size is N bytes, the backup recorded M (truncated?)", "SHA-256 mismatch ..."),
// or "" when it matches (always for a file whose backup recorded no checksum). The one
// wording of every checksum check.
std::string digest_mismatch(const FileDigest& recorded, std::uint64_t size, const std::string& sha256);

// A file of any size streamed through SHA-256: its size and digest, or what stopped the read
// ("missing", or the error naming the file) in `error`.
struct FileHash {
  std::uint64_t size = 0;
  std::string sha256;
  std::string error;
};
FileHash hash_file(Sink& sink, const std::string& name);

// Streams a file of any size through SHA-256 and compares it with the digest. Returns what is
// wrong ("missing", "size is N bytes, the backup recorded M", "SHA-256 mismatch"), or "".
std::string check_file(Sink& sink, const FileDigest& digest);

}  // namespace gitvault
