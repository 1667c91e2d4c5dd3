// The worker's stdin: any line is a job or an Error saying why not; a job survives a round trip.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gitaly/protocol.h"
#include "base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string line(reinterpret_cast<const char*>(data), size);
  gitvault::WorkerJob job;
  try {
    job = gitvault::parse_job_line(line, 1);
  } catch (const gitvault::Error&) {
    return 0;
  }
  gitvault::WorkerJob again = gitvault::parse_job_line(gitvault::format_job_line(job), 1);
  if (again.storage != job.storage || again.relative_path != job.relative_path ||
      again.project_path != job.project_path || again.always_create != job.always_create)
    std::abort();
  return 0;
}
