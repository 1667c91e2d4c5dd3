// A backup destination in S3-compatible object storage (s3://bucket/prefix), with the
// contract of destination/sink.h and its conformance suite:
//  - create() streams: bytes are buffered up to one part (part_size); a file that stays
//    smaller is one PUT at commit, a larger one a multipart upload whose parts go out as
//    they fill, so memory stays at one part per writer. commit() completes the upload, so
//    nothing is visible under the name before it is whole; a writer dropped without commit
//    aborts its upload. Each part and each PUT carries its SHA-256 (checked by the server)
//    and Content-MD5.
//  - open() reads in ranged GETs of one part, on demand.
//  - lock() is the lease of docs/locking.md: lease objects under +gitvault/holders/, the
//    exclusive one created with If-None-Match: *, renewed by a thread while the run lives,
//    expiry judged by the server's clock; an expired lease is a dead run's and is taken over.
//  - remove_unfinished_writes(ours) aborts the multipart uploads left under the prefix.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "destination/sink.h"
#include "s3/client.h"

namespace gitvault {

class S3Sink : public Sink {
 public:
  S3Sink(s3::Url url, s3::Credentials credentials);
  ~S3Sink() override;
  std::unique_ptr<SinkWriter> create(const std::string& name) override;
  std::unique_ptr<ByteReader> open(const std::string& name) override;
  FilePeek peek(const std::string& name, std::size_t head, std::size_t tail) override;  // ranged GETs
  bool exists(const std::string& name) override;
  std::vector<std::string> list(const std::string& prefix) override;
  std::vector<std::string> list_after(const std::string& prefix, const std::string& after) override;
  void remove(const std::string& name) override;
  void remove_many(const std::vector<std::string>& names) override;
  void sync() override {}  // a completed PUT or upload is durable when it returns
  std::string describe(const std::string& name) const override;
  std::unique_ptr<SinkLock> lock(const LockHolder& me, std::chrono::milliseconds wait,
                                 LockName name = LockName::Directory) override;
  std::size_t remove_unfinished_writes(const std::function<bool(const std::string&)>& ours) override;
  std::vector<std::string> list_recursive(const std::string& prefix) override;
  std::vector<ListedFile> list_recursive_sized(const std::string& prefix) override;

  // The destination stopped answering (s3::DestinationHealth), or "".
  std::string unreachable() override;
  std::int64_t lock_for() const override { return url_.object_lock.empty() ? 0 : url_.lock_for; }
  // PutObjectRetention in the configured mode: one request; when the server refuses because
  // the lock reaches further already (it never shortens one), that is success.
  void extend_lock(const std::string& name, std::int64_t until) override;
  // On a bucket with object_lock configured (a versioned one): ListObjectVersions of the
  // prefix, then a versioned DELETE per old version of each removed object.
  OldVersions remove_old_versions(const std::function<bool(const std::string&)>& ours, bool dry_run) override;

  // Versioned reads (destination/as_of_sink.h): every version and delete marker under the
  // prefix, keys as sink names; one version read or peeked.
  std::vector<s3::ObjectVersion> versions();
  std::unique_ptr<ByteReader> open_version(const std::string& name, const std::string& version_id);
  FilePeek peek_version(const std::string& name, const std::string& version_id, std::size_t head, std::size_t tail);
  const s3::Url& url() const { return url_; }

  // The object key of a sink name (bytes that are not UTF-8, control characters and '%'
  // as %XX: object keys must be UTF-8).
  std::string key(const std::string& name) const;

  // Error(Config) naming what is wrong when the endpoint, the bucket or the keys cannot be
  // used; one request, once per sink (taking a lock asks too).
  void check_usable() override;

 private:
  std::atomic<bool> usable_checked_{false};
  // A client for the calling thread (libcurl handles are not shared between threads).
  s3::Client& client();
  // Throws when this sink's lock lease was lost: nothing more is written or removed.
  void check_lease() const;
  s3::Url url_;
  s3::Credentials credentials_;
  struct Clients;
  std::unique_ptr<Clients> clients_;
 public:
  // Whether this run's lease still holds (shared with the lease's renewer thread).
  struct LeaseState;
 private:
  std::shared_ptr<LeaseState> lease_state_;
};

// The sink a --path or [backup] path names: "s3://..." (S3Sink, credentials from the
// environment or the shared credentials file), a local directory (LocalSink, "file://"
// allowed). Any other scheme is an error (Error(Usage), exit 2), never a directory named
// "s3:".
std::unique_ptr<Sink> open_sink(const std::string& location);

}  // namespace gitvault
