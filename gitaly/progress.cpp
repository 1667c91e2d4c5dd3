#include "gitaly/progress.h"
#include "gitaly/encoding.h"

#include <sys/resource.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace gitvault {

long peak_rss_kib() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

std::string human_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

void print_failures(std::FILE* out, const std::vector<Failure>& failures) {
  if (failures.empty()) return;
  std::fprintf(out, "%zu failures encountered:\n", failures.size());
  for (const auto& f : failures)
    std::fprintf(out, " - %s %s (%s): %s\n", printable(f.storage).c_str(), printable(f.relative_path).c_str(),
                 f.project_path.empty() ? "no project path" : printable(f.project_path).c_str(),
                 printable(f.reason).c_str());
  std::fflush(out);
}

std::string human_duration(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) / 60) % 60);
  return buf;
}

Progress::Progress(std::string verb, std::size_t total, std::FILE* out, OutputMode mode)
    : verb_(std::move(verb)), total_(total), out_(out), mode_(mode), start_(std::chrono::steady_clock::now()) {
  tty_ = out_ && mode_ == OutputMode::Human && ::isatty(::fileno(out_));
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::draw_live_line() {
  double el = elapsed_seconds();
  double rate = el > 0 ? static_cast<double>(bytes_) / el : 0;
  std::string eta = "?";
  if (done_ > 0 && done_ < total_) eta = human_duration(el / static_cast<double>(done_) * static_cast<double>(total_ - done_));
  if (done_ == total_) eta = "0s";
  std::fprintf(out_, "\r\033[K%s: %zu/%zu repositories, %s, %s/s, ETA %s", verb_.c_str(), done_, total_,
               human_bytes(bytes_).c_str(), human_bytes(static_cast<std::uint64_t>(rate)).c_str(), eta.c_str());
  std::fflush(out_);
}

void Progress::item_done(const std::string& storage, const std::string& relative_path, const std::string& status,
                         std::uint64_t bytes, double seconds, const std::string& detail) {
  std::lock_guard<std::mutex> lock(mu_);
  ++done_;
  bytes_ += bytes;
  if (!out_) return;
  if (mode_ == OutputMode::Json) {
    nlohmann::json j = {{"event", verb_}, {"storage_name", storage}, {"relative_path", relative_path},
                        {"status", status}, {"bytes", bytes}, {"duration_seconds", seconds},
                        {"done", done_}, {"total", total_}};
    if (!detail.empty()) j[status == "failed" ? "error" : "detail"] = detail;
    std::fprintf(out_, "%s\n", to_json_text(j).c_str());
  } else if (tty_) {
    if (status == "failed")
      std::fprintf(out_, "\r\033[KFAILED %s %s: %s\n", printable(storage).c_str(), printable(relative_path).c_str(),
                   printable(detail).c_str());
    draw_live_line();
  } else {
    std::fprintf(out_, "%s [%zu/%zu] %-7s %s %s %s %s%s%s\n", verb_.c_str(), done_, total_, status.c_str(),
                 printable(storage).c_str(), printable(relative_path).c_str(), human_bytes(bytes).c_str(),
                 human_duration(seconds).c_str(), detail.empty() ? "" : " ", printable(detail).c_str());
  }
  std::fflush(out_);
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (tty_) {
    draw_live_line();
    std::fprintf(out_, "\n");
    std::fflush(out_);
  }
}

}  // namespace gitvault
