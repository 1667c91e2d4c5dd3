#include "gitaly/protocol.h"

#include "base/encoding.h"
#include "base/error.h"

using nlohmann::json;

namespace gitvault {

std::string format_job_line(const WorkerJob& job) {
  json line = {{"storage_name", job.storage}, {"relative_path", job.relative_path},
               {"gl_project_path", job.project_path}};
  if (job.always_create) line["always_create"] = true;
  return to_json_text(line);
}

WorkerJob parse_job_line(std::string_view line, std::size_t line_no) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::Usage, "stdin line " + std::to_string(line_no) + ": " + why);
  };
  if (line.size() > kMaxJobLineBytes)
    throw bad("line too long (" + std::to_string(line.size()) + " bytes; a job line has at most " +
              std::to_string(kMaxJobLineBytes) + ")");
  json j;
  try {
    j = parse_json_text(line);
  } catch (const std::exception& e) {
    throw bad(std::string("not a JSON object: ") + e.what());
  }
  if (!j.is_object()) throw bad("not a JSON object");
  WorkerJob job;
  auto str = [&](const char* key, bool required) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (required) throw bad(std::string("missing \"") + key + "\"");
      return std::string();
    }
    if (!it->is_string()) throw bad(std::string("\"") + key + "\" must be a string");
    std::string value = it->get<std::string>();
    if (value.find('\0') != std::string::npos) throw bad(std::string("\"") + key + "\" holds a NUL byte");
    return value;
  };
  job.storage = str("storage_name", true);
  job.relative_path = str("relative_path", true);
  job.project_path = str("gl_project_path", false);
  if (auto it = j.find("always_create"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) throw bad("\"always_create\" must be true or false");
    job.always_create = it->get<bool>();
  }
  if (job.storage.empty()) throw bad("empty \"storage_name\"");
  if (job.relative_path.empty()) throw bad("empty \"relative_path\"");
  return job;
}

json job_log_fields(const std::string& command, const WorkerJob& job) {
  return {{"command", command}, {"storage_name", job.storage}, {"relative_path", job.relative_path},
          {"gl_project_path", job.project_path}};
}

std::string job_key(const std::string& storage, const std::string& relative_path) {
  return storage + "\n" + relative_path;
}

std::string job_key(const json& line) {
  auto s = line.find("storage_name"), r = line.find("relative_path");
  if (s == line.end() || r == line.end() || !s->is_string() || !r->is_string()) return "";
  return job_key(s->get<std::string>(), r->get<std::string>());
}

}  // namespace gitvault
