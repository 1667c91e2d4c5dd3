// The protocol between gitvault and the gitaly-backup worker, both ends in one place.
//
// gitvault writes one job per line on the worker's stdin:
//   {"storage_name":"default","relative_path":"group/p.git","gl_project_path":"group/p","always_create":false}
// and the worker writes one JSON log line per event on stdout (WorkerAnswer), each naming the
// job's storage_name and relative_path; a finished create carries the repository's record
// entry under "repository"; the last line is {"msg":"finished",...}. Names that are not UTF-8
// travel as base/encoding.h says ("relative_path_raw"). Every stdin line gets an answer:
// a line that is not a valid job gets {"level":"error","msg":"invalid job","line":N,...}.
// Both line types have one format and one parse function here, fuzzed with a round trip
// (tests/fuzz/job_line_fuzz.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
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

// One line the worker writes on stdout: an event of a job (its "msg" is gitaly-backup's:
// "started create", "completed restore", "create failed", …), an invalid stdin line, or the
// run's end. The worker writes every line with format_worker_answer and gitvault reads
// every line with parse_worker_answer; nothing else builds or reads them.
struct WorkerAnswer {
  enum class Kind { Started, Completed, Skipped, NotAttempted, Failed, InvalidJob, Finished, Other };
  Kind kind = Kind::Other;
  std::string command;  // "create" or "restore"
  std::string level;    // "info", "warn", "error"
  std::string time;     // RFC 3339; the worker sets it when it writes the line
  bool names_job = false;  // storage_name and relative_path present: `job` is the job's
  WorkerJob job;           // always_create is not sent back
  std::string error;
  double duration_seconds = 0;
  std::uint64_t bytes = 0;
  nlohmann::json repository;  // create: the repository's record entry (backup/record.h); null if none
  std::string linked_pool;    // restore: the pool a fork was linked to
  bool pool_pulled_in = false;
  std::size_t line = 0;       // invalid job: the stdin line it answers
  std::size_t failures = 0;   // finished
  std::int64_t peak_rss_kib = 0;  // finished
  std::string other_msg;      // Kind::Other: the "msg" as it was
};
// The answer as one JSON line (without the newline).
std::string format_worker_answer(const WorkerAnswer& answer);
// Error(Corrupt) saying what is wrong for a line that is not a worker answer (not a JSON
// object, no "msg", a field of the wrong type). Never throws anything else.
WorkerAnswer parse_worker_answer(std::string_view line);

// "<storage>\n<relative path>": the key gitvault matches answers to its jobs by.
std::string job_key(const std::string& storage, const std::string& relative_path);

}  // namespace gitvault
