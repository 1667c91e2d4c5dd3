#include "backup/manifest.h"

#include <sstream>
#include <toml++/toml.h>

#include "backup/layout.h"
#include "base/encoding.h"
#include "base/error.h"

namespace gitvault {

namespace {

// TOML strings must be UTF-8: a name that is not is written lossy under `key` and exactly,
// in base64, under `key`_raw (the rule of base/encoding.h).
void insert_name(toml::table& t, const std::string& key, const std::string& bytes) {
  if (is_valid_utf8(bytes)) {
    t.insert(key, bytes);
  } else {
    t.insert(key, lossy_utf8(bytes));
    t.insert(key + "_raw", base64_encode(bytes));
  }
}

std::optional<std::string> name_value(const toml::table& t, const std::string& key) {
  if (auto raw = t[key + "_raw"].value<std::string>()) return base64_decode(*raw);
  return t[key].value<std::string>();
}

void add_digest(toml::table& step, const char* prefix, const char* path_key, const std::optional<FileDigest>& d) {
  if (!d) return;
  insert_name(step, path_key, d->name);
  step.insert(std::string(prefix) + "_sha256", d->sha256);
  step.insert(std::string(prefix) + "_size", static_cast<int64_t>(d->size));
}

}  // namespace

std::string format_manifest(const RepositoryRecord& r) {
  toml::array steps;
  const FileDigest* previous_refs = nullptr;
  for (const auto& p : r.previous_steps) {
    toml::table step;
    step.insert("backup_id", p.backup_id);
    step.insert("number", static_cast<int64_t>(p.number));
    add_digest(step, "bundle", "bundle_path", p.bundle);
    add_digest(step, "ref", "ref_path", p.refs);
    if (previous_refs) insert_name(step, "previous_ref_path", previous_refs->name);
    previous_refs = &p.refs;
    steps.push_back(std::move(step));
  }
  toml::table step;
  step.insert("number", static_cast<int64_t>(r.step));
  step.insert("kind", to_string(r.kind));
  add_digest(step, "bundle", "bundle_path", r.bundle);
  add_digest(step, "ref", "ref_path", r.refs);
  if (previous_refs) insert_name(step, "previous_ref_path", previous_refs->name);
  add_digest(step, "custom_hooks", "custom_hooks_path", r.custom_hooks);
  steps.push_back(std::move(step));
  toml::table t;
  t.insert("object_format", "sha1");
  insert_name(t, "head_reference", r.head_target);
  t.insert("head_oid", r.head_oid);
  t.insert("empty", r.status == ItemStatus::Empty);
  t.insert("non_existent", false);
  insert_name(t, "project_path", r.project_path);
  t.insert("ref_count", static_cast<int64_t>(r.ref_count));
  t.insert("steps", std::move(steps));
  std::ostringstream out;
  out << t << "\n";
  return out.str();
}

namespace {
void parse_manifest_text(const std::string& text, const std::string& name, RepositoryRecord& out);
}  // namespace

void parse_manifest(const std::string& text, const std::string& name, RepositoryRecord& out) {
  try {
    parse_manifest_text(text, name, out);
  } catch (const Error& e) {
    if (std::string_view(e.what()).substr(0, name.size()) == name) throw;
    throw Error(ErrorCode::Corrupt, name + ": " + e.what());
  }
}

namespace {
void parse_manifest_text(const std::string& text, const std::string& name, RepositoryRecord& out) {
  toml::table t;
  try {
    t = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    throw Error(ErrorCode::Corrupt, name + ": unreadable manifest: " + std::string(e.description()));
  }
  if (t["object_format"].value_or(std::string("sha1")) != "sha1")
    throw Error(ErrorCode::Corrupt, name + ": unsupported object format");
  out.head_target = name_value(t, "head_reference").value_or(std::string());
  out.head_oid = t["head_oid"].value_or(std::string());
  out.project_path = name_value(t, "project_path").value_or(out.project_path);
  out.ref_count = static_cast<std::size_t>(t["ref_count"].value_or(int64_t{0}));
  bool empty = t["empty"].value_or(false);
  auto* steps = t["steps"].as_array();
  if (!steps || steps->empty()) throw Error(ErrorCode::Corrupt, name + ": manifest has no steps");
  out.previous_steps.clear();
  for (std::size_t i = 0; i < steps->size(); ++i) {
    auto* step = (*steps)[i].as_table();
    std::string where = name + ": step " + std::to_string(i + 1);
    if (!step) throw Error(ErrorCode::Corrupt, where + " is not a table");
    auto digest = [&](const char* path_key, const std::string& prefix) -> std::optional<FileDigest> {
      auto path = name_value(*step, path_key);
      if (!path) return std::nullopt;
      auto sha = (*step)[prefix + "_sha256"].value<std::string>();
      auto size = (*step)[prefix + "_size"].value<int64_t>();
      if (!sha || !size) throw Error(ErrorCode::Corrupt, where + ": " + path_key + " has no recorded SHA-256 and size");
      return FileDigest{*path, *sha, static_cast<std::uint64_t>(*size)};
    };
    int number = static_cast<int>((*step)["number"].value_or(int64_t(i + 1)));
    if (number != static_cast<int>(i + 1))
      throw Error(ErrorCode::Corrupt, where + " is numbered " + std::to_string(number) + " (steps must be 1, 2, 3, ...)");
    auto bundle = digest("bundle_path", "bundle");
    auto refs = digest("ref_path", "ref");
    if (i + 1 < steps->size()) {
      if (!refs) throw Error(ErrorCode::Corrupt, where + " has no ref_path");
      out.previous_steps.push_back({(*step)["backup_id"].value_or(std::string()), number, bundle, *refs});
    } else {
      out.step = number;
      std::string kind = (*step)["kind"].value_or(std::string(i == 0 ? "full" : "incremental"));
      auto known = step_kind_named(kind);
      if (!known) throw Error(ErrorCode::Corrupt, where + ": unknown kind '" + kind + "'");
      out.kind = *known;
      out.bundle = bundle;
      out.refs = refs;
      out.custom_hooks = digest("custom_hooks_path", "custom_hooks");
    }
  }
  out.layout = Layout::Manifest;
  out.status = empty ? ItemStatus::Empty : ItemStatus::Ok;
  if (!empty && out.kind == StepKind::Full && !out.bundle) throw Error(ErrorCode::Corrupt, name + ": not empty but no bundle");
  if (!out.refs) throw Error(ErrorCode::Corrupt, name + ": last step has no ref_path");
}
}  // namespace

void write_manifests(Sink& sink, const std::string& id, const RepositoryRecord& repo) {
  std::string text = format_manifest(repo);
  write_whole(sink, manifest_name(id, repo.storage, repo.relative_path), text);
  write_whole(sink, latest_manifest_name(repo.storage, repo.relative_path), text);
}

}  // namespace gitvault
