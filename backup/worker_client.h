// Driving the gitaly-backup worker from gitvault: spawn it (Boost.Process), stream one JSON
// job per repository into its stdin while its JSON log lines are parsed as they arrive.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gitaly/process.h"

namespace gitvault {

struct WorkerJob {
  std::string storage;
  std::string relative_path;
  std::string project_path;
  bool always_create = false;
};

// Runs `program args...`, writes the jobs, calls on_line for every JSON log line (lines
// that are not JSON go to on_text). Returns how the worker ended.
ProcessResult run_worker(const std::string& program, const std::vector<std::string>& args,
                         const std::vector<WorkerJob>& jobs, const std::function<void(const nlohmann::json&)>& on_line,
                         const std::function<void(const std::string&)>& on_text);

// $GITVAULT_WORKER, else gitaly-backup next to the running executable, else from PATH.
std::string default_worker_program();

}  // namespace gitvault
