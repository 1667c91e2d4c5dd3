// The protocol between gitvault and the gitaly-backup worker, both ends in one place.
//
// gitvault writes one job per line on the worker's stdin:
//   {"storage_name":"default","relative_path":"group/p.git","gl_project_path":"group/p","always_create":false}
// and the worker writes one JSON log line per event on stdout, each naming the job's
// storage_name and relative_path; a finished create carries the repository's record entry
// under "repository"; the last line is {"msg":"finished",...}. Names that are not UTF-8
// travel as base/encoding.h says ("relative_path_raw"). Every stdin line gets an answer:
// a line that is not a valid job gets {"level":"error","msg":"invalid job","line":N,...}.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gitvault {

struct WorkerJob {
  std::string storage;
  std::string relative_path;
  std::string project_path;
  bool always_create = false;
};

// Longest stdin line the worker reads as a job (a repository's names are far shorter).
constexpr std::size_t kMaxJobLineBytes = 64 * 1024;

// One job as a stdin line (without the newline).
std::string format_job_line(const WorkerJob& job);
// Parses one stdin line; throws Error(Usage) saying "stdin line N: <what is wrong>" for
// anything but a valid job. Never throws anything else.
WorkerJob parse_job_line(std::string_view line, std::size_t line_no);

// The fields every log line about a job carries.
nlohmann::json job_log_fields(const std::string& command, const WorkerJob& job);
// "<storage>\n<relative path>" of a log line (or of a job): the key gitvault matches
// answers to its jobs by. Empty when the line names no job.
std::string job_key(const nlohmann::json& log_line);
std::string job_key(const std::string& storage, const std::string& relative_path);

}  // namespace gitvault
