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

namespace {

using Kind = WorkerAnswer::Kind;

std::string msg_of(const WorkerAnswer& a) {
  switch (a.kind) {
    case Kind::Started: return "started " + a.command;
    case Kind::Completed: return "completed " + a.command;
    case Kind::Skipped: return "skipped " + a.command;
    case Kind::NotAttempted: return a.command + " not attempted";
    case Kind::Failed: return a.command + " failed";
    case Kind::InvalidJob: return "invalid job";
    case Kind::Finished: return "finished";
    case Kind::Other: return a.other_msg;
  }
  return a.other_msg;
}

Kind kind_of(const std::string& msg, const std::string& command) {
  for (Kind k : {Kind::Started, Kind::Completed, Kind::Skipped, Kind::NotAttempted, Kind::Failed, Kind::InvalidJob,
                 Kind::Finished}) {
    WorkerAnswer probe;
    probe.kind = k;
    probe.command = command;
    if (msg_of(probe) == msg) return k;
  }
  return Kind::Other;
}

}  // namespace

std::string format_worker_answer(const WorkerAnswer& a) {
  json l = json::object();
  l["command"] = a.command;
  if (a.names_job) {
    l["storage_name"] = a.job.storage;
    l["relative_path"] = a.job.relative_path;
    l["gl_project_path"] = a.job.project_path;
  }
  l["level"] = a.level;
  l["msg"] = msg_of(a);
  if (!a.time.empty()) l["time"] = a.time;
  if (!a.error.empty()) l["error"] = a.error;
  if (a.kind == Kind::InvalidJob) l["line"] = a.line;
  if (a.kind == Kind::Finished) {
    l["failures"] = a.failures;
    l["peak_rss_kib"] = a.peak_rss_kib;
  }
  if (a.names_job && a.kind != Kind::Started) {
    l["duration_seconds"] = a.duration_seconds;
    l["bytes"] = a.bytes;
  }
  if (!a.repository.is_null()) l["repository"] = a.repository;
  if (!a.linked_pool.empty()) l["linked_pool"] = a.linked_pool;
  if (a.pool_pulled_in) l["pool_pulled_in"] = true;
  return to_json_text(l);
}

WorkerAnswer parse_worker_answer(std::string_view text) {
  auto bad = [](const std::string& why) { return Error(ErrorCode::Corrupt, "worker answer: " + why); };
  json j;
  try {
    j = parse_json_text(text);
  } catch (const std::exception& e) {
    throw bad(std::string("not JSON: ") + e.what());
  }
  if (!j.is_object()) throw bad("not a JSON object");
  auto str = [&](const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::string();
    if (!it->is_string()) throw bad(std::string("\"") + key + "\" must be a string");
    return it->get<std::string>();
  };
  WorkerAnswer a;
  a.command = str("command");
  a.level = str("level");
  a.time = str("time");
  a.error = str("error");
  const std::string msg = str("msg");
  if (msg.empty()) throw bad("no \"msg\"");
  a.kind = kind_of(msg, a.command);
  if (a.kind == Kind::Other) a.other_msg = msg;
  a.names_job = j.contains("storage_name") && j.contains("relative_path");
  if (a.names_job) {
    a.job.storage = str("storage_name");
    a.job.relative_path = str("relative_path");
    a.job.project_path = str("gl_project_path");
  }
  try {
    if (auto it = j.find("duration_seconds"); it != j.end()) {
      if (!it->is_number()) throw bad("\"duration_seconds\" must be a number");
      a.duration_seconds = it->get<double>();
    }
    a.bytes = json_integer_or<std::uint64_t>(j, "bytes", 0);
    a.line = json_integer_or<std::size_t>(j, "line", 0);
    a.failures = json_integer_or<std::size_t>(j, "failures", 0);
    a.peak_rss_kib = json_integer_or<std::int64_t>(j, "peak_rss_kib", 0);
  } catch (const Error& e) {
    throw bad(e.what());
  }
  if (auto it = j.find("repository"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw bad("\"repository\" must be an object");
    a.repository = std::move(*it);
  }
  a.linked_pool = str("linked_pool");
  if (auto it = j.find("pool_pulled_in"); it != j.end()) {
    if (!it->is_boolean()) throw bad("\"pool_pulled_in\" must be true or false");
    a.pool_pulled_in = it->get<bool>();
  }
  return a;
}

std::string job_key(const std::string& storage, const std::string& relative_path) {
  return storage + "\n" + relative_path;
}


}  // namespace gitvault
