// The destination as it stood at a moment (docs/object-storage.md, "Restore as the bucket
// was"): on a versioned bucket (Object Lock), each name reads as its newest version written
// at or before the moment; a name whose newest such version is a delete marker, or that had
// none yet, is absent. What an attacker holding the host's keys did afterwards — delete
// markers, new versions over records and bundles — is not seen: locked versions cannot be
// removed, so they are all still there to read. Versions newer than the moment are counted
// and named (`passed_over`), never read. Read-only: every write and removal is refused.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "destination/s3_sink.h"

namespace gitvault {

class AsOfSink : public Sink {
 public:
  // Lists every version under the prefix once.
  AsOfSink(std::unique_ptr<S3Sink> current, std::int64_t moment);
  std::unique_ptr<SinkWriter> create(const std::string& name) override;
  std::unique_ptr<ByteReader> open(const std::string& name) override;
  FilePeek peek(const std::string& name, std::size_t head, std::size_t tail) override;
  bool exists(const std::string& name) override { return at_moment_.count(name) > 0; }
  std::vector<std::string> list(const std::string& prefix) override;
  std::vector<std::string> list_after(const std::string& prefix, const std::string& after) override;
  void remove(const std::string& name) override;
  void sync() override {}
  std::string describe(const std::string& name) const override;
  // The lock is the destination's as it is now (a reader's shared lease).
  std::unique_ptr<SinkLock> lock(const LockHolder& me, std::chrono::milliseconds wait,
                                 LockName name = LockName::Directory) override {
    return current_->lock(me, wait, name);
  }
  std::size_t remove_unfinished_writes(const std::function<bool(const std::string&)>&) override { return 0; }
  std::vector<std::string> list_recursive(const std::string& prefix) override;
  std::string unreachable() override { return current_->unreachable(); }
  void check_usable() override { current_->check_usable(); }

  std::int64_t moment() const { return moment_; }
  // Names with a version (or delete marker) newer than the moment, sorted.
  const std::vector<std::string>& passed_over() const { return passed_over_; }

 private:
  [[noreturn]] void refuse_write(const std::string& name) const;
  // The version `name` had at the moment; Error(NotFound) naming it when it had none.
  const std::string& version_of(const std::string& name) const;
  std::unique_ptr<S3Sink> current_;
  const std::int64_t moment_;
  std::map<std::string, std::string> at_moment_;  // name -> version id, names present at the moment
  std::vector<std::string> passed_over_;
};

}  // namespace gitvault
