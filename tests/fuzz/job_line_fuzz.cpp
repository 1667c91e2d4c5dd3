// Both directions of the worker protocol: any stdin line is a job or an Error saying why not,
// any stdout line is an answer or an Error saying why not; each survives a round trip.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gitaly/protocol.h"
#include "base/error.h"

namespace {

void job_round_trip(const std::string& line) {
  gitvault::WorkerJob job;
  try {
    job = gitvault::parse_job_line(line, 1);
  } catch (const gitvault::Error&) {
    return;
  }
  gitvault::WorkerJob again = gitvault::parse_job_line(gitvault::format_job_line(job), 1);
  if (again.storage != job.storage || again.relative_path != job.relative_path ||
      again.project_path != job.project_path || again.always_create != job.always_create)
    std::abort();
}

void answer_round_trip(const std::string& line) {
  gitvault::WorkerAnswer a;
  try {
    a = gitvault::parse_worker_answer(line);
  } catch (const gitvault::Error&) {
    return;
  }
  // What format writes, parse reads back as the same answer (fields a kind does not carry
  // are not written: compare the formatted lines).
  const std::string once = gitvault::format_worker_answer(a);
  const std::string twice = gitvault::format_worker_answer(gitvault::parse_worker_answer(once));
  if (once != twice) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string line(reinterpret_cast<const char*>(data), size);
  job_round_trip(line);
  answer_round_trip(line);
  return 0;
}
