#include "ui/progress.h"
#include "base/encoding.h"
#include "ui/json_line.h"

#include <sys/resource.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace gitvault {

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

ProgressPrinter::ProgressPrinter(std::FILE* out, OutputMode mode, std::chrono::milliseconds status_every)
    : out_(out), mode_(mode), tty_(out && mode == OutputMode::Human && ::isatty(::fileno(out))),
      start_(std::chrono::steady_clock::now()), status_every_(status_every) {}

ProgressPrinter::~ProgressPrinter() { stop_ticking(); }

void ProgressPrinter::started(const std::string& verb, std::size_t total) {
  stop_ticking();
  std::lock_guard<std::mutex> lock(mu_);
  verb_ = verb;
  total_ = total;
  done_ = 0;
  bytes_ = 0;
  start_ = std::chrono::steady_clock::now();
  if (mode_ == OutputMode::Json && out_ && status_every_.count() > 0) {
    ticking_ = true;
    ticker_ = std::thread([this] { tick_until_finished(); });
  }
}

void ProgressPrinter::tick_until_finished() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, status_every_, [this] { return !ticking_; })) print_status();
}

void ProgressPrinter::stop_ticking() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ticking_ = false;
  }
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void ProgressPrinter::print_status() {
  const double el = elapsed_seconds();
  nlohmann::json j = {{"event", "status"},
                      {"verb", verb_},
                      {"done", done_},
                      {"total", total_},
                      {"bytes", bytes_},
                      {"seconds", el},
                      {"percent_done", total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 0.0}};
  print_json_line(out_, j);
  std::fflush(out_);
}

double ProgressPrinter::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressPrinter::draw_live_line() {
  double el = elapsed_seconds();
  double rate = el > 0 ? static_cast<double>(bytes_) / el : 0;
  std::string eta = "?";
  if (done_ > 0 && done_ < total_) eta = human_duration(el / static_cast<double>(done_) * static_cast<double>(total_ - done_));
  if (done_ == total_) eta = "0s";
  std::fprintf(out_, "\r\033[K%s: %zu/%zu repositories, %s, %s/s, ETA %s", verb_.c_str(), done_, total_,
               human_bytes(bytes_).c_str(), human_bytes(static_cast<std::uint64_t>(rate)).c_str(), eta.c_str());
  std::fflush(out_);
}

void ProgressPrinter::item_done(const ItemDone& item) {
  std::lock_guard<std::mutex> lock(mu_);
  ++done_;
  bytes_ += item.bytes;
  if (!out_) return;
  const bool failed = item.status == ItemStatus::Failed;
  if (mode_ == OutputMode::Json) {
    nlohmann::json j = {{"event", verb_},          {"storage_name", item.storage}, {"relative_path", item.relative_path},
                        {"status", to_string(item.status)}, {"bytes", item.bytes}, {"duration_seconds", item.seconds},
                        {"done", done_},            {"total", total_}};
    if (!item.detail.empty()) j[failed ? "error" : "detail"] = item.detail;
    print_json_line(out_, j);
  } else if (tty_) {
    if (failed)
      std::fprintf(out_, "\r\033[KFAILED %s %s: %s\n", printable(item.storage).c_str(),
                   printable(item.relative_path).c_str(), printable(item.detail).c_str());
    draw_live_line();
  } else {
    std::fprintf(out_, "%s [%zu/%zu] %-7s %s %s %s %s%s%s\n", verb_.c_str(), done_, total_, to_string(item.status),
                 printable(item.storage).c_str(), printable(item.relative_path).c_str(), human_bytes(item.bytes).c_str(),
                 human_duration(item.seconds).c_str(), item.detail.empty() ? "" : " ", printable(item.detail).c_str());
  }
  std::fflush(out_);
}

void ProgressPrinter::finished() {
  stop_ticking();
  std::lock_guard<std::mutex> lock(mu_);
  if (tty_ && total_ > 0) {
    draw_live_line();
    std::fprintf(out_, "\n");
    std::fflush(out_);
  }
}

void ProgressPrinter::print_line(const char* prefix, const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!out_) return;
  std::fprintf(out_, "%s%s%s\n", tty_ && done_ > 0 && done_ < total_ ? "\r\033[K" : "", prefix, printable(text).c_str());
  std::fflush(out_);
}

void ProgressPrinter::note(const std::string& text) { print_line("note: ", text); }
void ProgressPrinter::warning(const std::string& text) { print_line("warning: ", text); }
void ProgressPrinter::worker_text(const std::string& text) { print_line("gitaly-backup: ", text); }

}  // namespace gitvault
