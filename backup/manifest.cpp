#include "backup/manifest.h"

#include <sstream>
#include <toml++/toml.h>

#include "backup/layout.h"
#include "gitaly/error.h"

namespace gitvault {

std::string format_manifest(const RepositoryRecord& r) {
  toml::table step;
  auto add = [&](const char* prefix, const char* path_key, const std::optional<FileDigest>& d) {
    if (!d) return;
    step.insert(path_key, d->name);
    step.insert(std::string(prefix) + "_sha256", d->sha256);
    step.insert(std::string(prefix) + "_size", static_cast<int64_t>(d->size));
  };
  add("bundle", "bundle_path", r.bundle);
  add("ref", "ref_path", r.refs);
  add("custom_hooks", "custom_hooks_path", r.custom_hooks);
  toml::table t;
  t.insert("object_format", "sha1");
  t.insert("head_reference", r.head_target);
  t.insert("head_oid", r.head_oid);
  t.insert("empty", r.status == "empty");
  t.insert("non_existent", false);
  t.insert("project_path", r.project_path);
  t.insert("ref_count", static_cast<int64_t>(r.ref_count));
  toml::array steps;
  steps.push_back(std::move(step));
  t.insert("steps", std::move(steps));
  std::ostringstream out;
  out << t << "\n";
  return out.str();
}

void parse_manifest(const std::string& text, const std::string& name, RepositoryRecord& out) {
  toml::table t;
  try {
    t = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    throw Error(ErrorCode::Corrupt, name + ": unreadable manifest: " + std::string(e.description()));
  }
  if (t["object_format"].value_or(std::string("sha1")) != "sha1")
    throw Error(ErrorCode::Corrupt, name + ": unsupported object format");
  out.head_target = t["head_reference"].value_or(std::string());
  out.head_oid = t["head_oid"].value_or(std::string());
  out.project_path = t["project_path"].value_or(out.project_path);
  out.ref_count = static_cast<std::size_t>(t["ref_count"].value_or(int64_t{0}));
  bool empty = t["empty"].value_or(false);
  auto* steps = t["steps"].as_array();
  if (!steps || steps->empty() || !steps->back().is_table()) throw Error(ErrorCode::Corrupt, name + ": manifest has no steps");
  if (steps->size() > 1) throw Error(ErrorCode::Corrupt, name + ": incremental steps are not supported yet");
  auto& step = *steps->back().as_table();
  auto digest = [&](const char* path_key, const std::string& prefix) -> std::optional<FileDigest> {
    auto path = step[path_key].value<std::string>();
    if (!path) return std::nullopt;
    auto sha = step[prefix + "_sha256"].value<std::string>();
    auto size = step[prefix + "_size"].value<int64_t>();
    if (!sha || !size) throw Error(ErrorCode::Corrupt, name + ": " + path_key + " has no recorded SHA-256 and size");
    return FileDigest{*path, *sha, static_cast<std::uint64_t>(*size)};
  };
  out.bundle = digest("bundle_path", "bundle");
  out.refs = digest("ref_path", "ref");
  out.custom_hooks = digest("custom_hooks_path", "custom_hooks");
  out.layout = "manifest";
  out.status = empty ? "empty" : "ok";
  if (!empty && !out.bundle) throw Error(ErrorCode::Corrupt, name + ": not empty but no bundle");
}

void write_manifests(Sink& sink, const std::string& id, const RepositoryRecord& repo) {
  std::string text = format_manifest(repo);
  write_whole(sink, manifest_name(id, repo.storage, repo.relative_path), text);
  write_whole(sink, latest_manifest_name(repo.storage, repo.relative_path), text);
}

}  // namespace gitvault
