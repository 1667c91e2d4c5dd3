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

namespace gitvault {

enum class OutputMode { Human, Json };

class Progress {
 public:
  Progress(std::string verb, std::size_t total, std::FILE* out, OutputMode mode);
  // status: "ok", "empty", "failed", "skipped"...; detail: the error or the path taken.
  void item_done(const std::string& storage, const std::string& relative_path, const std::string& status,
                 std::uint64_t bytes, double seconds, const std::string& detail);
  void finish();
  double elapsed_seconds() const;

 private:
  void draw_live_line();  // requires mu_
  std::string verb_;
  std::size_t total_;
  std::FILE* out_;
  OutputMode mode_;
  bool tty_;
  std::mutex mu_;
  std::size_t done_ = 0;            // guarded by mu_
  std::uint64_t bytes_ = 0;         // guarded by mu_
  std::chrono::steady_clock::time_point start_;
};

struct Failure {
  std::string storage;
  std::string relative_path;
  std::string project_path;
  std::string reason;
};

// "N failures encountered:" then " - <storage> <relative path> (<project path>): <reason>".
void print_failures(std::FILE* out, const std::vector<Failure>& failures);

std::string human_bytes(std::uint64_t bytes);
// This process's own peak resident set size (not its children's), in KiB.
long peak_rss_kib();
std::string human_duration(double seconds);

}  // namespace gitvault
