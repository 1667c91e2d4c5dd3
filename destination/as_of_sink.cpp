#include "destination/as_of_sink.h"

#include <algorithm>
#include <set>

#include "base/error.h"
#include "base/system.h"

namespace gitvault {

AsOfSink::AsOfSink(std::unique_ptr<S3Sink> current, std::int64_t moment)
    : current_(std::move(current)), moment_(moment) {
  struct Newest {
    std::int64_t time = -1;
    std::string version;
    bool marker = false;
  };
  std::map<std::string, Newest> newest;
  std::set<std::string> newer;
  for (const auto& v : current_->versions()) {
    if (v.last_modified > moment_) {
      newer.insert(v.key);
      continue;
    }
    Newest& n = newest[v.key];
    // The newest at or before the moment; of two in the same second, the one the server
    // lists as latest or, failing that, the first listed (ListObjectVersions lists a key's
    // versions newest first).
    if (v.last_modified > n.time || (v.last_modified == n.time && v.latest)) n = {v.last_modified, v.version_id, v.delete_marker};
  }
  for (const auto& [name, n] : newest)
    if (!n.marker) at_moment_[name] = n.version;
  passed_over_.assign(newer.begin(), newer.end());
}

void AsOfSink::refuse_write(const std::string& name) const {
  throw Error(ErrorCode::Usage, "reading " + current_->describe("") + " as it was at " + format_rfc3339(moment_) +
                                    ": nothing is written there (" + name + ")");
}

std::unique_ptr<SinkWriter> AsOfSink::create(const std::string& name) { refuse_write(name); }

void AsOfSink::remove(const std::string& name) { refuse_write(name); }

const std::string& AsOfSink::version_of(const std::string& name) const {
  auto it = at_moment_.find(name);
  if (it == at_moment_.end())
    throw Error(ErrorCode::NotFound, describe(name) + ": no such object at " + format_rfc3339(moment_));
  return it->second;
}

std::unique_ptr<ByteReader> AsOfSink::open(const std::string& name) {
  return current_->open_version(name, version_of(name));
}

FilePeek AsOfSink::peek(const std::string& name, std::size_t head, std::size_t tail) {
  return current_->peek_version(name, version_of(name), head, tail);
}

std::vector<std::string> AsOfSink::list(const std::string& prefix) { return list_after(prefix, ""); }

std::vector<std::string> AsOfSink::list_after(const std::string& prefix, const std::string& after) {
  const std::string p = prefix.empty() ? "" : prefix + "/";
  std::set<std::string> out;
  for (auto it = at_moment_.lower_bound(p); it != at_moment_.end() && it->first.rfind(p, 0) == 0; ++it) {
    const std::string rest = it->first.substr(p.size());
    const std::string entry = rest.substr(0, rest.find('/'));  // a file, or a directory's name
    if (entry > after) out.insert(entry);
  }
  return {out.begin(), out.end()};
}

std::vector<std::string> AsOfSink::list_recursive(const std::string& prefix) {
  const std::string p = prefix.empty() ? "" : prefix + "/";
  std::vector<std::string> out;
  for (auto it = at_moment_.lower_bound(p); it != at_moment_.end() && it->first.rfind(p, 0) == 0; ++it)
    out.push_back(it->first);
  return out;
}

std::string AsOfSink::describe(const std::string& name) const {
  return current_->describe(name) + " (as of " + format_rfc3339(moment_) + ")";
}

}  // namespace gitvault
