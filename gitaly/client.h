// Driving the gitaly-backup worker from gitvault: spawn it (Boost.Process), stream one JSON
// job per repository into its stdin while its JSON log lines are parsed as they arrive.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gitaly/protocol.h"
#include "base/process.h"

namespace gitvault {

// Jobs handed to a running worker as they become known. Thread-safe; push never blocks.
class WorkerJobQueue {
 public:
  void push(WorkerJob job);
  // No more jobs: the worker's standard input is closed once the queue is drained.
  void close();
  // Blocks until there is a job (true) or the queue is closed and empty (false).
  bool next(WorkerJob& out);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WorkerJob> jobs_;  // guarded by mu_
  bool closed_ = false;         // guarded by mu_
};

// Runs `program args...`, writes the jobs as the queue yields them, calls on_line for every
// JSON log line (lines that are not JSON go to on_text). Returns how the worker ended, which
// is never before the queue is closed (or the worker dies).
// `env` is added to the worker's environment.
ProcessResult run_worker(const std::string& program, const std::vector<std::string>& args, WorkerJobQueue& jobs,
                         const std::function<void(const WorkerAnswer&)>& on_line,
                         const std::function<void(const std::string&)>& on_text,
                         const std::vector<std::pair<std::string, std::string>>& env = {});
// The same with every job known up front.
ProcessResult run_worker(const std::string& program, const std::vector<std::string>& args,
                         const std::vector<WorkerJob>& jobs, const std::function<void(const WorkerAnswer&)>& on_line,
                         const std::function<void(const std::string&)>& on_text);

// $GITVAULT_WORKER, else gitaly-backup next to the running executable, else from PATH.
std::string default_worker_program();

}  // namespace gitvault
