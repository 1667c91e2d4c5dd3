#include "backup/record.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "gitaly/error.h"

using nlohmann::json;

namespace gitvault {
namespace {

json digest_json(const std::optional<FileDigest>& d) {
  if (!d) return nullptr;
  return json{{"name", d->name}, {"sha256", d->sha256}, {"size", d->size}};
}

std::optional<FileDigest> digest_from(const json& j) {
  if (j.is_null()) return std::nullopt;
  return FileDigest{j.at("name").get<std::string>(), j.at("sha256").get<std::string>(), j.at("size").get<std::uint64_t>()};
}

std::string format_time(const char* fmt) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

}  // namespace

std::size_t BackupRecord::count(const std::string& repo_status) const {
  return static_cast<std::size_t>(std::count_if(repositories.begin(), repositories.end(),
                                                [&](const RepositoryRecord& r) { return r.status == repo_status; }));
}

std::uint64_t BackupRecord::total_bytes() const {
  std::uint64_t b = 0;
  for (const auto& r : repositories) b += r.bytes;
  return b;
}

std::string record_name(const std::string& id) { return "+gitvault/backups/" + id + ".json"; }

json repository_to_json(const RepositoryRecord& x) {
  return {{"storage", x.storage}, {"relative_path", x.relative_path}, {"project_path", x.project_path},
          {"engine", x.engine}, {"layout", x.layout}, {"reason", x.reason}, {"status", x.status},
          {"error", x.error}, {"head_target", x.head_target}, {"head_oid", x.head_oid},
          {"ref_count", x.ref_count}, {"bundle", digest_json(x.bundle)}, {"refs", digest_json(x.refs)},
          {"custom_hooks", digest_json(x.custom_hooks)}, {"bytes", x.bytes}, {"seconds", x.seconds},
          {"warnings", x.warnings}};
}

RepositoryRecord repository_from_json(const json& x) {
  RepositoryRecord rr;
  rr.storage = x.at("storage").get<std::string>();
  rr.relative_path = x.at("relative_path").get<std::string>();
  rr.project_path = x.value("project_path", "");
  rr.engine = x.value("engine", "");
  rr.layout = x.value("layout", "");
  rr.reason = x.value("reason", "");
  rr.status = x.at("status").get<std::string>();
  rr.error = x.value("error", "");
  rr.head_target = x.value("head_target", "");
  rr.head_oid = x.value("head_oid", "");
  rr.ref_count = x.value("ref_count", std::size_t{0});
  rr.bundle = digest_from(x.value("bundle", json()));
  rr.refs = digest_from(x.value("refs", json()));
  rr.custom_hooks = digest_from(x.value("custom_hooks", json()));
  rr.bytes = x.value("bytes", std::uint64_t{0});
  rr.seconds = x.value("seconds", 0.0);
  rr.warnings = x.value("warnings", std::vector<std::string>{});
  return rr;
}

void write_record(Sink& sink, const BackupRecord& r) {
  json repos = json::array();
  for (const auto& x : r.repositories) repos.push_back(repository_to_json(x));
  json j = {{"format", r.format}, {"id", r.id}, {"status", r.status}, {"started_at", r.started_at},
            {"finished_at", r.finished_at}, {"host", r.host}, {"gitvault_version", r.gitvault_version},
            {"storages", r.storages}, {"repositories", repos}};
  write_whole(sink, record_name(r.id), j.dump(1) + "\n");
}

BackupRecord read_record(Sink& sink, const std::string& id) {
  std::string name = record_name(id);
  if (!valid_backup_id(id) || !sink.exists(name))
    throw Error(ErrorCode::NotFound, "no backup with id '" + id + "' in " + sink.describe(""));
  auto reader = sink.open(name);
  std::string text;
  char buf[65536];
  while (std::size_t n = reader->read(buf, sizeof buf)) text.append(buf, n);
  try {
    json j = json::parse(text);
    BackupRecord r;
    r.format = j.at("format").get<int>();
    if (r.format != 1) throw Error(ErrorCode::Corrupt, sink.describe(name) + ": unsupported record format " + std::to_string(r.format));
    r.id = j.at("id").get<std::string>();
    r.status = j.at("status").get<std::string>();
    r.started_at = j.value("started_at", "");
    r.finished_at = j.value("finished_at", "");
    r.host = j.value("host", "");
    r.gitvault_version = j.value("gitvault_version", "");
    r.storages = j.value("storages", std::vector<std::string>{});
    for (const auto& x : j.at("repositories")) r.repositories.push_back(repository_from_json(x));
    return r;
  } catch (const json::exception& e) {
    throw Error(ErrorCode::Corrupt, sink.describe(name) + ": unreadable backup record: " + e.what());
  }
}

std::vector<std::string> list_backup_ids(Sink& sink) {
  std::vector<std::string> ids;
  for (const auto& n : sink.list("+gitvault/backups")) {
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0) {
      std::string id = n.substr(0, n.size() - 5);
      if (valid_backup_id(id)) ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::optional<std::string> newest_complete_backup(Sink& sink) {
  // Newest by start time (ids chosen with --id need not sort by time).
  std::optional<std::string> best;
  std::string best_started;
  for (const auto& id : list_backup_ids(sink)) {
    try {
      BackupRecord r = read_record(sink, id);
      if (r.status == "complete" && (!best || r.started_at >= best_started)) {
        best = id;
        best_started = r.started_at;
      }
    } catch (const Error&) {
      // an unreadable record is not a candidate; verify reports it
    }
  }
  return best;
}

bool valid_backup_id(const std::string& id) {
  if (id.empty() || id.size() > 64 || id[0] == '.' || id[0] == '-') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

std::string default_backup_id() { return format_time("%Y%m%d%H%M%S"); }
std::string utc_now_rfc3339() { return format_time("%Y-%m-%dT%H:%M:%SZ"); }

}  // namespace gitvault
