// Progress of a long run over many repositories. On a terminal: one live line with
// done/total, bytes, throughput and ETA, plus a line for each failure. Otherwise: one log
// line per repository. With json: one JSON object per repository, and between them a
// status object at a steady rate (every `status_every`, as restic does) so that a long run
// with a slow repository still shows it is alive: {"event":"status","verb":...,"done":N,
// "total":M,"bytes":B,"seconds":S,"percent_done":P} (docs/json.md).
// Thread-safe: item_done may be called from several workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "base/run_observer.h"

namespace gitvault {

enum class OutputMode { Human, Json };

// The observer of every run that prints (base/run_observer.h).
class ProgressPrinter : public RunObserver {
 public:
  ProgressPrinter(std::FILE* out, OutputMode mode,
                  std::chrono::milliseconds status_every = std::chrono::milliseconds(1000));
  ~ProgressPrinter() override;
  ProgressPrinter(const ProgressPrinter&) = delete;
  ProgressPrinter& operator=(const ProgressPrinter&) = delete;
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
  void print_status();                 // requires mu_
  void tick_until_finished();          // the status thread
  void stop_ticking();
  std::FILE* const out_;
  const OutputMode mode_;
  const bool tty_;
  std::mutex mu_;
  std::string verb_;                   // guarded by mu_
  std::size_t total_ = 0;              // guarded by mu_
  std::size_t done_ = 0;               // guarded by mu_
  std::uint64_t bytes_ = 0;            // guarded by mu_
  std::chrono::steady_clock::time_point start_;  // guarded by mu_
  const std::chrono::milliseconds status_every_;
  std::condition_variable wake_;
  bool ticking_ = false;               // guarded by mu_
  std::thread ticker_;                 // json mode, between started() and finished()
};


// "N failures encountered:" then " - <storage> <relative path> (<project path>): <reason>".
void print_failures(std::FILE* out, const std::vector<Failure>& failures);

std::string human_bytes(std::uint64_t bytes);
std::string human_duration(double seconds);

}  // namespace gitvault
