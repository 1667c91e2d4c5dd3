#include "gitaly/client.h"
#include "base/encoding.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace gitvault {

void WorkerJobQueue::push(WorkerJob job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void WorkerJobQueue::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool WorkerJobQueue::next(WorkerJob& out) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
  if (jobs_.empty()) return false;
  out = std::move(jobs_.front());
  jobs_.pop_front();
  return true;
}

ProcessResult run_worker(const std::string& program, const std::vector<std::string>& args,
                         const std::vector<WorkerJob>& jobs, const std::function<void(const WorkerAnswer&)>& on_line,
                         const std::function<void(const std::string&)>& on_text) {
  WorkerJobQueue queue;
  for (const auto& j : jobs) queue.push(j);
  queue.close();
  return run_worker(program, args, queue, on_line, on_text);
}

ProcessResult run_worker(const std::string& program, const std::vector<std::string>& args, WorkerJobQueue& jobs,
                         const std::function<void(const WorkerAnswer&)>& on_line,
                         const std::function<void(const std::string&)>& on_text,
                         const std::vector<std::pair<std::string, std::string>>& env) {
  ProcessSpec spec;
  spec.program = program;
  spec.args = args;
  spec.env_set = env;
  spec.stdin_producer = [&](PipeWriter& in) {
    WorkerJob j;
    while (jobs.next(j)) {
      std::string text = format_job_line(j) + "\n";
      if (!in.write(text.data(), text.size())) return;  // the worker is gone; its exit says why
    }
  };
  std::string pending;
  auto handle = [&](const std::string& line) {
    if (line.empty()) return;
    WorkerAnswer answer;
    try {
      answer = parse_worker_answer(line);
    } catch (const Error&) {
      on_text(line);  // not an answer: shown as the worker's own words
      return;
    }
    on_line(answer);
  };
  spec.stdout_consumer = [&](const char* data, std::size_t size) {
    pending.append(data, size);
    std::size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      handle(pending.substr(start, nl - start));
      start = nl + 1;
    }
    pending.erase(0, start);
  };
  ProcessResult r = run_process(spec);
  handle(pending);
  return r;
}

std::string default_worker_program() {
  if (const char* w = std::getenv("GITVAULT_WORKER"); w && *w) return w;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto candidate = self.parent_path() / "gitaly-backup";
    if (std::filesystem::exists(candidate)) return candidate.string();
  }
  return "gitaly-backup";
}

}  // namespace gitvault
