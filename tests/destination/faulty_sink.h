// A sink decorator for tests: fails writes after a byte budget (as a full disk does),
// or fails commits (as a failed rename does), for names matching a substring.
#pragma once

#include <cerrno>
#include <memory>
#include <string>

#include "destination/sink.h"
#include "base/error.h"

namespace gitvault::testing {

class FaultySink : public SinkWrapper {
 public:
  explicit FaultySink(Sink& inner) : SinkWrapper(inner), inner_(inner) {}
  std::string fail_name_containing;           // "" = every name
  std::uint64_t bytes_before_enospc = ~0ull;  // per writer
  bool fail_commit = false;
  std::size_t pass_first = 0;  // the first N matching writers work normally

  std::unique_ptr<SinkWriter> create(const std::string& name) override {
    auto w = inner_.create(name);
    if (!fail_name_containing.empty() && name.find(fail_name_containing) == std::string::npos) return w;
    if (matched_++ < pass_first) return w;
    return std::make_unique<Writer>(std::move(w), *this, inner_.describe(name));
  }

 private:
  class Writer : public SinkWriter {
   public:
    Writer(std::unique_ptr<SinkWriter> w, FaultySink& s, std::string where) : w_(std::move(w)), s_(s), where_(where) {}
    void write(const void* d, std::size_t n) override {
      if (written_ + n > s_.bytes_before_enospc) throw_errno("write", where_, ENOSPC);
      written_ += n;
      w_->write(d, n);
    }
    void commit() override {
      if (s_.fail_commit) throw_errno("rename into place", where_, EIO);
      w_->commit();
    }

   private:
    std::unique_ptr<SinkWriter> w_;
    FaultySink& s_;
    std::string where_;
    std::uint64_t written_ = 0;
  };
  Sink& inner_;
  std::size_t matched_ = 0;
};

}  // namespace gitvault::testing
