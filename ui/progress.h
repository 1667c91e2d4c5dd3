// Progress of a long run over many repositories. On a terminal: one live line with
// done/total, bytes, throughput and ETA, plus a line for each failure. Otherwise: one log
// line per repository. With json: one JSON object per repository.
// Thread-safe: item_done may be called from several workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "base/run_observer.h"

namespace gitvault {

enum class OutputMode { Human, Json };

// The observer of every run that prints (base/run_observer.h).
class ProgressPrinter : public RunObserver {
 public:
  ProgressPrinter(std::FILE* out, OutputMode mode);
  void started(const std::string& verb, std::size_t total) override;
  void item_done(const ItemDone& item) override;
  void finished() override;
  void note(const std::string& text) override;
  void warning(const std::string& text) override;
  void worker_text(const std::string& text) override;

 private:
  double elapsed_seconds() const;      // requires mu_
  void draw_live_line();               // requires mu_
  void print_line(const char* prefix, const std::string& text);
  std::FILE* const out_;
  const OutputMode mode_;
  const bool tty_;
  std::mutex mu_;
  std::string verb_;                   // guarded by mu_
  std::size_t total_ = 0;              // guarded by mu_
  std::size_t done_ = 0;               // guarded by mu_
  std::uint64_t bytes_ = 0;            // guarded by mu_
  std::chrono::steady_clock::time_point start_;  // guarded by mu_
};


// "N failures encountered:" then " - <storage> <relative path> (<project path>): <reason>".
void print_failures(std::FILE* out, const std::vector<Failure>& failures);

std::string human_bytes(std::uint64_t bytes);
std::string human_duration(double seconds);

}  // namespace gitvault
